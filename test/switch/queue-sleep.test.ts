/**
 * A queue worker that sleeps on descriptors (FdSleeper, switch/queue-sleep.ts) wakes for
 * either reason it must: a descriptor becoming readable, or a producer ringing its doorbell
 * word the usual way (Atomics.add + notify, through the helper thread and the eventfd) —
 * each from another thread while this one is blocked in poll(). The timeouts are long
 * (5 s), so a wake-up that does not happen shows as a sleep that lasted the whole timeout.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import * as native from '../../lib/native/index.js';
import { FdSleeper } from '../../switch/queue-sleep.js';
import { describeNeeding, missing } from '../support/prereq.js';

const LONG_MS = 5000;

/** A thread that, after `ms`, rings the doorbell word or writes 1 to an eventfd. */
function later(ms: number, what: { doorbell: SharedArrayBuffer; index: number } | { fd: number }): Worker {
  return new Worker(
    `
    const { workerData: d } = require('node:worker_threads');
    setTimeout(() => {
      if (d.doorbell) { const w = new Int32Array(d.doorbell); Atomics.add(w, d.index, 1); Atomics.notify(w, d.index, 1); }
      else require('node:fs').writeSync(d.fd, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]));
    }, ${ms});
    `,
    { eval: true, workerData: what },
  );
}

describeNeeding(missing({ native: true }), 'FdSleeper')('FdSleeper: a worker blocked in poll() wakes for a descriptor and for its doorbell', () => {
  const bell = new Int32Array(new SharedArrayBuffer(16));
  const media = native.eventfdCreate(0);
  const sleeper = new FdSleeper(bell, 2, [media], (m) => {
    throw new Error(m);
  });

  afterAll(async () => {
    await sleeper.close();
    native.close(media);
  });

  const timed = (f: () => void) => {
    const t0 = performance.now();
    f();
    return performance.now() - t0;
  };

  it('wakes when a descriptor it watches becomes readable', async () => {
    const w = later(50, { fd: media });
    const ms = timed(() => sleeper.sleep(Atomics.load(bell, 2), LONG_MS));
    await new Promise((r) => w.once('exit', r));
    expect(ms).toBeLessThan(LONG_MS / 2);
    expect(native.eventfdRead(media)).toBe(1n);
  });

  it('wakes when a producer rings its doorbell word', async () => {
    const w = later(50, { doorbell: bell.buffer as SharedArrayBuffer, index: 2 });
    const ms = timed(() => sleeper.sleep(Atomics.load(bell, 2), LONG_MS));
    await new Promise((r) => w.once('exit', r));
    expect(ms).toBeLessThan(LONG_MS / 2);
  });

  it('does not sleep at all when rung since the value it was given', () => {
    const seen = Atomics.load(bell, 2);
    // A ring as Doorbell.ring does it (the notify also lets the helper thread see it now).
    Atomics.add(bell, 2, 1);
    Atomics.notify(bell, 2);
    expect(timed(() => sleeper.sleep(seen, LONG_MS))).toBeLessThan(LONG_MS / 2);
  });

  /**
   * The helper thread may still be catching up with an earlier test's ring; a worker that
   * raced it takes one spurious breath by design (queue-sleep.ts). Let it run, then take
   * that breath, so the timed sleeps below measure only what they are about.
   */
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 300));
    sleeper.sleep(Atomics.load(bell, 2), 0);
  };

  it('ignores its descriptors while told not to watch them (before start-ingress, after stop)', async () => {
    await settle();
    native.eventfdWrite(media, 1); // readable from now on
    sleeper.watch(false);
    const ms = timed(() => sleeper.sleep(Atomics.load(bell, 2), 300));
    sleeper.watch(true);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(timed(() => sleeper.sleep(Atomics.load(bell, 2), LONG_MS))).toBeLessThan(LONG_MS / 2);
    native.eventfdRead(media);
  });

  it('sleeps for the whole timeout when nothing happens', async () => {
    await settle();
    expect(timed(() => sleeper.sleep(Atomics.load(bell, 2), 300))).toBeGreaterThanOrEqual(250);
  });
});
