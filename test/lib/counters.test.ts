/**
 * A counter block read while its writer publishes: with beginWrite()/endWrite() around the
 * publish, every snapshot is one whole publish (packets = exits, as a queue's breath
 * leaves them); without, a reader catches a publish half done. The writer is a real thread.
 */
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { CounterBlock } from '../../lib/counters.js';

/** Snapshots taken while a writer thread publishes; how many showed packets ≠ exits. */
async function torn(bracket: boolean, reads: number): Promise<{ torn: number; moved: number }> {
  const b = new CounterBlock(['packets', 'exits']);
  const stop = new SharedArrayBuffer(4);
  const w = new Worker(new URL('./counter-writer.mjs', import.meta.url), { workerData: { shared: b.toShared(), bracket, stop } });
  const exited = new Promise((res, rej) => (w.once('exit', res), w.once('error', rej)));
  await new Promise((r) => w.once('online', r));
  let torn = 0;
  let last = -1;
  let moved = 0;
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < reads && Date.now() < deadline; i++) {
    const s = b.snapshot();
    if (s.packets !== s.exits) torn++;
    if (s.packets !== last) moved++;
    last = s.packets;
    if (!bracket && torn > 0) break; // the negative control has shown what it had to
  }
  // Pairs with the writer's Atomics.load of its stop word.
  Atomics.store(new Int32Array(stop), 0, 1);
  await exited;
  return { torn, moved };
}

describe('counter snapshots', () => {
  it('bracketed publishes are read whole: packets = exits in every snapshot of a live writer', async () => {
    const r = await torn(true, 200_000);
    expect(r.moved).toBeGreaterThan(1000); // the writer was publishing throughout
    expect(r.torn).toBe(0);
  });

  it('unbracketed publishes are caught half done (negative control)', async () => {
    const r = await torn(false, 50_000_000);
    expect(r.torn).toBeGreaterThan(0);
  });

  it('a writer that ended mid-publish does not hang its readers: the values come back after 20 ms', () => {
    const b = new CounterBlock(['packets', 'exits']);
    b.beginWrite();
    b.values[0] = 5;
    const t = performance.now();
    expect(b.snapshot()).toEqual({ packets: 5, exits: 0 });
    expect(performance.now() - t).toBeGreaterThanOrEqual(19);
    // Its successor finishes the publish: the sequence comes out even, reads are immediate.
    b.beginWrite();
    b.values[1] = 5;
    b.endWrite();
    expect(b.snapshot()).toEqual({ packets: 5, exits: 5 });
  });
});
