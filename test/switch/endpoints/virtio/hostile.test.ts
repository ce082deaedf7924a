/**
 * A hostile guest: every rule the device enforces (SPEC §3.4, what vhost and QEMU reject).
 * Each case breaks one rule; the device must not throw, must mark DEVICE_NEEDS_RESET and
 * count the drop, must leave guest memory untouched (a full copy is compared), must keep
 * another VM's port running, and must serve again after the guest resets it.
 */
import { describe, expect, it } from 'vitest';
import { VirtioNetDevice } from '../../../../switch/endpoints/virtio-net-device.js';
import * as V from '../../../../queues/virtqueue.js';
import { BUFFERS, MEM_BYTES, Q, RX_LAYOUT, RawGuest, TABLES, TX_LAYOUT } from './raw-guest.js';

const { VIRTQ_DESC_F_NEXT: NEXT, VIRTQ_DESC_F_WRITE: WRITE, VIRTQ_DESC_F_INDIRECT: INDIRECT } = V;

function device(maxQueueSize = 256) {
  const logs: string[] = [];
  const dev = new VirtioNetDevice({ mac: '52:54:00:00:00:09', maxPairs: 1, maxQueueSize, log: (_l, m) => logs.push(m) });
  return { dev, logs };
}

/** A frame the switch sends the guest. */
const FRAME = Uint8Array.from({ length: 64 }, (_, i) => i);

function validTx(g: RawGuest): void {
  g.writeFrame(BUFFERS + 0x8000);
  g.desc(TX_LAYOUT, 3, BUFFERS + 0x8000, 72, 0, 0);
  g.avail(TX_LAYOUT, 3);
}
function validRx(g: RawGuest): void {
  g.desc(RX_LAYOUT, 5, BUFFERS + 0x9000, 2048, WRITE, 0);
  g.avail(RX_LAYOUT, 5);
}

interface Case {
  name: string;
  side: 'tx' | 'rx';
  features?: number[];
  setup(g: RawGuest): void;
  log: RegExp;
}

