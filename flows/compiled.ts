/**
 * A private, immutable compiled steering table, built from a published slot (shared.ts):
 * the matcher, per-rule actions, and per-RSS-context indirection tables, field selections
 * and Toeplitz tables. Built in `refresh()` (allocates); read on every packet (does not).
 */
import { KEY_WORDS } from './key.js';
import { Matcher, type MatcherRule } from './matcher.js';
import { N_CLASSES } from './packet.js';
import { C_FIELDS, C_INDIR, C_KEY, C_PRESENT, CTX_OFF, CTX_WORDS, RULE_WORDS, RULES_OFF } from './shared.js';
import { MAX_CONTEXTS } from './state.js';
import { MAX_HASH_INPUT, RSS_KEY_BYTES, fillToeplitzTable } from './toeplitz.js';

export class CompiledTable {
  readonly matcher: Matcher;
  readonly queues: number;
  readonly indirMask: number;
  /** Per rule (matcher order): action kind, queue, context (−1 none). */
  readonly kind: Uint8Array;
  readonly queue: Int32Array;
  readonly context: Int32Array;
  /** Per context: indirection table (INDIR entries at c × indirSize), fields per class. */
  readonly indir: Int32Array;
  readonly fields: Uint32Array;
  readonly present: Uint8Array;
  /** Per context: a Toeplitz table (null for absent contexts). */
  readonly toeplitz: (Uint32Array | null)[];
  readonly indirSize: number;
  /** Per context, the key bytes its Toeplitz table was built from. */
  readonly keys: number[][];

  /**
   * `slot` is a copied slot. `previous` lends its Toeplitz tables when a context's key
   * did not change (building one costs ~0.1 ms).
   */
  constructor(slot: Uint32Array, previous?: CompiledTable) {
    const n = slot[0];
    this.queues = slot[1];
    this.indirSize = slot[3];
    this.indirMask = this.indirSize - 1;
    const rules: MatcherRule[] = [];
    this.kind = new Uint8Array(n);
    this.queue = new Int32Array(n);
    this.context = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const o = RULES_OFF + i * RULE_WORDS;
      rules.push({ loc: slot[o], value: slot.subarray(o + 4, o + 4 + KEY_WORDS), mask: slot.subarray(o + 4 + KEY_WORDS, o + 4 + 2 * KEY_WORDS) });
      this.kind[i] = slot[o + 1];
      this.queue[i] = slot[o + 2];
      this.context[i] = slot[o + 3] === 0xffffffff ? -1 : slot[o + 3];
    }
    this.matcher = new Matcher(rules);
    this.indir = new Int32Array(MAX_CONTEXTS * this.indirSize);
    this.fields = new Uint32Array(MAX_CONTEXTS * N_CLASSES);
    this.present = new Uint8Array(MAX_CONTEXTS);
    this.toeplitz = [];
    this.keys = [];
    for (let c = 0; c < MAX_CONTEXTS; c++) {
      const o = CTX_OFF + c * CTX_WORDS;
      this.present[c] = slot[o + C_PRESENT];
      if (!this.present[c]) {
        this.toeplitz.push(null);
        this.keys.push([]);
        continue;
      }
      for (let i = 0; i < this.indirSize; i++) this.indir[c * this.indirSize + i] = slot[o + C_INDIR + i];
      for (let i = 0; i < N_CLASSES; i++) this.fields[c * N_CLASSES + i] = slot[o + C_FIELDS + i];
      const key = Array.from(slot.subarray(o + C_KEY, o + C_KEY + RSS_KEY_BYTES));
      this.keys.push(key);
      const old = previous?.toeplitz[c];
      const oldKey = previous?.keys[c];
      if (old && oldKey && oldKey.length === key.length && oldKey.every((b, i) => b === key[i])) this.toeplitz.push(old);
      else this.toeplitz.push(fillToeplitzTable(key, new Uint32Array(MAX_HASH_INPUT * 256)));
    }
  }
}
