/**
 * A hostile guest: every rule the device enforces (SPEC §3.4, what vhost and QEMU reject).
 * Each case breaks one rule; the device must not throw, must mark DEVICE_NEEDS_RESET and
 * count the drop, must leave guest memory untouched (a full copy is compared), and must
 * serve again after the guest resets it. That another VM on the same switch is unaffected
 * is hostile-switch.test.ts: here there is no switch to share.
 */
import { describe, expect, it } from 'vitest';
import { VirtioNetDevice } from '../../../../switch/endpoints/virtio-net-device.js';
import * as V from '../../../../queues/virtqueue.js';
import { BUFFERS, MEM_BYTES, RX_LAYOUT, RawGuest, TX_LAYOUT } from './raw-guest.js';
import { FRAME, VIOLATIONS as cases, validRx, validTx } from './violations.js';

function device(maxQueueSize = 256) {
  const logs: string[] = [];
  const dev = new VirtioNetDevice({ mac: '52:54:00:00:00:09', maxPairs: 1, maxQueueSize, log: (_l, m) => logs.push(m) });
  return { dev, logs };
}

describe('hostile guest: every check', () => {
  for (const c of cases) {
    it(c.name, () => {
      const { dev, logs } = device();
      const g = new RawGuest(dev);
      const st = g.up(c.features);
      expect(st & V.STATUS_DRIVER_OK).toBe(V.STATUS_DRIVER_OK);
      c.setup(g);
      const before = g.mem.bytes.slice();
      const frameCopy = FRAME.slice();
      let n = 0;
      let sent = true;
      expect(() => {
        if (c.side === 'tx') n = dev.poll(64, g.sink);
        else sent = dev.transmit(FRAME, 0, FRAME.length, 0);
        dev.flush();
      }).not.toThrow();
      expect(g.frames.length).toBe(0);
      expect(Buffer.compare(g.mem.bytes, before)).toBe(0); // nothing written, not even the used ring
      expect(Buffer.compare(FRAME, frameCopy)).toBe(0);
      expect(g.t[6] & V.STATUS_DEVICE_NEEDS_RESET).toBe(V.STATUS_DEVICE_NEEDS_RESET);
      const counters = dev.counters();
      if (c.side === 'tx') {
        expect(n).toBe(1);
        expect(counters.tx_drop_malformed).toBe(1);
      } else {
        expect(sent).toBe(false);
        expect(counters.rx_drop_malformed).toBe(1);
      }
      expect(counters.needs_reset).toBe(1);
      expect(logs.join('\n')).toMatch(c.log);
      // Broken means quiet: more polls and transmits do nothing and throw nothing.
      validTx(g);
      expect(dev.poll(64, g.sink)).toBe(0);
      expect(dev.transmit(FRAME, 0, 64, 0)).toBe(false);
      expect(dev.counters().rx_drop_not_ready).toBe(1);
      // After the guest resets the device, traffic resumes both ways.
      expect(g.up(c.features) & V.STATUS_DEVICE_NEEDS_RESET).toBe(0);
      validTx(g);
      expect(dev.poll(64, g.sink)).toBe(1);
      expect(g.frames.length).toBe(1);
      expect(g.frames[0].length).toBe(60);
      validRx(g);
      expect(dev.transmit(FRAME, 0, 64, 0)).toBe(true);
      dev.flush();
      expect(g.usedIdx(RX_LAYOUT)).toBe(1);
      expect(Buffer.compare(g.mem.bytes.subarray(BUFFERS + 0x9000 + 12, BUFFERS + 0x9000 + 76), FRAME)).toBe(0);
    });
  }
});

describe('hostile guest: bring-up rules', () => {
  it('touches nothing before DRIVER_OK', () => {
    const { dev } = device();
    const g = new RawGuest(dev);
    g.up(undefined, { driverOk: false });
    validTx(g);
    validRx(g);
    const before = g.mem.bytes.slice();
    expect(dev.poll(64, g.sink)).toBe(0);
    expect(dev.transmit(FRAME, 0, 64, 0)).toBe(false);
    dev.flush();
    expect(Buffer.compare(g.mem.bytes, before)).toBe(0);
    expect(dev.counters().rx_drop_not_ready).toBe(1);
  });

  it('refuses features it did not offer, and a driver without VERSION_1', () => {
    const { dev } = device();
    const g = new RawGuest(dev);
    expect(g.up([V.VIRTIO_F_VERSION_1, V.VIRTIO_F_IN_ORDER], { driverOk: false }) & V.STATUS_FEATURES_OK).toBe(0);
    expect(g.up([V.VIRTIO_NET_F_MRG_RXBUF], { driverOk: false }) & V.STATUS_FEATURES_OK).toBe(0);
    expect(g.up([V.VIRTIO_F_VERSION_1], { driverOk: false }) & V.STATUS_FEATURES_OK).toBe(V.STATUS_FEATURES_OK);
  });

  it('DRIVER_OK without FEATURES_OK is NEEDS_RESET', () => {
    const { dev } = device();
    const g = new RawGuest(dev);
    g.status(0);
    const s = g.status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER | V.STATUS_DRIVER_OK);
    expect(s & V.STATUS_DEVICE_NEEDS_RESET).toBe(V.STATUS_DEVICE_NEEDS_RESET);
    expect(s & V.STATUS_DRIVER_OK).toBe(0);
  });

  for (const [name, layouts] of [
    ['a misaligned descriptor table', [{ ...RX_LAYOUT, desc: RX_LAYOUT.desc + 8 }, TX_LAYOUT]],
    ['a misaligned used ring', [RX_LAYOUT, { ...TX_LAYOUT, used: TX_LAYOUT.used + 2 }]],
    ['a used ring outside memory', [RX_LAYOUT, { ...TX_LAYOUT, used: MEM_BYTES - 8 }]],
    ['a queue size not a power of two', [{ ...RX_LAYOUT, size: 24 }, TX_LAYOUT]],
    ['a queue size above the maximum', [{ ...RX_LAYOUT, size: 512 }, TX_LAYOUT]],
    ['a queue size of 65536', [{ ...RX_LAYOUT, size: 65536 }, TX_LAYOUT]],
  ] as const) {
    it(`rejects ${name} at DRIVER_OK`, () => {
      const { dev } = device(256);
      const g = new RawGuest(dev);
      const before = g.mem.bytes.slice();
      const s = g.up(undefined, { layouts: [...layouts] });
      expect(s & V.STATUS_DEVICE_NEEDS_RESET).toBe(V.STATUS_DEVICE_NEEDS_RESET);
      expect(dev.describe().live).toBe(false);
      expect(dev.poll(64, g.sink)).toBe(0);
      expect(dev.transmit(FRAME, 0, 64, 0)).toBe(false);
      before.fill(0, 0, BUFFERS); // up() zeroes the ring area itself
      expect(Buffer.compare(g.mem.bytes, before)).toBe(0);
      expect(g.up() & V.STATUS_DRIVER_OK).toBe(V.STATUS_DRIVER_OK);
    });
  }

  it('rejects an attach that is not shared memory', () => {
    const { dev } = device();
    expect(dev.attach(new ArrayBuffer(8192) as unknown as SharedArrayBuffer, new SharedArrayBuffer(8192))).toMatch(/SharedArrayBuffer/);
    expect(dev.attach(new SharedArrayBuffer(8192), new SharedArrayBuffer(16))).toMatch(/transport/);
  });
});
