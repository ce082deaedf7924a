import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { Ring } from '../../queues/ring.js';
import { Doorbell } from '../../queues/doorbell.js';
import { DESC_WORDS } from '../../queues/frames.js';

/** xorshift32: the seeded sequence both sides of a ring test agree on. */
function* seq(seed: number): Generator<number> {
  let x = seed | 0 || 1;
  for (;;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    yield x | 0;
  }
}

describe('Ring', () => {
  it('keeps order and fill level across the 2^32 index wrap', () => {
    const r = Ring.create(16, 1, 0xfffffff0);
    const prod = new Ring(r.sab);
    const cons = new Ring(r.sab);
    let next = 0;
    let expect_ = 0;
    for (let round = 0; round < 100; round++) {
      const n = prod.reserve(5);
      for (let k = 0; k < n; k++) prod.words[prod.slotOf(k)] = next++;
      prod.submit(n);
      expect(cons.count()).toBe(n);
      const m = cons.peek(16);
      expect(m).toBe(n);
      for (let k = 0; k < m; k++) expect(cons.words[cons.entryOf(k)]).toBe(expect_++);
      cons.release(m);
    }
    // 500 entries went through a ring that started 16 short of the wrap.
    expect(next).toBe(500);
    expect(cons.isEmpty()).toBe(true);
  });

  it('a full ring grants exactly the free slots and drops the overflow', () => {
    const r = Ring.create(8, DESC_WORDS, 0xfffffffc);
    expect(r.reserve(20)).toBe(8);
    r.submit(8);
    expect(r.reserve(1)).toBe(0);
    let accepted = 0;
    let dropped = 0;
    for (let i = 0; i < 13; i++) (r.push1(i) ? accepted++ : dropped++);
    expect(accepted).toBe(0);
    expect(dropped).toBe(13);
    const c = new Ring(r.sab);
    expect(c.peek(3)).toBe(3);
    c.release(3);
    for (let i = 0; i < 13; i++) (r.push1(i) ? accepted++ : dropped++);
    expect(accepted).toBe(3);
    expect(dropped).toBe(23);
    expect(c.count()).toBe(8);
  });

  it('rejects sizes that are not a power of two', () => {
    expect(() => Ring.create(12, 1)).toThrow(/power of two/);
    expect(() => Ring.create(8, 0)).toThrow(/width/);
  });

  it('wakes a sleeping consumer only when it asked (NEEDS_WAKEUP)', () => {
    const r = Ring.create(8, 1);
    const bell = Doorbell.create();
    r.attachDoorbell(bell);
    const before = bell.read();
    r.push1(1);
    expect(bell.read()).toBe(before); // nobody asked
    new Ring(r.sab).setNeedsWakeup();
    r.push1(2);
    expect(bell.read()).toBe(before + 1);
  });

  it('a seeded sequence pushed through a real Worker arrives complete and in order, going round the ring many times', async () => {
    const ring = Ring.create(64, DESC_WORDS, 0xffffff00);
    const bell = Doorbell.create();
    const total = 300_000;
    const worker = new Worker(new URL('./ring-verifier.mjs', import.meta.url), {
      workerData: { ring: ring.sab, bell: bell.words.buffer, total, seed: 12345 },
    });
    const result = new Promise<{ ok: boolean; got: number; error?: string }>((res, rej) => {
      worker.once('message', res);
      worker.once('error', rej);
    });
    ring.attachDoorbell(bell);
    const gen = seq(12345);
    let sent = 0;
    while (sent < total) {
      const n = ring.reserve(Math.min(37, total - sent)); // odd batch size: straddles the wrap differently each lap
      for (let k = 0; k < n; k++) {
        const o = ring.slotOf(k);
        const v = gen.next().value as number;
        ring.words[o] = v;
        ring.words[o + 1] = ~v;
        ring.words[o + 2] = sent + k;
        ring.words[o + 3] = 7;
      }
      ring.submit(n);
      sent += n;
      if (n === 0) await new Promise((r) => setImmediate(r));
    }
    const r = await result;
    await worker.terminate();
    expect(r.error).toBeUndefined();
    expect(r.got).toBe(total);
    expect(r.ok).toBe(true);
  });
});
