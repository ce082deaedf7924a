/**
 * A queue side's poll publishes in two steps: the pool's stack depth, then the rx ring's
 * descriptors (so no frame is ever both free and queued). A worker ended between the two —
 * the watchdog's or a test's terminate — left the poll's frames out of the pool and off the
 * ring: "in flight" for ever (seen under load in run-to-completion's restart test). Its
 * successor now finishes the submit from the intent the poll recorded.
 */
import { describe, expect, it } from 'vitest';
import { createLayout } from '../../switch/layout.js';
import { QueueEngine } from '../../switch/queue-engine.js';
import { frameAccounting } from '../../switch/accounting.js';
import { Ring } from '../../queues/ring.js';
import { XDP_DROP } from '../../programs/verdicts.js';
import { CONFIG_DEFAULTS } from '../../switch/config-types.js';
import type { QueuePort } from '../../switch/ports/port.js';

function rig() {
  const cfg = { ...CONFIG_DEFAULTS, queues: 1, poolFrames: 64, ringSize: 64, ports: [{ name: 'g', type: 'null' }], programs: [] };
  const layout = createLayout(cfg, []);
  const engine = new QueueEngine(layout, 0, () => XDP_DROP);
  const io = engine.attachQueueSide(0, 'g', true, false, () => {});
  // A side that takes five frames per poll (as gen's does), each with a 60-byte frame.
  io.side = {
    poll() {
      for (let i = 0; i < 5; i++) io.submit(io.allocFrame(), 60, 0);
      return 5;
    },
  } as unknown as QueuePort;
  engine.sidesOpened();
  return { layout, io };
}

/** Runs `f` with Ring.submit ending the "thread" (throwing) the first time it is called. */
function endAtSubmit(f: () => void): void {
  const submit = Ring.prototype.submit;
  Ring.prototype.submit = function () {
    throw new Error('terminated');
  };
  try {
    expect(f).toThrow('terminated');
  } finally {
    Ring.prototype.submit = submit;
  }
}

describe('a queue worker ended in the middle of a poll', () => {
  it('between the pool’s publish and the ring’s submit: the successor submits the frames and runs them', () => {
    const { layout, io } = rig();
    endAtSubmit(() => io.poll(64));
    expect(frameAccounting(layout).inFlight).toBe(5); // what was lost before the successor finished it
    const successor = new QueueEngine(layout, 0, () => XDP_DROP);
    expect(frameAccounting(layout)).toMatchObject({ queued: 5, inFlight: 0, doubled: 0 });
    successor.breathe();
    const a = frameAccounting(layout);
    expect(a).toMatchObject({ queued: 0, inFlight: 0, doubled: 0 });
    expect(a.free).toBe(a.total);
  });

  it('after the submit: nothing to finish, nothing submitted twice', () => {
    const { layout, io } = rig();
    io.poll(64);
    new QueueEngine(layout, 0, () => XDP_DROP);
    expect(frameAccounting(layout)).toMatchObject({ queued: 5, inFlight: 0, doubled: 0 });
  });

  it('before the pool’s publish: the frames are still free in the published pool; nothing is submitted', () => {
    const { layout, io } = rig();
    const publish = (io as unknown as { pool: { publish(): void } }).pool;
    const own = publish.publish;
    publish.publish = () => {
      throw new Error('terminated');
    };
    expect(() => io.poll(64)).toThrow('terminated');
    publish.publish = own;
    new QueueEngine(layout, 0, () => XDP_DROP);
    const a = frameAccounting(layout);
    expect(a).toMatchObject({ queued: 0, inFlight: 0, doubled: 0 });
    expect(a.free).toBe(a.total);
  });
});
