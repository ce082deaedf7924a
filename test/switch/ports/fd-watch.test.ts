/**
 * FdWatch for an event-driven port (onReady): the port is woken whenever its descriptor turns
 * readable after it re-armed, however the watch thread's notify and the port's waits
 * interleave. The descriptor is a real eventfd watched by the real thread.
 */
import { afterEach, expect, it } from 'vitest';
import * as native from '../../../lib/native/index.js';
import { FdWatch } from '../../../switch/ports/net/fd-watch.js';
import type { PortIO } from '../../../switch/ports/port.js';
import { until } from '../../support/fake-io.js';
import { describeNeeding, missing } from '../../support/prereq.js';

const io = { log: () => undefined } as unknown as PortIO;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A watched eventfd whose onReady drains it and re-arms, as a port's receive does. */
async function watched(): Promise<{ watch: FdWatch; fd: number; armed: Int32Array; calls: () => number }> {
  const fd = native.eventfdCreate(0);
  let calls = 0;
  let watch: FdWatch | null = null;
  const onReady = (): void => {
    calls++;
    try {
      native.eventfdRead(fd);
    } catch {
      // empty (a recheck): nothing to read
    }
    watch!.arm();
  };
  watch = new FdWatch(io, fd, onReady);
  cleanups.push(async () => {
    await watch!.stop();
    native.close(fd);
  });
  watch.arm();
  await watch.online;
  return { watch, fd, armed: (watch as unknown as { armed: Int32Array }).armed, calls: () => calls };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeNeeding(missing({ native: true }), 'FdWatch (a watch thread polling an eventfd)')('FdWatch (event-driven port)', () => {
  it('wakes the port each time the descriptor turns readable', async () => {
    const w = await watched();
    for (let i = 1; i <= 20; i++) {
      native.eventfdWrite(w.fd, 1);
      await until(() => w.calls() >= i, `wake-up ${i}`, 900); // under the 1 s recheck: a real wake-up
    }
  });

  it("a notify that comes late (the thread's, for a round the port already saw) does not end the port's waiting", async () => {
    const w = await watched();
    // Armed, the thread in poll(), the port waiting on the word: the thread's notify of an
    // earlier round arrives now (a thread preempted between its store of 0 and its notify).
    await until(() => Atomics.load(w.armed, 0) === 1, 'armed', 2000);
    await sleep(50);
    const before = w.calls();
    Atomics.notify(w.armed, 0);
    await sleep(50);
    // Then the descriptor turns readable: the port must hear of it (before the 1 s recheck,
    // and at all: with the late notify dropped no wait and no recheck was left).
    native.eventfdWrite(w.fd, 1);
    await until(() => w.calls() > before, 'the wake-up after a late notify', 900);
    expect(w.calls()).toBe(before + 1);
  });
});
