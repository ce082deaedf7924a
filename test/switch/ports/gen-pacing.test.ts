/**
 * A paced generator (`rate`) releases packets in batches of what 1 ms brings (capped by a
 * poll's budget), never one by one as they fall due. One by one, a poll found a packet or
 * two due every few microseconds, so the thread polling it never went idle: the generator's
 * thread and every worker it fed spun at 100% of a core at any rate (the demo at 100,000
 * packets/s), more spinning threads than the 2 cores, and the capture file's device thread
 * waited for CPU while rings filled (rx_ring_full, and xdp_tx_full toward the capture).
 *
 * What is checked is structural, not timed: whenever a poll produces anything, it produces
 * a whole batch (or what is left of a count). Spinning on the poll for a while must see
 * some batches; a poll that released fewer would fail whatever the machine's load.
 */
import { describe, expect, it } from 'vitest';
import gen, { paceBatch } from '../../../switch/ports/gen.js';
import { PORT_COUNTERS, P } from '../../../switch/counters.js';
import type { PortIO, QueueIO } from '../../../switch/ports/port.js';

const FRAMES = 4096;
const area = new Uint8Array(new SharedArrayBuffer(FRAMES * 2048));

/** Either side's IO: a pool that never runs dry (frames come back at once), submits counted. */
function fakeIO(queue = 0, queues = 1): PortIO & QueueIO {
  const counters = new Float64Array(PORT_COUNTERS.length);
  let next = 0;
  const submit = (): boolean => {
    counters[P.rx_packets]++;
    return true;
  };
  return {
    name: 'gen0',
    ifindex: 1,
    queue,
    queues,
    frameSize: 2048,
    maxFrameLength: 1792,
    area,
    written: new Int32Array(FRAMES).fill(-1),
    counters,
    allocFrame: () => (next = (next + 1) % FRAMES),
    dataOffset: (f: number) => f * 2048 + 256,
    room: () => 64,
    receive: () => true,
    submit,
    submitHashed: submit,
    flush() {},
    count() {},
    counterIndex: (n: string) => PORT_COUNTERS.indexOf(n as never),
    log() {},
  };
}

/** Polls for `ms` of wall time; returns every non-zero result. */
function spin(poll: (budget: number) => number, ms: number): number[] {
  const got: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const n = poll(64);
    if (n !== 0) got.push(n);
  }
  return got;
}

describe('gen: a paced generator releases whole batches', () => {
  it('the batch is what 1 ms brings, at least one packet', () => {
    expect([paceBatch(100_000), paceBatch(50_000), paceBatch(1_000), paceBatch(10), paceBatch(0)]).toEqual([100, 50, 1, 1, 1]);
  });

  it('device thread (thread: device): at 100,000 packets/s every poll that produces gives a full budget of 64', async () => {
    const port = gen.create({ name: 'gen0', type: 'gen', rate: 100_000, thread: 'device' });
    await port.open(fakeIO());
    const got = spin((b) => port.poll!(b), 30);
    expect(got.length).toBeGreaterThan(0);
    expect(new Set(got)).toEqual(new Set([64]));
  });

  it('queue side: at 40,000 packets/s, the queue that owns the one flow releases 40 to 64 at a time; the other has finished', () => {
    const sides = [0, 1].map((q) => gen.openQueue!({ name: 'gen0', type: 'gen', rate: 40_000, flows: 1 }, fakeIO(q, 2)));
    const got = sides.map((side) => spin((b) => side.poll!(b), 30));
    const owner = got[0].includes(-1) ? 1 : 0;
    expect(got[1 - owner]).toEqual(new Array(got[1 - owner].length).fill(-1));
    expect(got[owner].length).toBeGreaterThan(0);
    for (const n of got[owner]) expect(n >= 40 && n <= 64, `a poll released ${n}`).toBe(true);
  });

  it('a count still ends exactly: the last batch is what is left', async () => {
    const port = gen.create({ name: 'gen0', type: 'gen', rate: 100_000, count: 1000, thread: 'device' });
    const io = fakeIO();
    await port.open(io);
    const got: number[] = [];
    for (let n = 0; n >= 0; ) {
      n = port.poll!(64);
      if (n > 0) got.push(n);
    }
    expect(got.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(got.slice(0, -1).every((n) => n === 64)).toBe(true);
    expect(got.at(-1)).toBe(1000 - 64 * 15);
  });
});
