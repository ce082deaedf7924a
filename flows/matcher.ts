/**
 * The compiled rule table: tuple-space search over typed arrays.
 *
 * Rules are grouped by mask (a "tuple": which bits of which key words they compare).
 * Inside a group every rule compares the same bits, so a packet can match at most one
 * masked value there: one hash of the packet's masked words and one probe find it. Within
 * a group, rules with the same masked value keep only the lowest location (the others can
 * never win). Groups are also split by their class word (flow type: IP version, L4
 * protocol): one compare skips the groups of other flow types before any hashing, and the
 * class word is then neither hashed nor compared. Each slot keeps its rule's full hash, so
 * a probe that meets another rule is rejected by one compare; tables are at most 1/4 full.
 * Groups are searched in order of their best (lowest) location and the search stops at
 * the first group whose best location cannot beat the match already found, so a table of
 * a few rule shapes costs a few probes whatever the number of rules.
 *
 *   lookup(key) → rule index (into the arrays below) or −1. Allocates nothing.
 */
import { K } from './key.js';

/**
 * Per-group words in `gPacked` (one array: the lookup loop touches one object per group):
 * best location, class mask and value, word range [WS, WE), hash table start and mask.
 */
const enum Gp { MinLoc = 0, ClassMask, ClassVal, WS, WE, TS, TM, Stride = 8 }

/** FNV-1a offset basis 0x811c9dc5 as a signed 32-bit value. */
const kFnvBasis = 0x811c9dc5 | 0;

export interface MatcherRule {
  loc: number;
  /** Masked value (value & mask) and mask, K.Words each. */
  value: ArrayLike<number>;
  mask: ArrayLike<number>;
}

export class Matcher {
  readonly size: number;
  /** Per rule, sorted by location: location and pre-masked key words. */
  readonly loc: Int32Array;
  private readonly val: Uint32Array;
  // Per group (sorted by best location).
  private readonly groups: number;
  private readonly gMinLoc: Int32Array;
  private readonly gWordStart: Int32Array;
  private readonly gWordEnd: Int32Array;
  private readonly gTabStart: Int32Array;
  private readonly gTabMask: Int32Array;
  private readonly gClassMask: Uint32Array;
  private readonly gClassVal: Uint32Array;
  /** The per-group fields above packed, GROUP_STRIDE words a group, for the lookup loop. */
  private readonly gPacked: Int32Array;
  // Active words of all groups, and their masks.
  private readonly wIdx: Int32Array;
  private readonly wMask: Uint32Array;
  /** Open-addressing hash tables of all groups: rule index or −1, and the rule's full hash
   *  (a probe that meets another rule is rejected by one compare, not a word-by-word one). */
  private readonly table: Int32Array;
  private readonly tags: Int32Array;

