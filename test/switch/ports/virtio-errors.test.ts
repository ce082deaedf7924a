/**
 * An error out of the virtio device (a bug, not the guest) is counted (device_errors),
 * logged at most once a second whatever its rate, and marks the device
 * DEVICE_NEEDS_RESET so a half-done operation cannot go on touching the guest's rings.
 */
import { describe, expect, it } from 'vitest';
import virtio from '../../../switch/ports/virtio.js';
import { VIRTIO_COUNTERS, type VirtioNetDevice } from '../../../switch/endpoints/virtio-net-device.js';
import * as V from '../../../queues/virtqueue.js';
import { RawGuest } from '../endpoints/virtio/raw-guest.js';
import { ErrorReport } from '../../../switch/error-report.js';

async function openPort() {
  const port = virtio.create({ name: 'vm0', type: 'virtio' });
  const counters = new Float64Array(VIRTIO_COUNTERS.length);
  const logs: string[] = [];
  await port.open({ name: 'vm0', ifindex: 1, counters, counterIndex: () => 0, log: (_l: string, m: string) => logs.push(m), receive: () => true } as never);
  const dev = (port as unknown as { dev: VirtioNetDevice }).dev;
  const count = (n: string) => counters[VIRTIO_COUNTERS.indexOf(n as never)];
  return { port, dev, logs, count };
}

describe('virtio port: errors out of the device', () => {
  it('are counted, logged once a second at most, and leave the device NEEDS_RESET', async () => {
    const { port, dev, logs, count } = await openPort();
    const g = new RawGuest(dev);
    expect(g.up() & V.STATUS_DRIVER_OK).toBe(V.STATUS_DRIVER_OK);
    // Fault injection: the device's own poll and transmit throw on every call.
    dev.poll = () => {
      throw new Error('injected poll fault');
    };
    dev.transmit = () => {
      throw new Error('injected transmit fault');
    };
    const t0 = Date.now();
    for (let i = 0; i < 5000; i++) {
      expect(port.poll!(64)).toBe(0);
      expect(port.transmit(new Uint8Array(64), 0, 64, 0)).toBe(false);
    }
    const seconds = (Date.now() - t0) / 1000;
    expect(count('device_errors')).toBe(10_000);
    expect(logs[0]).toBe('port vm0: virtio poll: injected poll fault; device marked DEVICE_NEEDS_RESET until the guest resets it');
    // One line, plus at most one a second for the rest, each saying how many it stands for.
    expect(logs.length).toBeLessThanOrEqual(1 + Math.floor(seconds));
    for (const l of logs.slice(1)) expect(l).toMatch(/\(\d+ errors since the last report\)$/);
    // The guest sees the device broken, as after a rule it broke.
    expect(g.t[6] & V.STATUS_DEVICE_NEEDS_RESET).toBe(V.STATUS_DEVICE_NEEDS_RESET);
    expect(count('needs_reset')).toBe(1);
    await port.close();
  });
});

describe('ErrorReport', () => {
  it('reports the first error of each interval with the count since the last report', () => {
    const out: string[] = [];
    const r = new ErrorReport((m) => out.push(m), 1000);
    r.add('a');
    for (let i = 0; i < 99; i++) r.add('b');
    expect(out).toEqual(['a']);
    r.flush(Date.now() + 1500);
    expect(out).toEqual(['a', 'b (99 errors since the last report)']);
    r.flush(Date.now() + 5000);
    expect(out.length).toBe(2);
    expect(r.count).toBe(100);
  });
});
