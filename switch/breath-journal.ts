/**
 * A breath's publication made all-or-nothing for a worker that ends anywhere in it.
 *
 * A breath ends by publishing many words: the input rings' consumer indices, the tx and cpu
 * rings' producer indices, the recycle rings', the pool's depths, and the queue's counters.
 * A thread ended part-way (a test's `worker.terminate()`, the watchdog's) would leave some
 * published and some not: counters whose packets outnumber their exits, or inputs released
 * whose frames never reached the tx ring. So the worker first writes every value the breath
 * will store into this journal and commits it with one store; then publishes as before; then
 * clears it. A successor that finds a committed journal stores the same values again. Every
 * value is absolute (an index, a depth, a counter's total), so storing it twice is storing it
 * once: the successor ends with either none of the breath (the journal was not committed: it
 * redoes the breath from the inputs) or all of it. This is the recovery a write-ahead log
 * gives a database, for ~20 plain stores a breath.
 *
 *   Int32 words  [0] entries committed (0: nothing to replay)   [1] counter entries
 *                [2 + 2k, 3 + 2k] target id, value               (k < words)
 *   Float64      [2k, 2k + 1] counter index, total                (after the Int32 part)
 *
 * Single writer (the worker that runs the queue); the successor reads it only after its
 * predecessor ended.
 */
export class BreathJournal {
  private readonly w: Int32Array;
  /**
   * The journal's Float64 part: (counter index, total) pairs. The engine stores each total
   * here itself (see count()).
   */
  readonly totals: Float64Array;
  private readonly targets: Int32Array[] = [];
  private readonly at: number[] = [];
  private n = 0;
  private m = 0;

  /** Bytes of a journal for `words` target words and `counters` counters. */
  static bytes(words: number, counters: number): number {
    return (2 + 2 * words) * 4 + 4 + 2 * counters * 8;
  }

  constructor(
    sab: SharedArrayBuffer,
    private readonly words: number,
    private readonly counters: number,
  ) {
    this.w = new Int32Array(sab, 0, 2 + 2 * words);
    // Doubles start on an 8-byte boundary after the Int32 part.
    const dOff = Math.ceil(((2 + 2 * words) * 4) / 8) * 8;
    this.totals = new Float64Array(sab, dOff, 2 * counters);
  }

  /**
   * Names word `index` of `words` (a ring's producer or consumer index, a pool's depth) as a
   * target; returns its id. Every incarnation of the worker registers the same words in the
   * same order (off the hot path).
   */
  target(words: Int32Array, index: number): number {
    if (this.targets.length === this.words) throw new RangeError(`breath journal: more than ${this.words} target words`);
    this.targets.push(words);
    this.at.push(index);
    return this.targets.length - 1;
  }

  /** Stages: target `id` will hold `value`. */
  word(id: number, value: number): void {
    const k = 2 + 2 * this.n++;
    this.w[k] = id;
    this.w[k + 1] = value;
  }

  /**
   * Stages: counter `index` will hold `base[index] + n` (n: a breath's count, a small
   * integer). The sum is made here, not by the caller: past 2^31 (a queue's bytes, within
   * seconds) it is a double, and a double passed to a call the compiler did not inline is
   * boxed, 16 bytes of heap a breath (a CI run's allocation test caught it); so is one that
   * a caller left unoptimized computes (docs/architecture.md §3, "Code V8 leaves
   * unoptimized"). This method has no loop, so V8 optimizes it whole.
   */
  add(index: number, base: Float64Array, n: number): void {
    const k = 2 * this.m++;
    this.totals[k] = index;
    this.totals[k + 1] = base[index] + n;
  }

  /** Counter entries staged so far (the worker applies them from here). */
  counterEntries(): number {
    return this.m;
  }

  /** Stores staged counter entry k into `values` (its loop is the caller's, its double here: see add()). */
  store(k: number, values: Float64Array): void {
    values[this.totals[2 * k]] = this.totals[2 * k + 1];
  }

  /** The staged values are the breath: from here a successor finishes it. */
  commit(): void {
    this.w[1] = this.m;
    // Pairs with replay()'s Atomics.load: the entries above are visible before the count.
    Atomics.store(this.w, 0, this.n + 1);
  }

  /** Everything committed was published. */
  done(): void {
    // A plain store (an Atomics.store is a locked instruction, ~1% of a drop breath): only a
    // successor reads it, after this thread ended, and the next commit's Atomics.store keeps
    // it ahead of the next breath's entries. Pairs with replay()'s Atomics.load.
    this.w[0] = 0;
    this.n = 0;
    this.m = 0;
  }

  /**
   * A successor's start: stores what a committed journal holds (the counters into
   * `counterValues`); returns whether there was one. The caller reloads its rings' and
   * pool's local indices afterwards.
   */
  replay(counterValues: Float64Array): boolean {
    // Pairs with commit()'s/done()'s Atomics.store by the predecessor, which has ended.
    const committed = Atomics.load(this.w, 0);
    this.n = 0;
    this.m = 0;
    if (committed === 0) return false;
    const n = Math.min(committed - 1, this.words);
    for (let k = 0; k < n; k++) {
      const id = this.w[2 + 2 * k];
      if (id < 0 || id >= this.targets.length) continue;
      // Pairs with the Atomics.load of whichever thread consumes or produces on this word.
      Atomics.store(this.targets[id], this.at[id], this.w[3 + 2 * k]);
    }
    const m = Math.min(this.w[1], this.counters);
    for (let k = 0; k < m; k++) {
      const i = this.totals[2 * k];
      if (i >= 0 && i < counterValues.length) counterValues[i] = this.totals[2 * k + 1];
    }
    // Pairs with the next commit()'s store by this successor: replayed once.
    Atomics.store(this.w, 0, 0);
    return true;
  }
}
