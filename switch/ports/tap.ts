/**
 * tap port: the switch creates a tap interface and is one side of it.
 *
 *   ports:
 *     - { name: tap0, type: tap }                              # the host stack on tap0
 *     - { name: h1, type: tap, ifname: xs-h1, netns: blue, mtu: 9000 }   # a namespace
 *     - { name: vm1, type: tap, ifname: vm1tap, guest: true }  # QEMU -netdev tap,ifname=vm1tap
 *
 * ifname  the tap's name (default: the port's name).
 * mtu     the tap's MTU (default: the kernel's, 1500).
 * netns   a network namespace (ip netns) the tap's interface is moved into, up.
 * guest   true: a VM attaches to the tap (QEMU `-netdev tap,ifname=…,script=no,downscript=no`).
 * offloads true: checksum and TCP segmentation offloads with the kernel (default false).
 *
 * Without `guest`, the switch holds the tap's file descriptor (IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, a 12-byte virtio_net_hdr before each packet) and the kernel's side of the
 * interface faces the host stack or the namespace. Removed at stop (the last descriptor
 * closes).
 *
 * Without offloads (TUNSETOFFLOAD 0) the kernel hands over whole, checksummed packets:
 * receive reads straight into a pool frame, the header landing in the frame's headroom;
 * transmit writes from the frame with a zeroed header in the headroom before it.
 *
 * With `offloads: true` (TUNSETOFFLOAD CSUM | TSO4 | TSO6 | TSO_ECN, and USO4 | USO6 where
 * the kernel has them) the tap's netdev gets checksum offload, TSO and USO, so the host
 * stack sends 64 KB TCP (and UDP_SEGMENT) super-frames and
 * partial checksums, each behind its virtio_net_hdr, as it does to a VM's vhost-net:
 * receive reads each packet into a 64 KB staging buffer and hands it to
 * io.receiveOffload (a super-frame is cut there, or handed on whole to programs that
 * take frags); transmit() takes frames with a header too (offloads()), so GRO builds
 * super-frames for the host stack and partial checksums go out as they are: the kernel
 * finishes both, as it does for what a VM writes to its tap.
 *
 * With `guest`, the file descriptor side belongs to the VM: a tap admits one reader, so
 * the switch makes the tap persistent, lets go of its descriptor for QEMU to open, and
 * attaches to the kernel's side like an afpacket port (a TPACKET_V3 ring). Deleted at stop.
 *
 * Counted: rx_runt, rx_gso (a segmentation offload arrived though none was enabled),
 * tx_oversize, tx_busy (the tap's queue is full), tx_errors.
 */
import { execFileSync } from 'node:child_process';
import type { Port, PortConfig, PortIO, PortType } from './port.js';
import type { OptionTypes } from './options.js';
import * as native from '../../lib/native/index.js';
import { K } from '../../lib/native/index.js';
import { RxDrops } from './net/port-counters.js';
import { checkMtu, checkMtuFits, ETH_HLEN, VLAN_HLEN } from './net/mtu.js';
import { AfPacketPort } from './afpacket.js';
import { FdWatch } from './net/fd-watch.js';
import { readVnetHdr, writeVnetHdr, VnetHdr } from '../../lib/net/vnet-hdr.js';
import { OFFLOAD_CSUM, OFFLOAD_TSO4, OFFLOAD_TSO6, OFFLOAD_TSO_ECN } from '../../queues/frame-vnet.js';

/** struct virtio_net_hdr_v1 without num_buffers' use: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers. */
const VNET_HDR = 12;
const COUNTERS = ['rx_runt', 'rx_gso', 'rx_missed', 'rx_oversize', 'tx_oversize', 'tx_busy', 'tx_carrier_errors', 'tx_errors'] as const;
const OPTIONS: OptionTypes = { ifname: 'string', mtu: 'integer', netns: 'string', guest: 'boolean', offloads: 'boolean' };
/** What an offloading tap takes from the kernel (TUNSETOFFLOAD) and, in turn, from the switch. */
const TUN_OFFLOADS = K.TUN_F_CSUM | K.TUN_F_TSO4 | K.TUN_F_TSO6 | K.TUN_F_TSO_ECN;
/** UDP super-frames too, where the kernel knows them (6.2+); the switch cuts them for every port. */
const TUN_USO = K.TUN_F_USO4 | K.TUN_F_USO6;
const TAKES = OFFLOAD_CSUM | OFFLOAD_TSO4 | OFFLOAD_TSO6 | OFFLOAD_TSO_ECN;
/** The largest packet an offloading tap hands over: a 64 KB IP datagram behind its Ethernet header. */
const SUPER_READ = 65535 + ETH_HLEN + VLAN_HLEN;
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

