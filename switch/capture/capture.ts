/**
 * A capture in progress (main thread): arms a tap on the chosen queues, drains their rings
 * into a pcapng file with each packet's XDP verdict (epb_verdict) and a comment naming the
 * queue and verdict, and stops after a count or when asked — as xdpdump does at a
 * program's exit.
 *
 *   queue q worker ── tap.observe ──▶ capture ring q ──drain (every 10 ms)──▶ pcapng
 *
 * One interface (IDB) per switch port, so Wireshark shows which port a packet came in on.
 */
import path from 'node:path';
import { createWriter, encodeComment, PacketMeta, type CaptureWriter } from '../../lib/pcap/writer.js';
import { verdictName, VERDICT_NAMES } from '../../programs/verdicts.js';
import { workerUrl } from '../../lib/worker-url.js';
import { HEADER_BYTES, kBaseByte, kClock, kDropped, kHead, kSkip, kTail, kUnlimited, newCaptureRing, RECORD_HEADER, type SharedCaptureRing } from './ring.js';
import type { SharedTap } from './tap.js';
import { SteeringControl, type SharedSteering } from '../../flows/index.js';

export interface CaptureOptions {
  file: string;
  /** Port names (ifindex = index + 1), for the pcapng interfaces and the port filter. */
  ports: string[];
  /** Only packets that came in on this port. */
  port?: string;
  queues: number[];
  /** Only these verdicts (names); all when absent. */
  verdicts?: string[];
  /** Stop after this many packets. */
  count?: number;
  snaplen?: number;
  /** Only packets matching these ethtool -N words (`udp4 dst-port 53`, `ether proto 0x0806`). */
  filter?: string[];
  /** Ring bytes per queue. */
  ringBytes?: number;
  /** Where the tap sits: `exit` (after the program, with its verdict; default) or `entry` (before it). */
  stage?: 'entry' | 'exit';
}

export interface CaptureTarget {
  setTap(q: number, module: string | null, shared: unknown, stage?: 'entry' | 'exit'): Promise<void>;
}

export interface CaptureStatus {
  file: string;
  packets: number;
  /** Copies the taps could not place because the drain was behind. */
  dropped: number;
  done: boolean;
}

export class Capture {
  private readonly rings: { q: number; ring: SharedCaptureRing; w: Int32Array; view: DataView; bytes: Uint8Array; base: number }[] = [];
  private readonly budget = new SharedArrayBuffer(4);
  private readonly writer: CaptureWriter;
  private readonly meta = new PacketMeta();
  private readonly comments: Uint8Array[][] = [];
  private readonly entryComments: Uint8Array[] = [];
  private timer: NodeJS.Timeout | null = null;
  private clock: NodeJS.Timeout | null = null;
  private written = 0;
  private finished: Promise<CaptureStatus> | null = null;
  private doneResolve!: (s: CaptureStatus) => void;
  /** Resolves when the capture has stopped (count reached or stop()). */
  readonly done = new Promise<CaptureStatus>((r) => (this.doneResolve = r));

  private constructor(
    private readonly target: CaptureTarget,
    readonly opts: CaptureOptions,
  ) {
    this.writer = createWriter(opts.file, { format: 'pcapng', interfaces: opts.ports, snapLen: opts.snaplen ?? 262144 });
    for (let q = 0; q <= Math.max(...opts.queues); q++) {
      this.comments.push(VERDICT_NAMES.map((v) => encodeComment(`queue=${q} verdict=${v}`)));
    }
  }