  /** `rules` must be sorted by location (unique). Allocates; runs off the data path. */
  constructor(rules: MatcherRule[]) {
    const n = rules.length;
    this.size = n;
    this.loc = new Int32Array(n);
    this.val = new Uint32Array(n * K.Words);
    const byMask = new Map<string, { words: number[]; masks: number[]; classMask: number; members: Map<string, number> }>();
    const order: string[] = [];
    rules.forEach((r, i) => {
      this.loc[i] = r.loc;
      for (let w = 0; w < K.Words; w++) this.val[i * K.Words + w] = (r.value[w] & r.mask[w]) >>> 0;
      const mk = Array.from(r.mask).join(',') + '|' + ((r.value[K.Class] & r.mask[K.Class]) >>> 0);
      let g = byMask.get(mk);
      if (!g) {
        const words: number[] = [];
        const masks: number[] = [];
        // The class word is checked on its own (below), so it is neither hashed nor compared.
        for (let w = K.Class + 1; w < K.Words; w++) if (r.mask[w] !== 0) { words.push(w); masks.push(r.mask[w] >>> 0); }
        g = { words, masks, classMask: r.mask[K.Class] >>> 0, members: new Map() };
        byMask.set(mk, g);
        order.push(mk); // rules arrive sorted, so groups arrive sorted by best location
      }
      const vk = g.words.map((w) => this.val[i * K.Words + w]).join(',');
      if (!g.members.has(vk)) g.members.set(vk, i); // the first (lowest loc) wins
    });
    const G = order.length;
    this.groups = G;
    this.gMinLoc = new Int32Array(G);
    this.gWordStart = new Int32Array(G);
    this.gWordEnd = new Int32Array(G);
    this.gTabStart = new Int32Array(G);
    this.gTabMask = new Int32Array(G);
    this.gClassMask = new Uint32Array(G);
    this.gClassVal = new Uint32Array(G);
    let nWords = 0;
    let nSlots = 0;
    const caps: number[] = [];
    for (const mk of order) {
      const g = byMask.get(mk)!;
      nWords += g.words.length;
      let cap = 4;
      while (cap < g.members.size * 4) cap <<= 1; // at most 1/4 full: misses end in ~1 probe
      caps.push(cap);
      nSlots += cap;
    }
    this.wIdx = new Int32Array(nWords);
    this.wMask = new Uint32Array(nWords);
    this.table = new Int32Array(nSlots).fill(-1);
    this.tags = new Int32Array(nSlots);
    this.gPacked = new Int32Array(G * Gp.Stride);
    let wp = 0;
    let tp = 0;
    order.forEach((mk, gi) => {
      const g = byMask.get(mk)!;
      this.gWordStart[gi] = wp;
      for (let j = 0; j < g.words.length; j++, wp++) {
        this.wIdx[wp] = g.words[j];
        this.wMask[wp] = g.masks[j];
      }
      this.gWordEnd[gi] = wp;
      this.gTabStart[gi] = tp;
      this.gTabMask[gi] = caps[gi] - 1;
      let min = 0x7fffffff;
      for (const ri of g.members.values()) {
        min = Math.min(min, this.loc[ri]);
        const h = this.hashRule(gi, ri);
        let s = h & (caps[gi] - 1);
        while (this.table[tp + s] !== -1) s = (s + 1) & (caps[gi] - 1);
        this.table[tp + s] = ri;
        this.tags[tp + s] = h;
      }
      this.gMinLoc[gi] = min;
      const first = g.members.values().next().value!;
      this.gClassMask[gi] = g.classMask;
      this.gClassVal[gi] = this.val[first * K.Words + K.Class];
      const o = gi * Gp.Stride;
      this.gPacked[o + Gp.MinLoc] = min;
      this.gPacked[o + Gp.ClassMask] = this.gClassMask[gi] | 0;
      this.gPacked[o + Gp.ClassVal] = this.gClassVal[gi] | 0;
      this.gPacked[o + Gp.WS] = this.gWordStart[gi];
      this.gPacked[o + Gp.WE] = this.gWordEnd[gi];
      this.gPacked[o + Gp.TS] = tp;
      this.gPacked[o + Gp.TM] = caps[gi] - 1;
      tp += caps[gi];
    });
  }

  private hashRule(g: number, r: number): number {
    let h = kFnvBasis;
    for (let i = this.gWordStart[g]; i < this.gWordEnd[g]; i++) h = Math.imul(h ^ this.val[r * K.Words + this.wIdx[i]], 0x01000193);
    return h ^ (h >>> 15);
  }

  /** The matching rule with the lowest location, or −1. */
  lookup(key: Uint32Array): number {
    let best = 0x7fffffff;
    let bestRule = -1;
    const { wIdx, wMask, val, table, tags, loc, gPacked } = this;
    const cls = key[K.Class];
    const end = this.groups * Gp.Stride;
    for (let o = 0; o < end; o += Gp.Stride) {
      if (gPacked[o + Gp.MinLoc] >= best) break;
      if ((cls & gPacked[o + Gp.ClassMask]) !== gPacked[o + Gp.ClassVal]) continue; // another flow type
      const ws = gPacked[o + Gp.WS];
      const we = gPacked[o + Gp.WE];
      let h = kFnvBasis; // int32: a literal above 2^31 would make h a double in this loop
      for (let i = ws; i < we; i++) h = Math.imul(h ^ (key[wIdx[i]] & wMask[i]), 0x01000193);
      h ^= h >>> 15;
      const ts = gPacked[o + Gp.TS];
      const tm = gPacked[o + Gp.TM];
      for (let s = h & tm; ; s = (s + 1) & tm) {
        const r = table[ts + s];
        if (r < 0) break;
        if (tags[ts + s] !== h) continue;
        const base = r * K.Words;
        let i = ws;
        while (i < we && (key[wIdx[i]] & wMask[i]) >>> 0 === val[base + wIdx[i]]) i++;
        if (i === we) {
          if (loc[r] < best) {
            best = loc[r];
            bestRule = r;
          }
          break;
        }
      }
    }
    return bestRule;
  }
}
