import { describe, expect, it } from 'vitest';
import { createPool, FramePool, RecycleRing } from '../../queues/pool.js';

describe('FramePool (page_pool-style)', () => {
  it('counts every path: fast, refill from recycle rings, empty, cached and ring returns', () => {
    const shared = createPool(100, 8, 2);
    const pool = new FramePool(shared);
    const got: number[] = [];
    for (let i = 0; i < 8; i++) got.push(pool.alloc());
    expect(got).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
    expect(pool.alloc()).toBe(-1);
    // The fast paths are counted in the pool object and reach the shared counters with publish().
    const c = () => {
      pool.publish();
      return pool.counters.snapshot();
    };
    expect(c().alloc_fast).toBe(8);
    expect(c().alloc_empty).toBe(1);
    // Two returners give frames back through their own rings; the owner frees one itself.
    const r0 = new RecycleRing(shared.rings[0]);
    const r1 = new RecycleRing(shared.rings[1]);
    r0.put(101);
    r0.put(103);
    r1.put(105);
    expect(pool.alloc()).toBe(-1); // staged, not yet published
    r0.flush();
    r1.flush();
    pool.free(107);
    expect(pool.alloc()).toBe(107); // the owner's own return is on the stack: fast path
    const refilled = [pool.alloc(), pool.alloc(), pool.alloc()].sort();
    expect(refilled).toEqual([101, 103, 105]);
    expect(pool.counters.snapshot()).toMatchObject({ alloc_fast: 8, recycle_cached: 0 }); // not yet published
    expect(c()).toMatchObject({ alloc_fast: 11, alloc_refill: 1, alloc_empty: 2, recycle_cached: 1, recycle_ring: 3, recycle_ring_full: 0 });
  });

  it('derives alloc_fast from the stack depth at publish: equal to the fast pops counted one by one, whatever the mix of paths', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const shared = createPool(0, 32, 1);
    const pool = new FramePool(shared);
    const r = new RecycleRing(shared.rings[0]);
    const held: number[] = [];
    const returning: number[] = [];
    let fast = 0;
    for (let step = 0; step < 20_000; step++) {
      const op = rand(10);
      if (op < 5) {
        // What path the pop takes: the stack was not empty (fast), or a refill preceded it.
        const before = pool.available();
        const f = pool.alloc();
        if (f >= 0) {
          held.push(f);
          if (before > 0) fast++;
        }
      } else if (op < 7 && held.length > 0) {
        pool.free(held.splice(rand(held.length), 1)[0]);
      } else if (op < 9 && held.length > 0) {
        const f = held.splice(rand(held.length), 1)[0];
        r.put(f);
        returning.push(f);
        if (rand(3) === 0) {
          r.flush();
          returning.length = 0;
        }
      } else {
        pool.publish();
        expect(pool.counters.snapshot().alloc_fast).toBe(fast);
      }
    }
    pool.publish();
    expect(pool.counters.snapshot().alloc_fast).toBe(fast);
    expect(fast).toBeGreaterThan(1000);
    expect(pool.counters.snapshot().alloc_refill).toBeGreaterThan(10);
  });

  it('recycle rings hold the whole pool, so returns never fail; a double return is reported', () => {
    const shared = createPool(0, 6, 1);
    const pool = new FramePool(shared);
    const frames = Array.from({ length: 6 }, () => pool.alloc());
    const r = new RecycleRing(shared.rings[0]);
    for (const f of frames) r.put(f);
    r.flush();
    expect(r.queued()).toBe(6);
    // Ring capacity is 8 (next power of two): two more returns fit, the third cannot.
    r.put(0);
    r.put(1);
    expect(() => r.put(2)).toThrow(/returned twice/);
  });
});
