/**
 * The steering hook of a port with a flow-steering configuration: parse, ntuple match
 * (lowest location wins), then RSS (Toeplitz over the rx-flow-hash fields, indirection
 * table of the rule's context or the default one). Runs on the port's device thread;
 * `steer` allocates nothing; `refresh` picks up a published table between batches.
 */
import type { Steerer } from './rss.js';
import { CounterBlock } from '../lib/counters.js';
import { RXH } from './grammar.js';
import { K } from './key.js';
import { CompiledTable } from './compiled.js';
import { C, ParsedPacket, R } from './packet.js';
import { Action } from './rule.js';
import { SC, SLOT_WORDS, generation, readSlot, type SharedSteering } from './shared.js';

const enum Sel { SD = RXH.IPSrc | RXH.IPDst, SDFN = RXH.IPSrc | RXH.IPDst | RXH.L4B01 | RXH.L4B23 }

export class FlowSteerer implements Steerer {
  hash = 0;
  /** Rule index (matcher order) of the last packet, −1 = RSS; for `trace`. */
  lastRule = -1;
  /** RSS context used for the last packet and the indirection index. */
  lastContext = 0;
  lastIndex = 0;
  lastReason = 0;
  readonly packet = new ParsedPacket();
  table: CompiledTable | null = null;
  private gen = 0;
  private readonly i32: Int32Array;
  private readonly slot = new Uint32Array(SLOT_WORDS);
  private readonly shared: CounterBlock;
  /** Counted locally, published to shared memory once per refresh (one writer). */
  private readonly local: Float64Array;
  private readonly publishCounters: boolean;

  /**
   * `counts: false` for a steerer that only looks (trace, tests): it never writes the
   * port's shared counters, whose one writer is the device thread's steerer. A device
   * steerer continues from the counts already there (a restarted device thread).
   */
  constructor(readonly config: SharedSteering, opts: { counts?: boolean } = {}) {
    this.i32 = new Int32Array(config.table);
    this.shared = CounterBlock.fromShared(config.counters);
    this.local = Float64Array.from(this.shared.values);
    this.publishCounters = opts.counts ?? true;
    this.refresh();
    if (!this.table) throw new Error(`steering for port ${config.port}: nothing published yet`);
  }

  /** Between batches: publish counters, adopt a newer table if there is one. */
  refresh(): void {
    if (this.publishCounters) {
      const v = this.shared.values;
      for (let i = 0; i < this.local.length; i++) v[i] = this.local[i]; // single writer: plain stores
    }
    if (generation(this.i32) === this.gen) return;
    const g = readSlot(this.i32, this.slot);
    if (g < 0) return; // overtaken by the writer: the next refresh tries again
    this.table = new CompiledTable(this.slot, this.table ?? undefined);
    this.gen = g;
  }

  /** The generation in use (tests wait for it). */
  get generation(): number {
    return this.gen;
  }

  steer(b: Uint8Array, off: number, len: number): number {
    const t = this.table!;
    const p = this.packet;
    const reason = p.parse(b, off, len);
    this.lastReason = reason;
    this.lastContext = 0;
    this.lastIndex = 0;
    if (reason !== R.Ok) {
      this.local[SC.ReasonBase + reason]++;
      if (reason === R.Runt) {
        this.hash = 0;
        this.lastRule = -1;
        this.local[SC.Rss]++;
        return 0; // nothing to classify: queue 0, as a NIC does
      }
    }
    const r = t.matcher.lookup(p.key);
    this.lastRule = r;
    if (r >= 0) {
      if (t.kind[r] !== Action.Queue) {
        this.hash = 0;
        this.local[SC.Drop]++;
        return -1;
      }
      const ctx = t.context[r];
      if (ctx < 0) {
        this.hash = this.rss(t, 0) >>> 0;
        this.local[SC.Rule]++;
        return this.checked(t, t.queue[r]);
      }
      const h = this.rss(t, ctx);
      this.hash = h >>> 0;
      this.lastContext = ctx;
      this.lastIndex = h & t.indirMask;
      this.local[SC.Rule]++;
      return this.checked(t, t.indir[ctx * t.indirSize + this.lastIndex] + t.queue[r]);
    }
    if (t.fields[p.cls] & RXH.Discard) {
      this.hash = 0;
      this.local[SC.Drop]++;
      return -1;
    }
    const h = this.rss(t, 0);
    this.hash = h >>> 0;
    this.lastIndex = h & t.indirMask;
    this.local[SC.Rss]++;
    return this.checked(t, t.indir[this.lastIndex]);
  }

