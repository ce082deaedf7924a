/**
 * gen — a synthetic traffic source (pktgen-like), the benchmark's packet source.
 *
 * Options:
 *   flows:  number of distinct UDP flows (source port and source address vary), default 64
 *   size:   frame length in bytes (60 … frame size − 256, and at least the headers: 42 IPv4/UDP,
 *           54 IPv4/TCP, 62 IPv6/UDP, 74 IPv6/TCP), or a list cycled per packet; default 64
 *           (74 for IPv6/TCP)
 *   count:  packets to send, then finish (0 = forever), default 0
 *   rate:   packets per second (0 = as fast as possible), default 0
 *   proto:  'udp' | 'tcp', default 'udp'
 *   ipv6:   true for IPv6 flows, default false
 *   src, dst: IPv4 base addresses (default 10.0.0.1 / 10.1.0.1)
 *   srcMac, dstMac: MAC addresses (default 02:00:00:00:00:01 / 02:00:00:00:00:02)
 *   dstPort: UDP/TCP destination port, default 9
 *   thread: 'queue' (default) — run to completion: each queue worker polls its own RX
 *           queue of the generator, as a multi-queue NIC's queues; queue q produces the
 *           flows the default RSS puts on q, with their RSS hash, so the packets, their
 *           order per flow and a count are those of the device thread's generator;
 *           'device' — one device thread generates and steers into every queue's rx ring
 *           (the thread hop of the pipeline model, kept as the end-to-end figure)
 *   recycle: true — frames are written once and sent again as they come back to the pool
 *           (pktgen's clone_skb: the per-queue figure then measures the worker's own work,
 *           as a NIC's DMA costs the CPU nothing); a program's edits to a frame stay in it.
 *           Needs thread 'queue'. Default false: every frame is written before it is sent.
 *
 * Frames are prebuilt per flow at open; poll() writes them in place into pool frames,
 * word by word for short frames (no Uint8Array.set per packet), so generation costs
 * a few stores per packet. Transmitted frames are counted and discarded (a sink).
 */
import type { Port, PortConfig, PortIO, PortType, QueueIO, QueuePort } from './port.js';
import { optionTypeIssues, type OptionTypes } from './options.js';
import { checksum } from '../../lib/net/checksum.js';
import { DefaultRssSteerer } from '../../flows/rss.js';

interface GenOptions {
  flows: number;
  sizes: number[];
  count: number;
  rate: number;
  proto: 'udp' | 'tcp';
  ipv6: boolean;
  src: number[];
  dst: number[];
  srcMac: number[];
  dstMac: number[];
  dstPort: number;
  thread: 'queue' | 'device';
  recycle: boolean;
}

function parseMac(s: string): number[] | null {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(s);
  return m ? m.slice(1).map((x) => parseInt(x, 16)) : null;
}
function parseIp4(s: string): number[] | null {
  const p = s.split('.');
  if (p.length !== 4 || !p.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255)) return null;
  return p.map(Number);
}

const OPTIONS: OptionTypes = {
  flows: 'integer',
  size: ['integer', 'integer[]'],
  count: 'integer',
  rate: 'integer',
  proto: 'string',
  ipv6: 'boolean',
  src: 'string',
  dst: 'string',
  srcMac: 'string',
  dstMac: 'string',
  dstPort: 'integer',
  thread: 'string',
  recycle: 'boolean',
};