const TX = TX_LAYOUT;
const RX = RX_LAYOUT;
const cases: Case[] = [
  { name: 'avail idx moved by more than Q', side: 'tx', setup: (g) => (g.writeFrame(BUFFERS), g.desc(TX, 0, BUFFERS, 72, 0, 0), g.avail(TX, 0, Q + 1)), log: /avail index/ },
  { name: 'head ≥ Q', side: 'tx', setup: (g) => g.avail(TX, Q), log: /head ≥ queue size/ },
  { name: 'head 0xffff', side: 'tx', setup: (g) => g.avail(TX, 0xffff), log: /head ≥ queue size/ },
  { name: 'next ≥ Q', side: 'tx', setup: (g) => (g.desc(TX, 0, BUFFERS, 12, NEXT, Q), g.avail(TX, 0)), log: /next is out of range/ },
  { name: 'a loop 0 → 1 → 0', side: 'tx', setup: (g) => (g.desc(TX, 0, BUFFERS, 12, NEXT, 1), g.desc(TX, 1, BUFFERS, 60, NEXT, 0), g.avail(TX, 0)), log: /Loop detected/ },
  { name: 'a self loop', side: 'tx', setup: (g) => (g.desc(TX, 2, BUFFERS, 12, NEXT, 2), g.avail(TX, 2)), log: /Loop detected/ },
  {
    name: 'nested indirect',
    side: 'tx',
    setup: (g) => (g.desc(TABLES, 0, TABLES + 0x100, 32, INDIRECT, 0), g.desc(TX, 0, TABLES, 32, INDIRECT, 0), g.avail(TX, 0)),
    log: /Nested indirect/,
  },
  { name: 'indirect with NEXT', side: 'tx', setup: (g) => (g.desc(TABLES, 0, BUFFERS, 72, 0, 0), g.desc(TX, 0, TABLES, 16, INDIRECT | NEXT, 1), g.avail(TX, 0)), log: /NEXT/ },
  { name: 'indirect size not a multiple of 16', side: 'tx', setup: (g) => (g.desc(TX, 0, TABLES, 20, INDIRECT, 0), g.avail(TX, 0)), log: /Invalid size for indirect/ },
  { name: 'indirect size 0', side: 'tx', setup: (g) => (g.desc(TX, 0, TABLES, 0, INDIRECT, 0), g.avail(TX, 0)), log: /Invalid size for indirect/ },
  { name: 'indirect table larger than the queue', side: 'tx', setup: (g) => (g.desc(TX, 0, TABLES, 16 * (Q + 1), INDIRECT, 0), g.avail(TX, 0)), log: /larger than the queue/ },
  { name: 'indirect table outside memory', side: 'tx', setup: (g) => (g.desc(TX, 0, MEM_BYTES - 16, 32, INDIRECT, 0), g.avail(TX, 0)), log: /outside guest memory/ },
  {
    name: 'loop inside an indirect table',
    side: 'tx',
    setup: (g) => (g.desc(TABLES, 0, BUFFERS, 12, NEXT, 1), g.desc(TABLES, 1, BUFFERS, 60, NEXT, 0), g.desc(TX, 0, TABLES, 32, INDIRECT, 0), g.avail(TX, 0)),
    log: /Loop detected/,
  },
  {
    name: 'indirect next beyond its table',
    side: 'tx',
    setup: (g) => (g.desc(TABLES, 0, BUFFERS, 12, NEXT, 2), g.desc(TX, 0, TABLES, 32, INDIRECT, 0), g.avail(TX, 0)),
    log: /next is out of range/,
  },
  {
    name: 'indirect without INDIRECT_DESC negotiated',
    side: 'tx',
    features: [V.VIRTIO_F_VERSION_1],
    setup: (g) => (g.desc(TABLES, 0, BUFFERS, 72, 0, 0), g.desc(TX, 0, TABLES, 16, INDIRECT, 0), g.avail(TX, 0)),
    log: /without INDIRECT_DESC/,
  },
  { name: 'buffer runs past the end of memory', side: 'tx', setup: (g) => (g.desc(TX, 0, MEM_BYTES - 10, 100, 0, 0), g.avail(TX, 0)), log: /outside guest memory/ },
  { name: 'address above 4 GiB', side: 'tx', setup: (g) => (g.desc(TX, 0, BUFFERS, 72, 0, 0, 1), g.avail(TX, 0)), log: /outside guest memory/ },
  { name: 'length 0xffffffff', side: 'tx', setup: (g) => (g.desc(TX, 0, BUFFERS, 0xffffffff, 0, 0), g.avail(TX, 0)), log: /outside guest memory/ },
  { name: 'writable buffer on the TX queue', side: 'tx', setup: (g) => (g.desc(TX, 0, BUFFERS, 12, NEXT, 1), g.desc(TX, 1, BUFFERS + 64, 60, WRITE, 0), g.avail(TX, 0)), log: /format for TX/ },
  {
    name: 'readable after writable (RX)',
    side: 'rx',
    setup: (g) => (g.desc(RX, 0, BUFFERS, 1024, WRITE | NEXT, 1), g.desc(RX, 1, BUFFERS + 1024, 1024, 0, 0), g.avail(RX, 0)),
    log: /out after in/,
  },
  { name: 'readable buffer on the RX queue', side: 'rx', setup: (g) => (g.desc(RX, 0, BUFFERS, 2048, 0, 0), g.avail(RX, 0)), log: /format for RX/ },
  { name: 'avail idx moved by more than Q (RX)', side: 'rx', setup: (g) => (g.desc(RX, 0, BUFFERS, 2048, WRITE, 0), g.avail(RX, 0, 0x8000)), log: /avail index/ },
  { name: 'RX buffer outside memory', side: 'rx', setup: (g) => (g.desc(RX, 0, MEM_BYTES - 100, 2048, WRITE, 0), g.avail(RX, 0)), log: /outside guest memory/ },
  { name: 'RX buffer smaller than the header', side: 'rx', setup: (g) => (g.desc(RX, 0, BUFFERS, 8, WRITE, 0), g.avail(RX, 0)), log: /smaller than the virtio-net header/ },
  { name: 'RX head ≥ Q', side: 'rx', setup: (g) => g.avail(RX, 100), log: /head ≥ queue size/ },
];

describe('hostile guest: every check', () => {
  for (const c of cases) {
    it(c.name, () => {
      const { dev, logs } = device();
      const g = new RawGuest(dev);
      // A second VM on its own port: it must keep running.
      const other = new RawGuest(device().dev);
      other.up();
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
      // The other VM's port is unaffected.
      validTx(other);
      expect(other.dev.poll(64, other.sink)).toBe(1);
      expect(other.frames.length).toBe(1);
      // After the guest resets the device, traffic resumes both ways.
      expect(g.up(c.features) & V.STATUS_DEVICE_NEEDS_RESET).toBe(0);
      validTx(g);
      expect(dev.poll(64, g.sink)).toBe(1);
      expect(g.frames.length).toBe(1);
      expect(g.frames[0].length).toBe(60);
      validRx(g);
      expect(dev.transmit(FRAME, 0, 64, 0)).toBe(true);
      dev.flush();
      expect(g.usedIdx(RX)).toBe(1);
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