  private checked(t: CompiledTable, q: number): number {
    if (q < t.queues) return q;
    this.local[SC.QueueFallback]++;
    return 0;
  }

  /**
   * Toeplitz hash of the fields context `ctx` selects for this packet's class, as an int32:
   * returning a uint32 above 2^31 from a call that is not inlined would box a HeapNumber.
   * Reads the parsed key words, not the frame: the bytes are the same, in wire order.
   */
  private rss(t: CompiledTable, ctx: number): number {
    const p = this.packet;
    const k = p.key;
    const fields = t.fields[ctx * C.Count + p.cls];
    // The common case, small enough to be inlined into steer(): IPv4 addresses (+ ports).
    if (p.ipLen === 4 && (fields === Sel.SDFN || fields === Sel.SD)) {
      const T = t.toeplitz[ctx]!;
      let h = w32(T, 0, k[K.Src]) ^ w32(T, 1024, k[K.Dst]);
      if (fields === Sel.SDFN && p.l4Off >= 0) h ^= w32(T, 2048, k[K.L4]);
      return h | 0;
    }
    return this.rssAny(t, ctx, fields);
  }

  /** Every other selection and IPv6. */
  private rssAny(t: CompiledTable, ctx: number, fields: number): number {
    const p = this.packet;
    const k = p.key;
    const T = t.toeplitz[ctx]!;
    const l4 = p.l4Off >= 0;
    if (p.ipLen === 16 && (fields === Sel.SDFN || fields === Sel.SD)) {
      let h = w32(T, 0, k[K.Src]) ^ w32(T, 1024, k[K.Src + 1]) ^ w32(T, 2048, k[K.Src + 2]) ^ w32(T, 3072, k[K.Src + 3]) ^
        w32(T, 4096, k[K.Dst]) ^ w32(T, 5120, k[K.Dst + 1]) ^ w32(T, 6144, k[K.Dst + 2]) ^ w32(T, 7168, k[K.Dst + 3]);
      if (fields === Sel.SDFN && l4) h ^= w32(T, 8192, k[K.L4]);
      return h | 0;
    }
    // Any selection, fields in the order L2 destination, VLAN TCI, L3 protocol, source,
    // destination, L4 bytes 0-1, L4 bytes 2-3.
    let h = 0;
    let pos = 0;
    if (fields & RXH.L2DA) {
      h ^= w16(T, 0, k[K.Dmac]) ^ w32(T, 512, k[K.Dmac + 1]);
      pos = 6;
    }
    if (fields & RXH.VLAN) {
      h ^= w16(T, pos << 8, k[K.Tci]);
      pos += 2;
    }
    if (p.ipLen === 0) return h | 0;
    if (fields & RXH.L3Proto) {
      h ^= T[(pos << 8) + (k[K.Class] & 255)];
      pos += 1;
    }
    const words = p.ipLen >> 2;
    if (fields & RXH.IPSrc) {
      for (let i = 0; i < words; i++, pos += 4) h ^= w32(T, pos << 8, k[K.Src + i]);
    }
    if (fields & RXH.IPDst) {
      for (let i = 0; i < words; i++, pos += 4) h ^= w32(T, pos << 8, k[K.Dst + i]);
    }
    if (l4) {
      if (fields & RXH.L4B01) {
        h ^= w16(T, pos << 8, k[K.L4] >>> 16);
        pos += 2;
      }
      if (fields & RXH.L4B23) h ^= w16(T, pos << 8, k[K.L4] & 0xffff);
    }
    return h | 0;
  }
}

/** Contribution of a big-endian 32-bit word at the input position whose table starts at `base`. */
function w32(T: Uint32Array, base: number, w: number): number {
  return T[base + (w >>> 24)] ^ T[base + 256 + ((w >>> 16) & 255)] ^ T[base + 512 + ((w >>> 8) & 255)] ^ T[base + 768 + (w & 255)];
}

/** Same for a 16-bit value. */
function w16(T: Uint32Array, base: number, v: number): number {
  return T[base + ((v >>> 8) & 255)] ^ T[base + 256 + (v & 255)];
}

/** The factory the device thread calls with what it got in workerData. */
export function createSteerer(shared: SharedSteering): Steerer {
  return new FlowSteerer(shared);
}
