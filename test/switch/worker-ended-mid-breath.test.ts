/**
 * A breath publishes many words: the inputs' consumer indices, the tx rings' producer
 * indices, the pool's depth, the queue's counters. A worker ended part-way through them (a
 * test's `worker.terminate()` lands anywhere) once left counters whose packets outnumbered
 * their exits by a breath (CI: "expected 64 to be +0" on `unaccounted` after a killed
 * worker). The breath is now committed to a journal first and its successor stores it again
 * (switch/breath-journal.ts): ended at any step, the breath counts and moves once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLayout } from '../../switch/layout.js';
import { QueueEngine } from '../../switch/queue-engine.js';
import { frameAccounting } from '../../switch/accounting.js';
import { BreathJournal } from '../../switch/breath-journal.js';
import { Ring } from '../../queues/ring.js';
import { FramePool } from '../../queues/pool.js';
import { CounterBlock } from '../../lib/counters.js';
import { QUEUE_EXIT_COUNTERS } from '../../switch/counters.js';
import { XDP_TX } from '../../programs/verdicts.js';
import { CONFIG_DEFAULTS } from '../../switch/config-types.js';
import type { QueuePort } from '../../switch/ports/port.js';

const FRAMES = 5;

function rig() {
  const cfg = { ...CONFIG_DEFAULTS, queues: 1, poolFrames: 64, ringSize: 64, ports: [{ name: 'g', type: 'null' }], programs: [] };
  const layout = createLayout(cfg, []);
  const engine = new QueueEngine(layout, 0, () => XDP_TX);
  const io = engine.attachQueueSide(0, 'g', true, false, () => {});
  // A side that takes five frames per poll, once; the program sends each back out (XDP_TX)
  // onto port g's tx ring, which no device drains here: they stay queued there.
  let polled = false;
  io.side = {
    poll() {
      if (polled) return 0;
      polled = true;
      for (let i = 0; i < FRAMES; i++) io.submit(io.allocFrame(), 60, 0);
      return FRAMES;
    },
  } as unknown as QueuePort;
  engine.sidesOpened();
  engine.ingressOpen = true;
  return { layout, engine };
}

/** What the queue's shared counters say: packets, and the sum of its exit counters. */
function counted(layout: ReturnType<typeof createLayout>): { packets: number; exits: number; tx: number } {
  const b = CounterBlock.fromShared(layout.queueCounters[0]);
  let exits = 0;
  for (const n of QUEUE_EXIT_COUNTERS) exits += b.get(n);
  return { packets: b.get('packets'), exits, tx: b.get('xdp_tx_xmit') };
}

type Proto = Record<string, (...a: unknown[]) => unknown>;
const restore: (() => void)[] = [];
afterEach(() => {
  while (restore.length > 0) restore.pop()!();
});

/** The `nth` call of `proto[method]` ends the "thread" (throws), as a terminate there would. */
function endAt(proto: object, method: string, nth = 1): void {
  const p = proto as Proto;
  const own = p[method];
  let calls = 0;
  p[method] = function (this: unknown, ...a: unknown[]) {
    if (++calls === nth) throw new Error('terminated');
    return own.apply(this, a);
  };
  restore.push(() => {
    p[method] = own;
  });
}

const steps: [string, object, string, number][] = [
  ['before the commit (nothing published: the successor redoes the breath)', BreathJournal.prototype, 'commit', 1],
  ['after the commit, before the inputs’ release', Ring.prototype, 'release', 1],
  ['after the release, before the tx ring’s submit', Ring.prototype, 'submit', 2],
  ['after the submit, before the pool’s depth', FramePool.prototype, 'publish', 2],
  ['half-way through the counters', BreathJournal.prototype, 'store', 2],
  ['after everything, before the journal is cleared', BreathJournal.prototype, 'done', 1],
];

describe('a queue worker ended in the middle of publishing a breath', () => {
  for (const [when, proto, method, nth] of steps) {
    it(`${when}: every packet counted once, every frame in one place`, () => {
      const { layout, engine } = rig();
      endAt(proto, method, nth);
      expect(() => engine.breathe()).toThrow('terminated');
      restore.pop()!();
      const successor = new QueueEngine(layout, 0, () => XDP_TX);
      successor.breathe();
      expect(counted(layout)).toEqual({ packets: FRAMES, exits: FRAMES, tx: FRAMES });
      const a = frameAccounting(layout);
      // The five frames sit on port g's tx ring (no device drains it here), once each.
      expect(a).toMatchObject({ queued: FRAMES, inFlight: 0, doubled: 0 });
      expect(a.free).toBe(a.total - FRAMES);
      expect(new Ring(layout.tx[0][0]).count()).toBe(FRAMES);
    });
  }

  it('a breath that published everything leaves nothing to replay', () => {
    const { layout, engine } = rig();
    engine.breathe();
    new QueueEngine(layout, 0, () => XDP_TX).breathe();
    expect(counted(layout)).toEqual({ packets: FRAMES, exits: FRAMES, tx: FRAMES });
    expect(new Ring(layout.tx[0][0]).count()).toBe(FRAMES);
  });
});
