/**
 * need_wakeup through the queue worker's own doorbell: an application that attached the
 * handle bindXsk returns rings the worker when it posts TX (or FILL), so a worker with
 * sockets bound sleeps until rung instead of looking every millisecond. Measured on a real
 * switch by its `sleeps` counter (one per sleep: ~1000 a second when polling every 1 ms)
 * and by the worker's doorbell word (bumped by every ring).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../../switch/config-types.js';
import { Switch } from '../../../switch/switch.js';
import { createXskShared } from '../../../switch/endpoints/xsk-shared.js';
import { XskSocket } from '../../../switch/endpoints/xsk-socket.js';
import { bindXsk } from '../../../switch/endpoints/xsk-bind.js';
import { startXskApp } from '../../../switch/endpoints/xsk-app.js';
import { kRingsWorker } from '../../../switch/endpoints/xsk-shared.js';

let sw: Switch | null = null;
afterEach(async () => {
  if (sw) await sw.stop().catch(() => {});
  sw = null;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Sleeps the worker of queue 0 took over `ms`, while nothing is sent. */
async function sleepsOver(s: Switch, ms: number): Promise<number> {
  const a = s.flatStats().rx0_sleeps;
  await sleep(ms);
  return s.flatStats().rx0_sleeps - a;
}

describe('xsk need_wakeup rings the queue worker', () => {
  it('a bound socket whose app rings the worker lets it sleep until rung, and its TX still wakes it', async () => {
    sw = await Switch.start({
      ...CONFIG_DEFAULTS,
      queues: 1,
      ports: [{ name: 'out0', type: 'null' }],
      programs: [{ queues: [0], chain: [{ name: 'drop', params: {}, continueOn: [] }] }],
    } as SwitchConfig);
    const shared = createXskShared({ frames: 256, ringSize: 128 });
    const sock = XskSocket.attach(shared);
    const bell = await bindXsk(sw, shared, 'out0', 0, 0);

    // Not attached yet: the worker cannot be woken by the app, so it polls every millisecond.
    const polling = await sleepsOver(sw, 1000);
    expect(polling).toBeGreaterThan(200);

    sock.attachSwitchBell(bell);
    await sleep(300); // the worker's current short sleep ends; from now on it sleeps long
    const resting = await sleepsOver(sw, 1000);
    expect(resting).toBeLessThan(polling / 5);

    // Asleep, it is woken by the app's TX: the ring rang the worker's own doorbell word.
    const word = new Int32Array(bell.sab);
    const rung = Atomics.load(word, bell.index);
    const frame = new Uint8Array(60).fill(0xab);
    expect(sock.send(frame, 0, frame.length)).toBe(true);
    sock.flushTx();
    expect(Atomics.load(word, bell.index)).toBeGreaterThan(rung);
    await until(() => sw!.flatStats()['out0.tx_packets'] === 1, 'the frame out of out0');
  });

  it('an app in its own thread gets the doorbell through XskApp.attachSwitchBell, and the worker rests', async () => {
    sw = await Switch.start({
      ...CONFIG_DEFAULTS,
      queues: 1,
      ports: [{ name: 'out0', type: 'null' }],
      programs: [{ queues: [0], chain: [{ name: 'drop', params: {}, continueOn: [] }] }],
    } as SwitchConfig);
    const shared = createXskShared({ frames: 256, ringSize: 128 });
    const app = await startXskApp('examples/xsk/rx-drop', shared);
    try {
      app.attachSwitchBell(await bindXsk(sw, shared, 'out0', 0, 0));
      // The app loop (no event loop of its own) picked the handle up and attached it.
      await until(() => Atomics.load(new Int32Array(shared.wake), kRingsWorker) === 1, 'the app to attach the bell');
      await sleep(300);
      expect(await sleepsOver(sw, 1000)).toBeLessThan(50);
    } finally {
      await app.stop();
    }
  });
});