function validate(config: PortConfig): string[] {
  const out: string[] = [];
  const ifname = config.ifname ?? config.name;
  if (typeof ifname !== 'string' || !IFNAME.test(ifname)) out.push(`ifname: '${String(ifname)}' is not an interface name (1 to 15 letters, digits, '_', '.', '-')${config.ifname === undefined ? '; the port name is used when ifname is not given' : ''}`);
  const m = checkMtu(config.mtu);
  if (m) out.push(m);
  if (config.netns !== undefined && (typeof config.netns !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(config.netns))) out.push(`netns: '${String(config.netns)}' is not a namespace name (ip netns list)`);
  if (config.guest !== undefined && typeof config.guest !== 'boolean') out.push(`guest: ${String(config.guest)} is not true or false`);
  if (config.guest === true && config.netns !== undefined) out.push('netns: a guest tap stays in the switch\'s namespace (start QEMU there)');
  if (config.offloads !== undefined && typeof config.offloads !== 'boolean') out.push(`offloads: ${String(config.offloads)} is not true or false`);
  if (config.guest === true && config.offloads === true) out.push('offloads: a guest tap\'s offloads are the VM\'s to negotiate (QEMU sets them on its descriptor)');
  return out;
}

function ipCommand(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    const x = e as { stderr?: Buffer; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(x.stderr?.toString() || x.message).trim()}`);
  }
}

class TapPort implements Port {
  private io!: PortIO;
  private fd = -1;
  private readonly ifname: string;
  private base = 0;
  private maxLen = 0;
  private spare = -1;
  private readWarned = false;
  /** For a frame whose data starts too close to its beginning to put the header before it. */
  private staging: Uint8Array | null = null;
  private stagingAddress = 0;
  private drops!: RxDrops;
  private guest: AfPacketPort | null = null;
  private watch: FdWatch | null = null;
  private iRunt = 0;
  private iGso = 0;
  private iTxOversize = 0;
  private iTxBusy = 0;
  private iTxErrors = 0;
  /** offloads: true: packets are read here (header + up to 64 KB) and handed to receiveOffload. */
  private offloading = false;
  private rxStage: Uint8Array | null = null;
  private rxStageAddress = 0;
  private readonly rxHdr = new VnetHdr();

  constructor(private readonly config: PortConfig) {
    this.ifname = (config.ifname as string | undefined) ?? config.name;
  }

  async open(io: PortIO): Promise<void> {
    native.requireNative('a tap port');
    this.io = io;
    const mtu = this.config.mtu as number | undefined;
    if (mtu !== undefined) checkMtuFits(mtu, io.maxFrameLength, io.frameSize);
    let tap: { fd: number; name: string };
    try {
      tap = native.openTun(this.ifname, K.IFF_TAP | K.IFF_NO_PI | K.IFF_VNET_HDR);
    } catch (e) {
      const code = (e as native.NativeError).code;
      const hint = code === 'EBUSY' ? ': another process holds it (a QEMU already attached? then use guest: true)' : code === 'EPERM' ? ': the switch needs CAP_NET_ADMIN (run as root)' : '';
      throw new Error(`cannot create tap ${this.ifname} (${(e as Error).message})${hint}`);
    }
    this.fd = tap.fd;
    try {
      native.setVnetHeaderSize(this.fd, VNET_HDR);
      this.offloading = this.config.offloads === true;
      if (!this.offloading) native.setOffload(this.fd, 0);
      else {
        try {
          native.setOffload(this.fd, TUN_OFFLOADS | TUN_USO);
        } catch {
          native.setOffload(this.fd, TUN_OFFLOADS); // a kernel before 6.2: no UDP segmentation offload
        }
      }
      if (mtu !== undefined) native.setInterfaceMtu(this.ifname, mtu);
      if (this.config.guest === true) return await this.openGuest(io);
      if (this.config.netns !== undefined) {
        const ns = this.config.netns as string;
        ipCommand(['link', 'set', 'dev', this.ifname, 'netns', ns]);
        ipCommand(['-n', ns, 'link', 'set', 'dev', this.ifname, 'up']);
      } else native.setInterfaceUp(this.ifname, true);
    } catch (e) {
      this.closeFd();
      throw e;
    }
    this.base = native.addressOf(io.area);
    this.maxLen = Math.min(io.maxFrameLength, mtu === undefined ? io.maxFrameLength : mtu + ETH_HLEN + VLAN_HLEN);
    this.drops = new RxDrops(io);
    this.iRunt = io.counterIndex('rx_runt');
    this.iGso = io.counterIndex('rx_gso');
    this.iTxOversize = io.counterIndex('tx_oversize');
    this.iTxBusy = io.counterIndex('tx_busy');
    this.iTxErrors = io.counterIndex('tx_errors');
    if (this.offloading) {
      if (io.receiveOffload === undefined) throw new Error(`tap ${this.ifname}: offloads need a device thread that takes frames with a virtio_net_hdr`);
      this.rxStage = new Uint8Array(new SharedArrayBuffer(VNET_HDR + SUPER_READ));
      this.rxStageAddress = native.addressOf(this.rxStage);
    }
    this.watch = new FdWatch(io, this.fd);
    io.log('info', `created tap ${this.ifname}${this.config.netns === undefined ? '' : ` in namespace ${String(this.config.netns)}`}`);
  }

  /** The VM holds the descriptor side: keep the tap alive without us, and attach to its kernel side. */
  private async openGuest(io: PortIO): Promise<void> {
    native.setPersist(this.fd, true);
    this.closeFd();
    native.setInterfaceUp(this.ifname, true);
    this.guest = new AfPacketPort({ name: this.config.name, type: 'afpacket', interface: this.ifname });
    try {
      await this.guest.open(io);
    } catch (e) {
      this.deleteGuestTap();
      throw e;
    }
    io.log('info', `created tap ${this.ifname} for a guest (QEMU -netdev tap,ifname=${this.ifname},script=no,downscript=no)`);
  }

  poll(budget: number): number {
    if (this.guest !== null) return this.guest.poll(budget);
    if (this.offloading) return this.pollOffload(budget);
    const io = this.io;
    let n = 0;
    while (n < budget) {
      if (this.spare < 0) {
        this.spare = io.allocFrame();
        if (this.spare < 0) break; // counted rx_no_buffer; the packet waits in the tap
      }
      const data = io.dataOffset(this.spare);
      // The virtio_net_hdr lands in the frame's headroom, the packet at its data offset.
      const r = native.readAt(this.fd, this.base + data - VNET_HDR, this.maxLen + VNET_HDR);
      if (r < 0) {
        if (r !== -K.EAGAIN && r !== -K.EINTR && !this.readWarned) {
          this.readWarned = true;
          io.log('warn', `read from tap ${this.ifname}: ${native.errnoName(-r)}`);
        }
        break;
      }
      n++;
      const len = r - VNET_HDR;
      const area = io.area;
      if (area[data - VNET_HDR + 1] !== 0) {
        this.drops.drop(this.iGso, len); // gso_type: a super-packet we never asked for
        continue;
      }
      if (len < ETH_HLEN) {
        this.drops.drop(this.iRunt, Math.max(len, 0));
        continue;
      }
      const f = this.spare;
      this.spare = -1;
      io.submit(f, len);
    }
    if (n === 0) this.watch?.arm(); // wake the device thread when the tap has a packet
    return n;
  }

  /**
   * offloads: each packet with its header into the staging buffer, then to receiveOffload
   * (a plain one to receive: one copy either way). What the kernel marked DATA_VALID or
   * NEEDS_CSUM rides along; a super-frame is cut or kept whole by the device.
   */
  private pollOffload(budget: number): number {
    const io = this.io;
    const st = this.rxStage!;
    const h = this.rxHdr;
    let n = 0;
    while (n < budget) {
      const r = native.readAt(this.fd, this.rxStageAddress, VNET_HDR + SUPER_READ);
      if (r < 0) {
        if (r !== -K.EAGAIN && r !== -K.EINTR && !this.readWarned) {
          this.readWarned = true;
          io.log('warn', `read from tap ${this.ifname}: ${native.errnoName(-r)}`);
        }
        break;
      }
      n++;
      const len = r - VNET_HDR;
      if (len < ETH_HLEN) {
        this.drops.drop(this.iRunt, Math.max(len, 0));
        continue;
      }
      if ((st[0] | st[1]) === 0) io.receive(st, VNET_HDR, len);
      else {
        readVnetHdr(h, st, 0);
        io.receiveOffload!(st, VNET_HDR, len, h);
      }
    }
    if (n === 0) this.watch?.arm();
    return n;
  }

  offloads(): number {
    return this.offloading ? TAKES : 0;
  }

  /** transmit() with the frame's virtio_net_hdr (offloads: true): the kernel segments or finishes the checksum. */
  transmitOffload(area: Uint8Array, offset: number, length: number, _queue: number, hdr: VnetHdr): boolean {
    if (length > SUPER_READ) {
      this.io.counters[this.iTxOversize]++;
      return false;
    }
    return this.write(area, offset, length, hdr);
  }

  transmit(area: Uint8Array, offset: number, length: number): boolean {
    if (this.guest !== null) return this.guest.transmit(area, offset, length);
    if (length > this.maxLen) {
      this.io.counters[this.iTxOversize]++;
      return false;
    }
    return this.write(area, offset, length, null);
  }

  private write(area: Uint8Array, offset: number, length: number, hdr: VnetHdr | null): boolean {
    // The virtio_net_hdr (zeroed: no checksum to finish, no segmentation) in the headroom
    // before the packet: the frame is ours until transmit returns. A program that moved the
    // packet's start into the first 12 bytes of its frame leaves no room: copy it out instead.
    let r: number;
    if (offset % this.io.frameSize >= VNET_HDR) {
      const h = offset - VNET_HDR;
      if (hdr === null) for (let i = 0; i < VNET_HDR; i++) area[h + i] = 0;
      else {
        writeVnetHdr(hdr, area, h, false);
        area[h + 10] = 0; // num_buffers: not used on a tap
        area[h + 11] = 0;
      }
      r = native.writeAt(this.fd, this.base + h, length + VNET_HDR);
    } else r = this.writeStaged(area, offset, length, hdr);
    if (r >= 0) return true;
    if (r === -K.EAGAIN || r === -K.ENOBUFS) this.io.counters[this.iTxBusy]++;
    else {
      if (this.io.counters[this.iTxErrors] === 0) this.io.log('warn', `write to tap ${this.ifname}: ${native.errnoName(-r)}`);
      this.io.counters[this.iTxErrors]++;
    }
    return false;
  }

  private writeStaged(area: Uint8Array, offset: number, length: number, hdr: VnetHdr | null): number {
    if (this.staging === null) {
      this.staging = new Uint8Array(new SharedArrayBuffer(SUPER_READ + VNET_HDR));
      this.stagingAddress = native.addressOf(this.staging);
    }
    if (hdr === null) this.staging.fill(0, 0, VNET_HDR);
    else {
      writeVnetHdr(hdr, this.staging, 0, false);
      this.staging.fill(0, 10, VNET_HDR);
    }
    this.staging.set(area.subarray(offset, offset + length), VNET_HDR); // rare: a view is acceptable here
    return native.writeAt(this.fd, this.stagingAddress, length + VNET_HDR);
  }

  flushTx(): void {
    this.guest?.flushTx();
  }

  private closeFd(): void {
    if (this.fd >= 0) native.close(this.fd);
    this.fd = -1;
  }

  private deleteGuestTap(): void {
    try {
      ipCommand(['link', 'delete', 'dev', this.ifname]);
    } catch (e) {
      this.io.log('warn', `could not delete tap ${this.ifname}: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    if (this.guest !== null) {
      await this.guest.close();
      this.guest = null;
      this.deleteGuestTap();
      return;
    }
    await this.watch?.stop();
    this.watch = null;
    if (this.spare >= 0) this.io.freeFrame?.(this.spare);
    this.spare = -1;
    this.closeFd(); // the last descriptor of a tap that is not persistent: the kernel removes it
  }

  status(): Record<string, unknown> {
    if (this.guest !== null) return { ifname: this.ifname, guest: true, ...this.guest.status() };
    return { ifname: this.ifname, netns: this.config.netns ?? null, offloads: this.offloading };
  }
}

const tap: PortType = {
  type: 'tap',
  options: OPTIONS,
  counters: COUNTERS,
  validate,
  create: (config) => new TapPort(config),
};
export default tap;
