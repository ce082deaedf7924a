/**
 * The switch's local stack: where XDP_PASS delivers. It answers ARP and ICMP echo for the
 * switch's configured addresses and hands UDP datagrams to sockets bound on it (AF_XDP-
 * style sockets, the same library as xsk: the app receives whole frames and sends whole
 * frames, naming the egress port in the TX descriptor's options).
 *
 * Where it runs: inside each queue worker, as that queue's pass endpoint (one LocalStack
 * per queue, all sharing the address list). No extra thread and no extra hop: a reply is
 * built from the request in the worker, queued in a small reply buffer, and emitted out of
 * the ingress port by the same breath's pollTx. A UDP socket is bound to (UDP port, queue)
 * as an AF_XDP socket is bound to a queue; a datagram arriving on another queue finds no
 * socket there and is counted udp_no_socket.
 *
 * Every packet deliver() gets lands in exactly one of: arp_replied, echo_replied,
 * udp_delivered, udp_socket_drop, udp_no_socket, not_for_us, malformed, reply_full.
 * Nothing here allocates per packet.
 */
import type { QueueEndpoint, TxEmit } from './endpoint.js';
import { XskEndpoint } from './xsk.js';
import type { XskShared } from './xsk-shared.js';
import * as P from '../../lib/net/packets.js';

export const STACK_COUNTERS = [
  'arp_replied',
  'echo_replied',
  'udp_delivered',
  'udp_socket_drop',
  'udp_no_socket',
  'not_for_us',
  'malformed',
  'reply_full',
  'replies_sent',
  'replies_dropped',
] as const;
const enum S {
  arp_replied,
  echo_replied,
  udp_delivered,
  udp_socket_drop,
  udp_no_socket,
  not_for_us,
  malformed,
  reply_full,
  replies_sent,
  replies_dropped,
}

export interface StackAddress {
  ip: string;
  mac: string;
}

/** One queue's stack, structured-cloneable: what sw.setPassEndpoints() passes per queue. */
export interface LocalStackShared {
  addresses: StackAddress[];
  /** UDP sockets bound on this queue. */
  udp: { port: number; socket: XskShared }[];
  stats: SharedArrayBuffer;
}

/** Builds the per-queue handles (main thread): bind sockets, then pass sharedPerQueue to the switch. */
export class LocalStackConfig {
  readonly perQueue: LocalStackShared[];

  constructor(queues: number, addresses: StackAddress[]) {
    for (const a of addresses) {
      P.ipToU32(a.ip);
      P.macBytes(a.mac);
    }
    this.perQueue = Array.from({ length: queues }, () => ({ addresses, udp: [], stats: new SharedArrayBuffer(STACK_COUNTERS.length * 8) }));
  }

  /** Binds a socket to UDP `port` on `queue` (datagrams to any configured address). */
  bindUdp(port: number, queue: number, socket: XskShared): void {
    if (!(port >= 1 && port <= 65535)) throw new RangeError(`UDP port ${port} out of range`);
    const q = this.perQueue[queue];
    if (q === undefined) throw new RangeError(`queue ${queue} does not exist`);
    if (q.udp.some((u) => u.port === port)) throw new Error(`UDP port ${port} is already bound on queue ${queue}`);
    q.udp.push({ port, socket });
  }

  /** Counters summed over queues. */
  stats(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(STACK_COUNTERS.map((n) => [n, 0]));
    for (const q of this.perQueue) {
      const v = new Float64Array(q.stats);
      STACK_COUNTERS.forEach((n, i) => (out[n] += v[i]));
    }
    return out;
  }
}

const REPLY_SLOTS = 64;
const REPLY_BYTES = 2048;

export class LocalStack implements QueueEndpoint {
  private readonly ips: Uint32Array;
  private readonly macs: Uint8Array[];
  private readonly ports: Uint16Array;
  private readonly sockets: XskEndpoint[];
  private readonly c: Float64Array;
  private readonly out = new Int32Array(2);
  private readonly replies = new Uint8Array(REPLY_SLOTS * REPLY_BYTES);
  private readonly replyLen = new Uint16Array(REPLY_SLOTS);
  private readonly replyPort = new Uint16Array(REPLY_SLOTS);
  private replyHead = 0;
  private replyCount = 0;
  private ipId = 1;

