/**
 * udp port: one Ethernet frame per UDP datagram, no header, no FCS — the framing of QEMU
 * `-netdev dgram` (and the legacy `-netdev socket,udp=`).
 *
 *   ports:
 *     - { name: vm1, type: udp, local: 127.0.0.1:20000, remote: 127.0.0.1:20001, mtu: 1500 }
 *
 * local   host:port the port binds (required).
 * remote  host:port frames are sent to. Without it the port learns its peer from the first
 *         datagram it receives (the source address of QEMU's `local`), and drops what it is
 *         asked to send before then (tx_no_peer). Datagrams are accepted from any sender.
 * mtu     largest L3 packet (default 1500): frames up to mtu + 14 bytes (+ 4 with a VLAN tag).
 *
 * Receive: each 'message' is one frame → io.receive(); one io.flush() per burst of events.
 * Transmit: copy into a staging slot, then socket.send (see net/datagram-sender.ts). Node
 * has no sendmmsg, so there is one syscall per frame in both directions.
 * Counted by kind: rx_runt (< 14 bytes), rx_oversize (over the MTU or the frame area),
 * tx_oversize, tx_no_peer, tx_busy (send queue full), tx_errors (the kernel refused a send).
 */
import type dgram from 'node:dgram';
import type { Port, PortConfig, PortIO, PortType } from './port.js';
import type { OptionTypes } from './options.js';
import { parseHostPort, formatHostPort, type HostPort } from './net/address.js';
import { checkMtu, checkMtuFits, overMtu, DEFAULT_MTU, ETH_HLEN, VLAN_HLEN } from './net/mtu.js';
import { DatagramSender, SEND_OK } from './net/datagram-sender.js';
import { BurstFlush } from './net/burst.js';
import { RxDrops } from './net/port-counters.js';
import { bindUdp, createUdpSocket, resolveHost } from './net/udp-socket.js';

const COUNTERS = ['rx_runt', 'rx_oversize', 'tx_oversize', 'tx_no_peer', 'tx_busy', 'tx_errors'] as const;
const OPTIONS: OptionTypes = { local: 'string', remote: 'string', mtu: 'integer' };

function validate(config: PortConfig): string[] {
  const out: string[] = [];
  if (config.local === undefined) out.push('local: missing: the host:port to bind, e.g. 127.0.0.1:20000');
  else {
    try {
      parseHostPort(config.local);
    } catch (e) {
      out.push(`local: ${(e as Error).message}`);
    }
  }
  if (config.remote !== undefined) {
    try {
      const r = parseHostPort(config.remote);
      if (r.port === 0) out.push(`remote: port 0 cannot be sent to`);
    } catch (e) {
      out.push(`remote: ${(e as Error).message}`);
    }
  }
  const m = checkMtu(config.mtu);
  if (m) out.push(m);
  return out;
}

class UdpPort implements Port {
  private io!: PortIO;
  private socket: dgram.Socket | null = null;
  private sender!: DatagramSender;
  private drops!: RxDrops;
  private burst!: BurstFlush;
  private mtu: number;
  private maxLen = 0;
  private peerHost: string | null = null;
  private peerPort = 0;
  private local!: HostPort;
  private readonly remote: HostPort | null;
  private iRunt = 0;
  private iOversize = 0;
  private iTxOversize = 0;
  private iTxNoPeer = 0;
  private iTxBusy = 0;
  private iTxErrors = 0;

  constructor(private readonly config: PortConfig) {
    this.mtu = (config.mtu as number | undefined) ?? DEFAULT_MTU;
    this.remote = config.remote === undefined ? null : parseHostPort(config.remote);
  }

  async open(io: PortIO): Promise<void> {
    this.io = io;
    checkMtuFits(this.mtu, io.maxFrameLength, io.frameSize);
    this.maxLen = Math.min(io.maxFrameLength, this.mtu + ETH_HLEN + VLAN_HLEN);
    this.drops = new RxDrops(io);
    this.iRunt = io.counterIndex('rx_runt');
    this.iOversize = io.counterIndex('rx_oversize');
    this.iTxOversize = io.counterIndex('tx_oversize');
    this.iTxNoPeer = io.counterIndex('tx_no_peer');
    this.iTxBusy = io.counterIndex('tx_busy');
    this.iTxErrors = io.counterIndex('tx_errors');
    this.burst = new BurstFlush(() => io.flush());

    this.local = await resolveHost(parseHostPort(this.config.local));
    if (this.remote) {
      const r = await resolveHost(this.remote);
      this.peerHost = r.host;
      this.peerPort = r.port;
    }
    const socket = createUdpSocket(this.local.family);
    await bindUdp(socket, this.local, "local");
    this.socket = socket;
    this.sender = new DatagramSender(socket, this.maxLen, 256, (e) => {
      io.counters[this.iTxErrors]++;
      if (io.counters[this.iTxErrors] === 1) io.log('warn', `send failed: ${e.message}`);
    });
    socket.on('message', this.onMessage);
    socket.on('error', (e) => io.log('error', `socket error: ${e.message}`));
  }

  private readonly onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.peerHost === null) {
      this.peerHost = rinfo.address;
      this.peerPort = rinfo.port;
      this.io.log('info', `learned peer ${rinfo.address}:${rinfo.port}`);
    }
    const len = msg.length;
    if (len < ETH_HLEN) this.drops.drop(this.iRunt, len);
    else if (len > this.maxLen || overMtu(msg, 0, len, this.mtu)) this.drops.drop(this.iOversize, len);
    else this.io.receive(msg, 0, len);
    this.burst.schedule();
  };

  transmit(area: Uint8Array, offset: number, length: number): boolean {
    if (this.peerHost === null) {
      this.io.counters[this.iTxNoPeer]++;
      return false;
    }
    if (length > this.maxLen || overMtu(area, offset, length, this.mtu)) {
      this.io.counters[this.iTxOversize]++;
      return false;
    }
    if (this.sender.send(null, area, offset, length, this.peerPort, this.peerHost) !== SEND_OK) {
      this.io.counters[this.iTxBusy]++;
      return false;
    }
    return true;
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  status(): Record<string, unknown> {
    return {
      local: this.socket ? formatHostPort({ ...this.local, port: this.socket.address().port }) : String(this.config.local),
      peer: this.peerHost === null ? null : `${this.peerHost}:${this.peerPort}`,
      learned: this.remote === null,
      mtu: this.mtu,
    };
  }
}

const udp: PortType = {
  type: 'udp',
  options: OPTIONS,
  counters: COUNTERS,
  validate,
  create: (config) => new UdpPort(config),
};
export default udp;
