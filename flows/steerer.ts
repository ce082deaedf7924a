/**
 * The steering hook of a port with a flow-steering configuration: parse, ntuple match
 * (lowest location wins), then RSS (Toeplitz over the rx-flow-hash fields, indirection
 * table of the rule's context or the default one). Runs on the port's device thread;
 * `steer` allocates nothing; `refresh` picks up a published table between batches.
 */
import type { Steerer } from '../switch/steering.js';
import { CounterBlock } from '../switch/counters.js';
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

  constructor(readonly config: SharedSteering) {
    this.i32 = new Int32Array(config.table);
    this.shared = CounterBlock.fromShared(config.counters);
    this.local = new Float64Array(this.shared.names.length);
    this.refresh();
    if (!this.table) throw new Error(`steering for port ${config.port}: nothing published yet`);
  }

  /** Between batches: publish counters, adopt a newer table if there is one. */
  refresh(): void {
    const v = this.shared.values;
    for (let i = 0; i < this.local.length; i++) v[i] = this.local[i]; // single writer: plain stores
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
        this.hash = this.rss(t, 0, b, off) >>> 0;
        this.local[SC.Rule]++;
        return this.checked(t, t.queue[r]);
      }
      const h = this.rss(t, ctx, b, off);
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
    const h = this.rss(t, 0, b, off);
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
   */
  private rss(t: CompiledTable, ctx: number, b: Uint8Array, off: number): number {
    const p = this.packet;
    const fields = t.fields[ctx * C.Count + p.cls];
    const T = t.toeplitz[ctx]!;
    // The common cases, unrolled: IPv4 4-tuple and 2-tuple.
    if (p.ipLen === 4 && (fields === Sel.SDFN || fields === Sel.SD)) {
      const s = p.srcOff;
      let h = T[b[s]] ^ T[256 + b[s + 1]] ^ T[512 + b[s + 2]] ^ T[768 + b[s + 3]] ^
        T[1024 + b[s + 4]] ^ T[1280 + b[s + 5]] ^ T[1536 + b[s + 6]] ^ T[1792 + b[s + 7]];
      if (fields === Sel.SDFN && p.l4Off >= 0) {
        const l = p.l4Off;
        h ^= T[2048 + b[l]] ^ T[2304 + b[l + 1]] ^ T[2560 + b[l + 2]] ^ T[2816 + b[l + 3]];
      }
      return h | 0;
    }
    let h = 0;
    let pos = 0;
    if (fields & RXH.L2DA) {
      for (let i = 0; i < 6; i++) h ^= T[((pos + i) << 8) + b[off + i]];
      pos += 6;
    }
    if (fields & RXH.VLAN) {
      const tci = p.key[K.Tci];
      h ^= T[(pos << 8) + (tci >>> 8)] ^ T[((pos + 1) << 8) + (tci & 255)];
      pos += 2;
    }
    if (p.ipLen === 0) return h | 0;
    if (fields & RXH.L3Proto) {
      h ^= T[(pos << 8) + (p.key[K.Class] & 255)];
      pos += 1;
    }
    const n = p.ipLen;
    if (fields & RXH.IPSrc) {
      for (let i = 0; i < n; i++) h ^= T[((pos + i) << 8) + b[p.srcOff + i]];
      pos += n;
    }
    if (fields & RXH.IPDst) {
      for (let i = 0; i < n; i++) h ^= T[((pos + i) << 8) + b[p.dstOff + i]];
      pos += n;
    }
    if (p.l4Off >= 0) {
      const l = p.l4Off;
      if (fields & RXH.L4B01) {
        h ^= T[(pos << 8) + b[l]] ^ T[((pos + 1) << 8) + b[l + 1]];
        pos += 2;
      }
      if (fields & RXH.L4B23) h ^= T[(pos << 8) + b[l + 2]] ^ T[((pos + 1) << 8) + b[l + 3]];
    }
    return h | 0;
  }
}

/** The factory the device thread calls with what it got in workerData. */
export function createSteerer(shared: SharedSteering): Steerer {
  return new FlowSteerer(shared);
}