function options(c: PortConfig, errors: string[]): GenOptions {
  const int = (k: string, def: number, min: number, max: number): number => {
    const v = c[k] ?? def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      errors.push(`'${k}' must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return def;
    }
    return v;
  };
  const rawSizes = c.size ?? 64;
  const sizes = (Array.isArray(rawSizes) ? rawSizes : [rawSizes]) as unknown[];
  const okSizes: number[] = [];
  for (const s of sizes) {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 60 || s > 3840) errors.push(`'size' entries must be integers from 60 to 3840, got ${JSON.stringify(s)}`);
    else okSizes.push(s);
  }
  const given = okSizes.length;
  if (okSizes.length === 0) okSizes.push(64);
  const mac = (k: string, def: string) => {
    const v = parseMac(String(c[k] ?? def));
    if (!v) errors.push(`'${k}' must be a MAC address like 02:00:00:00:00:01, got ${JSON.stringify(c[k])}`);
    return v ?? parseMac(def)!;
  };
  const ip = (k: string, def: string) => {
    const v = parseIp4(String(c[k] ?? def));
    if (!v) errors.push(`'${k}' must be an IPv4 address, got ${JSON.stringify(c[k])}`);
    return v ?? parseIp4(def)!;
  };
  const proto = c.proto ?? 'udp';
  if (proto !== 'udp' && proto !== 'tcp') errors.push(`'proto' must be udp or tcp, got ${JSON.stringify(proto)}`);
  if (c.ipv6 !== undefined && typeof c.ipv6 !== 'boolean') errors.push(`'ipv6' must be true or false`);
  // Every header must fit: 60 bytes carry Ethernet + IPv4 + TCP (54), not IPv6 + UDP (62)
  // or IPv6 + TCP (74); a shorter frame would go out with its L4 header cut off.
  const headers = 14 + (c.ipv6 === true ? 40 : 20) + (proto === 'tcp' ? 20 : 8);
  if (c.size === undefined) okSizes[0] = Math.max(64, headers); // the default fits the headers
  else for (let i = 0; i < given; i++) {
    const s = okSizes[i];
    if (s < headers) errors.push(`'size' ${s} is too short for ${c.ipv6 === true ? 'IPv6' : 'IPv4'}/${proto === 'tcp' ? 'TCP' : 'UDP'} headers (at least ${headers})`);
  }
  const thread = c.thread ?? 'queue';
  if (thread !== 'queue' && thread !== 'device') errors.push(`'thread' must be queue or device, got ${JSON.stringify(thread)}`);
  if (c.recycle !== undefined && typeof c.recycle !== 'boolean') errors.push(`'recycle' must be true or false`);
  if (c.recycle === true && thread === 'device') errors.push(`'recycle' needs thread: queue (the queue worker keeps track of the frames it wrote)`);
  if (Array.isArray(rawSizes) && rawSizes.length === 0) errors.push(`'size' must list at least one frame length`);
  return {
    flows: int('flows', 64, 1, 65536),
    sizes: okSizes,
    count: int('count', 0, 0, Number.MAX_SAFE_INTEGER),
    rate: int('rate', 0, 0, 1e9),
    proto: proto === 'tcp' ? 'tcp' : 'udp',
    ipv6: c.ipv6 === true,
    src: ip('src', '10.0.0.1'),
    dst: ip('dst', '10.1.0.1'),
    srcMac: mac('srcMac', '02:00:00:00:00:01'),
    dstMac: mac('dstMac', '02:00:00:00:00:02'),
    dstPort: int('dstPort', 9, 0, 65535),
    thread: thread === 'device' ? 'device' : 'queue',
    recycle: c.recycle === true,
  };
}

/** Builds flow f's frame of `size` bytes (Ethernet + IPv4/IPv6 + UDP/TCP + zero payload). */
export function buildFrame(o: Omit<GenOptions, 'thread' | 'recycle'>, f: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  b.set(o.dstMac, 0);
  b.set(o.srcMac, 6);
  const sport = 1024 + (f % 64000);
  let l4: number;
  if (!o.ipv6) {
    b[12] = 0x08;
    b[13] = 0x00;
    const ip = 14;
    b[ip] = 0x45;
    const totLen = size - 14;
    b[ip + 2] = totLen >> 8;
    b[ip + 3] = totLen & 0xff;
    b[ip + 8] = 64;
    b[ip + 9] = o.proto === 'tcp' ? 6 : 17;
    b.set(o.src, ip + 12);
    b[ip + 15] = (o.src[3] + (f >> 8)) & 0xff; // spread source addresses too
    b.set(o.dst, ip + 16);
    const cs = checksum(b, ip, ip + 20);
    b[ip + 10] = cs >> 8;
    b[ip + 11] = cs & 0xff;
    l4 = ip + 20;
  } else {
    b[12] = 0x86;
    b[13] = 0xdd;
    const ip = 14;
    b[ip] = 0x60;
    const plen = size - 54;
    b[ip + 4] = plen >> 8;
    b[ip + 5] = plen & 0xff;
    b[ip + 6] = o.proto === 'tcp' ? 6 : 17;
    b[ip + 7] = 64;
    b.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (f >> 8) & 0xff, (f & 0xff) + 1], ip + 8);
    b.set([0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], ip + 24);
    l4 = ip + 40;
  }
  b[l4] = sport >> 8;
  b[l4 + 1] = sport & 0xff;
  b[l4 + 2] = o.dstPort >> 8;
  b[l4 + 3] = o.dstPort & 0xff;
  if (o.proto === 'udp') {
    const ulen = size - l4;
    b[l4 + 4] = ulen >> 8;
    b[l4 + 5] = ulen & 0xff;
  } else {
    b[l4 + 12] = 0x50; // data offset 5 words
    b[l4 + 13] = 0x10; // ACK
  }
  return b;
}

/**
 * A paced generator (`rate`) releases its packets in batches of what PACE_MS brings, not one
 * by one as they fall due: a poll that finds less than a batch due produces nothing, so the
 * thread polling it (a queue worker, or the device thread with `thread: device`) sleeps its
 * 1 ms idle poll between batches instead of spinning on a packet every few microseconds.
 * Spinning that way kept the generator's thread and every worker it fed at 100% of a core
 * at any rate; with more such threads than cores the ones that drain (a capture file's
 * device thread) waited for CPU while rings filled: the demo's rx_ring_full and tx-ring-full
 * errors. The rate stays exact (the schedule counts from the start, so a late batch is
 * larger); packets due within 1 ms leave together, as the pcap replay's and tcpreplay's do.
 * Never more than a poll's budget at once, so at high rates nothing changes.
 */
const PACE_MS = 1;

/** Packets due in PACE_MS at `rate` packets per second (at least 1). */
export function paceBatch(rate: number): number {
  return Math.max(1, Math.floor((rate * PACE_MS) / 1000));
}

class GenPort implements Port {
  private io!: PortIO;
  private area32!: Int32Array;
  /** templates[k]: frame k as Int32 words (flow = k % flows, size = sizes[k % sizes.length]). */
  private templates: Int32Array[] = [];
  private bytes: Uint8Array[] = [];
  private next = 0;
  private sent = 0;
  private startNs = 0n;
  /** Packets a paced poll releases at once (paceBatch). */
  private readonly batch: number;

  constructor(private readonly o: GenOptions) {
    this.batch = paceBatch(o.rate);
  }

  async open(io: PortIO): Promise<void> {
    this.io = io;
    this.area32 = new Int32Array(io.area.buffer, io.area.byteOffset, io.area.byteLength >> 2);
    const n = this.o.flows * this.o.sizes.length;
    for (let k = 0; k < n; k++) {
      const size = this.o.sizes[k % this.o.sizes.length];
      if (size > io.maxFrameLength) throw new Error(`frame size ${size} exceeds the largest frame this switch carries (${io.maxFrameLength})`);
      const frame = buildFrame(this.o, k % this.o.flows, size);
      const padded = new Uint8Array((size + 3) & ~3);
      padded.set(frame);
      this.bytes.push(frame);
      this.templates.push(new Int32Array(padded.buffer));
    }
    this.startNs = process.hrtime.bigint();
  }

  poll(budget: number): number {
    const o = this.o;
    let n = budget;
    if (o.count !== 0) {
      const left = o.count - this.sent;
      if (left <= 0) return -1;
      if (left < n) n = left;
    }
    if (o.rate !== 0) {
      const elapsed = Number(process.hrtime.bigint() - this.startNs) / 1e9;
      const allowed = Math.floor(elapsed * o.rate) - this.sent;
      // Paced in batches (see PACE_MS): nothing until a batch is due, so the thread sleeps between.
      if (allowed < (n < this.batch ? n : this.batch)) return 0;
      if (allowed < n) n = allowed;
    }
    const io = this.io;
    const a32 = this.area32;
    const templates = this.templates;
    const nt = templates.length;
    let done = 0;
    while (done < n) {
      const f = io.allocFrame();
      if (f < 0) break;
      const t = templates[this.next];
      const bytes = this.bytes[this.next];
      if (++this.next === nt) this.next = 0;
      const w = io.dataOffset(f) >> 2;
      // Word-by-word for short frames: cheaper than a Uint8Array.set call per packet.
      if (t.length <= 32) for (let i = 0; i < t.length; i++) a32[w + i] = t[i];
      else io.area.set(bytes, w << 2);
      io.submit(f, bytes.length);
      done++;
    }
    this.sent += done;
    // A packet we could not place still counts as sent (rx_no_buffer), as a NIC's would.
    if (done < n) this.sent += 1;
    return done === 0 && n > 0 ? 1 : done;
  }

  transmit(): boolean {
    return true;
  }

  async close(): Promise<void> {}

  status(): Record<string, unknown> {
    return { sent: this.sent };
  }
}

/** Frame tags (QueueIO.written) of a gen queue: ifindex × TAG_PORT + template index. */
const TAG_PORT = 1 << 22;

/**
 * Queue worker q's RX queue of the generator (run to completion). Of the flows × sizes
 * frame templates the device generator cycles through, it keeps those the default RSS puts
 * on q, in the same order, so the set of packets is the same whichever thread generates
 * them. Progress is this queue's rx_packets counter (shared memory), so a restarted worker
 * continues a count where its predecessor stopped.
 *
 * recycle (pktgen's clone_skb): a frame that comes back still holding one of this queue's
 * templates is sent again as it is — its template, length and hash — without a byte
 * written; only a frame holding anything else is written (with the next template). The
 * pool hands frames back LIFO, so after the first round most frames need no write; the
 * flows' mix per queue is the same, their order is the pool's.
 */
class GenQueue implements QueuePort {
  private readonly area32: Int32Array;
  private readonly templates: Int32Array[] = [];
  private readonly lengths: Int32Array;
  private readonly hashes: Int32Array;
  /** Tag of template t (QueueIO.written), and back: template of a tag − tagBase, or -1. */
  private readonly tagBase: number;
  private readonly localOf: Int32Array;
  private next = 0;
  /** Packets this queue sends in all (0 = forever) and at what rate (0 = as fast as possible). */
  private readonly count: number;
  private readonly rate: number;
  /** A count to stop at, a pace, or no templates: poll asks allowance() first. */
  private readonly limited: boolean;
  /** Packets a paced poll releases at once (paceBatch). */
  private readonly batch: number;
  private readonly rxPackets: number;
  /** When this queue first produced (the rate's clock; ingress opens after the worker starts). */
  private startNs = 0n;

  constructor(
    private readonly o: GenOptions,
    private readonly io: QueueIO,
  ) {
    this.area32 = new Int32Array(io.area.buffer, io.area.byteOffset, io.area.byteLength >> 2);
    const rss = new DefaultRssSteerer(io.queues);
    const n = o.flows * o.sizes.length;
    if (n >= TAG_PORT) throw new Error(`gen: flows × sizes must be under ${TAG_PORT} (got ${n})`);
    this.tagBase = io.ifindex * TAG_PORT;
    this.localOf = new Int32Array(n).fill(-1);
    const lengths: number[] = [];
    const hashes: number[] = [];
    // mineBefore[k]: how many of templates 0…k−1 land on this queue (for an exact count).
    const mineBefore = new Array<number>(n + 1).fill(0);
    for (let k = 0; k < n; k++) {
      const size = o.sizes[k % o.sizes.length];
      if (size > io.maxFrameLength) throw new Error(`frame size ${size} exceeds the largest frame this switch carries (${io.maxFrameLength})`);
      const frame = buildFrame(o, k % o.flows, size);
      const q = rss.steer(frame, 0, frame.length);
      mineBefore[k + 1] = mineBefore[k] + (q === io.queue ? 1 : 0);
      if (q !== io.queue) continue;
      const padded = new Uint8Array((size + 3) & ~3);
      padded.set(frame);
      this.localOf[k] = this.templates.length;
      this.templates.push(new Int32Array(padded.buffer));
      this.bytes.push(frame);
      lengths.push(size);
      hashes.push(rss.hash | 0);
    }
    this.lengths = Int32Array.from(lengths);
    this.hashes = Int32Array.from(hashes);
    // Tags name the template's global index k: map local t back to k.
    this.tagOfLocal = new Int32Array(this.templates.length);
    for (let k = 0; k < n; k++) if (this.localOf[k] >= 0) this.tagOfLocal[this.localOf[k]] = this.tagBase + k;
    // The device generator sends template k % n as packet k: this queue's share of `count`.
    this.count = o.count === 0 ? 0 : Math.floor(o.count / n) * mineBefore[n] + mineBefore[o.count % n];
    this.rate = (o.rate * mineBefore[n]) / n;
    this.batch = paceBatch(this.rate);
    this.limited = this.count !== 0 || this.rate !== 0 || this.templates.length === 0;
    this.rxPackets = io.counterIndex('rx_packets');
    // A restarted worker resumes the template cycle where the count says it was.
    // `| 0`: the counter is a double, and a field that once held one keeps a double's
    // representation, which poll's unoptimized part boxes on every read (§3 of the docs).
    if (this.templates.length !== 0) this.next = (io.counters[this.rxPackets] % this.templates.length) | 0;
  }

  private readonly tagOfLocal: Int32Array;
  /** Template t's bytes, for frames longer than a word loop is worth. */
  private readonly bytes: Uint8Array[] = [];

  poll(budget: number): number {
    const io = this.io;
    const nt = this.templates.length;
    // An endless, unpaced generator (the benchmarks') skips the accounting: see allowance().
    // A flag, not `rate !== 0`: the rate is a double, a heap number when read unoptimized.
    const n = this.limited ? this.allowance(budget) : budget;
    if (n <= 0) return n;
    const a32 = this.area32;
    const written = io.written;
    const localOf = this.localOf;
    const tagBase = this.tagBase;
    const lengths = this.lengths;
    const hashes = this.hashes;
    const recycle = this.o.recycle;
    let next = this.next;
    let done = 0;
    while (done < n) {
      const f = io.allocFrame();
      if (f < 0) break; // counted rx_no_buffer, and as sent (a NIC's would be)
      let t = -1;
      // clone_skb: a frame that still holds one of this queue's templates goes out as it is.
      if (recycle) {
        const k = written[f] - tagBase;
        if (k >= 0 && k < localOf.length) t = localOf[k];
      }
      if (t < 0) {
        t = next;
        if (++next === nt) next = 0;
        const tw = this.templates[t];
        const w = io.dataOffset(f) >> 2;
        if (tw.length <= 32) for (let i = 0; i < tw.length; i++) a32[w + i] = tw[i];
        else io.area.set(this.bytes[t], w << 2);
        written[f] = this.tagOfLocal[t];
      }
      // The hash stays in its array until submit reads it (QueueIO.submitHashed).
      io.submitHashed(f, lengths[t], hashes, t);
      done++;
    }
    this.next = next;
    return done;
  }

  /**
   * How many frames this poll may make: what is left of `count`, and what the pace allows
   * (0: not yet; -1: finished). Off poll's way, for the reason submitHashed has
   * (docs/architecture.md §3, "Code V8 leaves unoptimized"): it reads a shared counter, a
   * double, which unoptimized code boxes.
   */
  private allowance(budget: number): number {
    const nt = this.templates.length;
    const sent = this.io.counters[this.rxPackets];
    let n = budget;
    if (this.count !== 0 || nt === 0) {
      const left = this.count - sent;
      if (left <= 0) return -1;
      if (left < n) n = left;
    }
    if (this.rate !== 0) {
      // A restarted worker's clock starts over from what was already sent.
      if (this.startNs === 0n) this.startNs = process.hrtime.bigint() - BigInt(Math.floor((sent / this.rate) * 1e9));
      const elapsed = Number(process.hrtime.bigint() - this.startNs) / 1e9;
      const allowed = Math.floor(elapsed * this.rate) - sent;
      // Paced in batches (see PACE_MS): nothing until a batch is due, so the worker sleeps between.
      if (allowed < (n < this.batch ? n : this.batch)) return 0;
      if (allowed < n) n = allowed;
    }
    return n;
  }

  transmit(): boolean {
    return true; // a sink, as the device side
  }

  status(): Record<string, number> {
    return { sent: this.io.counters[this.rxPackets] };
  }
}

const gen: PortType = {
  type: 'gen',
  options: OPTIONS,
  queueSides(config) {
    const errors: string[] = [];
    const o = options(config, errors);
    // Transmit is a sink on any queue; receive runs on the queues unless asked for the device thread.
    return { rx: o.thread === 'queue', tx: true };
  },
  openQueue(config, io) {
    const errors: string[] = [];
    const o = options(config, errors);
    if (errors.length) throw new Error(`gen port ${config.name}: ${errors.join('; ')}`);
    return new GenQueue(o, io);
  },
  validate(config) {
    const errors: string[] = [];
    options(config, errors);
    return errors;
  },
  create(config) {
    const errors = optionTypeIssues('gen', OPTIONS, config);
    const o = options(config, errors);
    if (errors.length) throw new Error(`gen port ${config.name}: ${errors.join('; ')}`);
    return new GenPort(o);
  },
};
export default gen;