  static async start(target: CaptureTarget, opts: CaptureOptions): Promise<Capture> {
    let port = 0;
    if (opts.port !== undefined) {
      port = opts.ports.indexOf(opts.port) + 1;
      if (port === 0) throw new Error(`no port named '${opts.port}' (ports: ${opts.ports.join(', ')})`);
    }
    let verdicts = 0x1f;
    if (opts.verdicts?.length) {
      verdicts = 0;
      for (const v of opts.verdicts) {
        const i = VERDICT_NAMES.indexOf(v.toUpperCase().replace(/^XDP_/, '') as (typeof VERDICT_NAMES)[number]);
        if (i < 0) throw new Error(`unknown verdict '${v}' (${VERDICT_NAMES.join(', ')})`);
        verdicts |= 1 << i;
      }
    }
    if (opts.stage === 'entry') {
      if (opts.verdicts?.length) throw new Error('--verdict needs the exit stage: at entry the program has not decided yet');
      verdicts = 1 << 31; // TAP_ENTRY (-1) as the tap tests it: (mask >>> -1) & 1
    }
    if (opts.count !== undefined && !(Number.isInteger(opts.count) && opts.count > 0)) throw new Error('count must be a positive integer');
    // One rule at location 0 built from the user's words; a tap keeps what it matches. One
    // table per queue, so each tap is the only writer of its table's counters.
    const filterFor = (): SharedSteering | null => {
      if (!opts.filter?.length) return null;
      const words = opts.filter[0] === 'flow-type' ? opts.filter : ['flow-type', ...opts.filter];
      const control = new SteeringControl('filter', 1);
      try {
        control.exec('-N', [...words, 'action', '0', 'loc', '0']);
      } catch (e) {
        throw new Error(`filter: ${(e as Error).message}`);
      }
      return control.shared;
    };
    filterFor(); // a bad filter fails here, before the file is created or any tap armed
    const c = new Capture(target, { ...opts, file: path.resolve(opts.file) });
    new Int32Array(c.budget)[0] = opts.count ?? kUnlimited;
    const snap = Math.max(14, Math.min(opts.snaplen ?? 65535, 65535));
    const module = workerUrl('switch/capture/tap').href;
    try {
      for (const q of opts.queues) {
        const ring = newCaptureRing(opts.ringBytes ?? 1 << 22, { port, verdicts, snap });
        c.rings.push({
          q,
          ring,
          w: new Int32Array(ring.sab, 0, HEADER_BYTES / 4),
          view: new DataView(ring.sab, HEADER_BYTES, ring.size),
          bytes: new Uint8Array(ring.sab, HEADER_BYTES, ring.size),
          base: new Float64Array(ring.sab, kBaseByte, 1)[0],
        });
        const shared: SharedTap = { ring, budget: c.budget, queue: q, filter: filterFor() };
        await target.setTap(q, module, shared, opts.stage ?? 'exit');
      }
    } catch (e) {
      await c.stop();
      throw e;
    }
    c.timer = setInterval(() => c.drain(), 10);
    c.clock = setInterval(() => c.tick(), 1);
    c.tick();
    return c;
  }

  /** The taps' clock: milliseconds since each ring's start time. */
  private tick(): void {
    const now = performance.timeOrigin + performance.now();
    for (const r of this.rings) Atomics.store(r.w, kClock, Math.round(now - r.base)); // pairs with the tap's Atomics.load
  }

  status(): CaptureStatus {
    let dropped = 0;
    for (const r of this.rings) dropped += Atomics.load(r.w, kDropped); // pairs with the taps' Atomics.add
    return { file: this.opts.file, packets: this.written, dropped, done: this.finished !== null };
  }

  /** Disarms every tap, writes what is left, closes the file. Idempotent. */
  stop(): Promise<CaptureStatus> {
    if (this.finished) return this.finished;
    this.finished = (async () => {
      if (this.timer) clearInterval(this.timer);
      if (this.clock) clearInterval(this.clock);
      // Stop the taps first: after setTap(null) resolves, the worker will not touch the ring again.
      await Promise.all(this.rings.map((r) => this.target.setTap(r.q, null, null).catch(() => {})));
      this.drain();
      this.writer.close();
      const s = { ...this.status(), done: true };
      this.doneResolve(s);
      return s;
    })();
    return this.finished;
  }

  /** Moves every complete record from the rings to the file. */
  private drain(): void {
    const limit = this.opts.count ?? Infinity;
    for (const r of this.rings) {
      // Pairs with the tap's Atomics.store(kHead): records before head are complete.
      const head = Atomics.load(r.w, kHead);
      let tail = r.w[kTail];
      while (tail !== head) {
        const pos = tail & (r.ring.size - 1);
        const first = r.view.getUint32(pos, true);
        if ((first & kSkip) !== 0) {
          tail = (tail + (first & ~kSkip)) >>> 0;
          continue;
        }
        if (this.written < limit) {
          const orig = r.view.getUint32(pos + 4, true);
          const cap = r.view.getUint32(pos + 8, true);
          const verdict = r.view.getUint8(pos + 12);
          const ifindex = r.view.getUint8(pos + 13);
          const queue = r.view.getUint16(pos + 14, true);
          const ms = r.view.getFloat64(pos + 16, true);
          const sec = Math.floor(ms / 1000);
          const nsec = Math.floor((ms - sec * 1000) * 1e6);
          this.meta.interfaceId = ifindex - 1;
          // 255 is TAP_ENTRY (-1) as the tap stored it: a packet before the program, no verdict.
          this.meta.verdict = verdict === 255 ? -1 : verdict;
          this.meta.comment =
            verdict === 255 ? (this.entryComments[queue] ??= encodeComment(`queue=${queue} stage=entry`)) : (this.comments[queue]?.[verdict] ?? encodeComment(`queue=${queue} verdict=${verdictName(verdict)}`));
          this.writer.write(r.bytes, pos + RECORD_HEADER, cap, sec, nsec, orig, this.meta);
          this.written++;
        }
        tail = (tail + first) >>> 0;
      }
      // Frees what was read; pairs with the tap's Atomics.load(kTail).
      Atomics.store(r.w, kTail, tail);
    }
    if (this.written >= limit && !this.finished) void this.stop();
  }
}