  constructor(shared: LocalStackShared) {
    this.ips = Uint32Array.from(shared.addresses.map((a) => P.ipToU32(a.ip)));
    this.macs = shared.addresses.map((a) => P.macBytes(a.mac));
    this.ports = Uint16Array.from(shared.udp.map((u) => u.port));
    this.sockets = shared.udp.map((u) => new XskEndpoint(u.socket, { egressPort: -1 }));
    this.c = new Float64Array(shared.stats);
  }

  deliver(src: Uint8Array, offset: number, length: number, ingressPort: number): boolean {
    const c = this.c;
    const out = this.out;
    const kind = P.classify(src, offset, length, out);
    if (kind === P.PKT_MALFORMED) {
      c[S.malformed]++;
      return false;
    }
    if (kind === P.PKT_ARP_REQUEST) {
      const a = this.addressOf(P.arpTargetIp(src, offset));
      if (a < 0) return this.notForUs();
      const slot = this.replySlot();
      if (slot < 0) return false;
      this.queueReply(slot, P.arpReply(this.replies, slot * REPLY_BYTES, src, offset, this.macs[a]), ingressPort);
      c[S.arp_replied]++;
      return true;
    }
    if (kind !== P.PKT_ICMP_ECHO_REQUEST && kind !== P.PKT_UDP) return this.notForUs();
    const a = this.addressOf(P.ipDst(src, offset));
    if (a < 0) return this.notForUs();
    if (kind === P.PKT_ICMP_ECHO_REQUEST) {
      if (out[1] + 34 > REPLY_BYTES) return this.notForUs();
      const slot = this.replySlot();
      if (slot < 0) return false;
      const base = slot * REPLY_BYTES;
      const n = P.turnAround(this.replies, base, src, offset, out[0], out[1], this.macs[a], this.ipId++);
      P.icmpEchoReply(this.replies, base + 34, out[1]);
      this.queueReply(slot, n, ingressPort);
      c[S.echo_replied]++;
      return true;
    }
    const dport = P.be16(src, out[0] + 2);
    const ports = this.ports;
    for (let i = 0; i < ports.length; i++) {
      if (ports[i] !== dport) continue;
      if (this.sockets[i].deliver(src, offset, length, ingressPort)) {
        c[S.udp_delivered]++;
        return true;
      }
      c[S.udp_socket_drop]++;
      return false;
    }
    c[S.udp_no_socket]++;
    return false;
  }

  pollTx(budget: number, emit: TxEmit): number {
    let n = 0;
    while (this.replyCount > 0 && n < budget) {
      const slot = this.replyHead;
      if (emit(this.replies, slot * REPLY_BYTES, this.replyLen[slot], this.replyPort[slot])) this.c[S.replies_sent]++;
      else this.c[S.replies_dropped]++;
      this.replyHead = (slot + 1) % REPLY_SLOTS;
      this.replyCount--;
      n++;
    }
    const socks = this.sockets;
    for (let i = 0; i < socks.length && n < budget; i++) n += socks[i].pollTx(budget - n, emit);
    return n;
  }

  flush(): void {
    const socks = this.sockets;
    for (let i = 0; i < socks.length; i++) socks[i].flush();
  }

  private addressOf(ip: number): number {
    const ips = this.ips;
    for (let i = 0; i < ips.length; i++) if (ips[i] === ip) return i;
    return -1;
  }

  private notForUs(): false {
    this.c[S.not_for_us]++;
    return false;
  }

  private replySlot(): number {
    if (this.replyCount === REPLY_SLOTS) {
      this.c[S.reply_full]++;
      return -1;
    }
    return (this.replyHead + this.replyCount) % REPLY_SLOTS;
  }

  private queueReply(slot: number, len: number, port: number): void {
    this.replyLen[slot] = len;
    this.replyPort[slot] = port;
    this.replyCount++;
  }
}

/** The queue worker's loader entry (sw.setPassEndpoints(module, config.perQueue)). */
export function openEndpoint(shared: unknown): LocalStack {
  const s = shared as LocalStackShared;
  if (!Array.isArray(s?.addresses) || !(s.stats instanceof SharedArrayBuffer)) throw new Error('local stack: not a LocalStackShared handle');
  return new LocalStack(s);
}
