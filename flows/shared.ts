/**
 * A port's compiled steering configuration in shared memory, and how a change reaches the
 * device thread without stopping traffic.
 *
 * The control plane (main thread, one writer) encodes a PortSteering into one of two slots
 * of a SharedArrayBuffer; the device thread (one reader per port) copies the slot out and
 * compiles a private table (matcher, Toeplitz tables) in `refresh()` between batches, then
 * swaps it in: a packet is steered wholly by the old table or wholly by the new one.
 *
 *   words 0-15   kGen (published generation), on its own cache line
 *   words 16-31  kWriting (generation being written), on its own cache line
 *   slot 0, slot 1: SLOT_WORDS each; generation g lives in slot g & 1
 *
 * Writer (publish): Atomics.store(kWriting, g+1); write slot (g+1)&1; Atomics.store(kGen, g+1).
 * Reader (readSlot): g = Atomics.load(kGen); copy slot g&1; if Atomics.load(kWriting) ≥ g+2
 * the writer may have begun overwriting that slot (generation g+2 uses it) → discard and try
 * again at the next refresh. Every slot word is read and written with Atomics, so by the
 * memory model's total order of sequentially consistent operations a torn copy is always
 * detected. Publishing is rare (a command), so the cost of atomic copies does not matter.
 *
 * Slot layout (Uint32 words):
 *   0 rule count, 1 channels (queues), 2 max queues, 3 indirection table size
 *   CTX_OFF + c × CTX_WORDS: present, hfunc, key[40] (a byte per word), indir[128], fields[11]
 *   RULES_OFF + i × RULE_WORDS: loc, action kind, queue, context (0xffffffff = none),
 *                               value[20] (already masked), mask[20]
 */
import { FLOW_RSS, KEY_WORDS } from './key.js';
import { N_CLASSES, PARSE_REASONS } from './packet.js';
import { actionOf } from './rule.js';
import { INDIR_SIZE, MAX_CONTEXTS, RULE_TABLE_SIZE, type PortSteering } from './state.js';
import { RSS_KEY_BYTES } from './toeplitz.js';
import { CounterBlock, type SharedCounters } from '../lib/counters.js';

const kGen = 0;
const kWriting = 16;
const kHeaderWords = 32;

export const CTX_OFF = 8;
const C_PRESENT = 0, C_HFUNC = 1, C_KEY = 2, C_INDIR = C_KEY + RSS_KEY_BYTES, C_FIELDS = C_INDIR + INDIR_SIZE;
export const CTX_WORDS = C_FIELDS + N_CLASSES;
export const RULES_OFF = CTX_OFF + MAX_CONTEXTS * CTX_WORDS;
export const RULE_WORDS = 4 + 2 * KEY_WORDS;
export const SLOT_WORDS = RULES_OFF + RULE_TABLE_SIZE * RULE_WORDS;
export const NO_CONTEXT = 0xffffffff;

/**
 * Steering counters (ethtool -S style names). Every packet the hook sees is counted in
 * exactly one of the first three; the reason counters say why a packet fell back to L2
 * or queue 0 (a subset of the first three, not an exit).
 */
export const STEER_COUNTERS = [
  'rx_steer_rule', // matched a rule that names a queue (or a context + offset)
  'rx_steer_rss', // no rule: RSS hash and indirection table
  'rx_steer_drop', // rule action -1 (drop) or -2 (wake-on-LAN), or rx-flow-hash `r`
  'rx_steer_queue_fallback', // computed queue was past the channel count: sent to queue 0
  ...PARSE_REASONS.slice(1).map((r) => `rx_steer_${r}`),
];
/** Indices into STEER_COUNTERS (reason r ≥ 1 is at ReasonBase + r). */
export const enum SC { Rule = 0, Rss = 1, Drop = 2, QueueFallback = 3, ReasonBase = 3 }

/** What crosses to a device thread in workerData (structured-cloneable). */
export interface SharedSteering {
  port: string;
  table: SharedArrayBuffer;
  counters: SharedCounters;
}

export function newSharedSteering(port: string): SharedSteering {
  return {
    port,
    table: new SharedArrayBuffer((kHeaderWords + 2 * SLOT_WORDS) * 4),
    counters: new CounterBlock(STEER_COUNTERS).toShared(),
  };
}

/** Encodes `st` as the next generation (writer side; main thread). */
export function publish(shared: SharedSteering, st: PortSteering): number {
  const i32 = new Int32Array(shared.table);
  const g = Atomics.load(i32, kGen) + 1; // single writer: nobody else moves kGen
  Atomics.store(i32, kWriting, g); // pairs with the reader's Atomics.load(kWriting) in readSlot
  const base = kHeaderWords + (g & 1) * SLOT_WORDS;
  const put = (off: number, v: number) => Atomics.store(i32, base + off, v | 0); // read by readSlot's Atomics.load
  const rules = st.sortedRules();
  put(0, rules.length);
  put(1, st.queues);
  put(2, st.maxQueues);
  put(3, INDIR_SIZE);
  for (let c = 0; c < MAX_CONTEXTS; c++) {
    const ctx = st.contexts.get(c);
    const o = CTX_OFF + c * CTX_WORDS;
    put(o + C_PRESENT, ctx ? 1 : 0);
    if (!ctx) continue;
    put(o + C_HFUNC, ctx.hfunc);
    for (let i = 0; i < RSS_KEY_BYTES; i++) put(o + C_KEY + i, ctx.key[i]);
    for (let i = 0; i < INDIR_SIZE; i++) put(o + C_INDIR + i, ctx.indir[i]);
    for (let i = 0; i < N_CLASSES; i++) put(o + C_FIELDS + i, ctx.fields[i]);
  }
  rules.forEach((r, i) => {
    const o = RULES_OFF + i * RULE_WORDS;
    const a = actionOf(r);
    put(o, r.loc!);
    put(o + 1, a.kind);
    put(o + 2, a.queue);
    put(o + 3, r.flags & FLOW_RSS ? r.context : NO_CONTEXT);
    for (let w = 0; w < KEY_WORDS; w++) {
      put(o + 4 + w, r.value[w] & r.mask[w]);
      put(o + 4 + KEY_WORDS + w, r.mask[w]);
    }
  });
  Atomics.store(i32, kGen, g); // pairs with the reader's first Atomics.load(kGen) in readSlot
  return g;
}

/** The published generation (cheap; the reader's per-refresh check). */
export function generation(i32: Int32Array): number {
  return Atomics.load(i32, kGen); // pairs with the final Atomics.store(kGen) in publish
}

/**
 * Copies the published slot into `out` (SLOT_WORDS words). Returns its generation, or −1
 * if the writer overtook the copy (try again later) or nothing was published yet.
 */
export function readSlot(i32: Int32Array, out: Uint32Array): number {
  const g = Atomics.load(i32, kGen); // pairs with the final Atomics.store(kGen) in publish
  if (g === 0) return -1;
  const base = kHeaderWords + (g & 1) * SLOT_WORDS;
  const n = Atomics.load(i32, base); // rule count decides how much of the slot matters
  const used = n >= 0 && n <= RULE_TABLE_SIZE ? RULES_OFF + n * RULE_WORDS : SLOT_WORDS;
  for (let i = 0; i < used; i++) out[i] = Atomics.load(i32, base + i); // pairs with put() in publish
  // pairs with Atomics.store(kWriting) in publish: generation g+2 rewrites this slot
  if (Atomics.load(i32, kWriting) >= g + 2) return -1;
  return g;
}

export { C_PRESENT, C_HFUNC, C_KEY, C_INDIR, C_FIELDS };
