/**
 * A doorbell: one shared Int32 word a consumer thread sleeps on.
 *
 * Every ring a thread consumes from holds a reference to that thread's doorbell. A consumer
 * with nothing to do sets NEEDS_WAKEUP on each of its input rings, re-checks them, and only
 * then sleeps on the word; a producer that sees the flag after a submit bumps the word and
 * notifies. The re-check after setting the flag closes the lost-wakeup race (see
 * Ring.submit). Sleeping always has a timeout so control requests are noticed even if a
 * notify was missed.
 */
/** Where a doorbell is, structured-cloneable: to hand a thread's doorbell to another thread. */
export interface DoorbellHandle {
  sab: SharedArrayBuffer;
  index: number;
}

export class Doorbell {
  constructor(
    readonly words: Int32Array,
    readonly index: number,
  ) {}

  static fromHandle(h: DoorbellHandle): Doorbell {
    return new Doorbell(new Int32Array(h.sab), h.index);
  }

  handle(): DoorbellHandle {
    return { sab: this.words.buffer as SharedArrayBuffer, index: this.index };
  }

  static create(): Doorbell {
    return new Doorbell(new Int32Array(new SharedArrayBuffer(4)), 0);
  }

  /** The value to pass to sleep(): read it before the final emptiness re-check. */
  read(): number {
    // Pairs with Atomics.add in ring().
    return Atomics.load(this.words, this.index);
  }

  /** Producer side: wake the consumer. */
  ring(): void {
    // The add changes the word so a consumer about to wait on the old value returns at once;
    // pairs with Atomics.wait in sleep().
    Atomics.add(this.words, this.index, 1);
    Atomics.notify(this.words, this.index, 1);
  }

  /** Consumer side (never on the main thread): block until rung or `timeoutMs` passes. */
  sleep(seen: number, timeoutMs: number): void {
    // Pairs with Atomics.add/notify in ring(): returns "not-equal" at once if rung since read().
    Atomics.wait(this.words, this.index, seen, timeoutMs);
  }

  /** Consumer side on a thread with an event loop (device threads, the main thread). */
  async sleepAsync(seen: number, timeoutMs: number): Promise<void> {
    // Same pairing as sleep(), without blocking the event loop.
    const r = Atomics.waitAsync(this.words, this.index, seen, timeoutMs);
    if (r.async) await r.value;
  }
}
