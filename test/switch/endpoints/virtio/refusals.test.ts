/**
 * What the device accepts that it used to refuse, matching QEMU (hw/virtio/virtio.c) and
 * vhost: an indirect table anywhere in guest memory (only its size is checked, not its
 * alignment), and in a packed ring an indirect table entry carrying the INDIRECT flag (a
 * reserved flag there, ignored: the entry is a plain buffer). And what it counts rightly:
 * a guest TX frame over 64 KiB is tx_drop_oversize whatever its layout, fast paths included.
 */
import { describe, expect, it } from 'vitest';
import { VirtioNetDevice } from '../../../../switch/endpoints/virtio-net-device.js';
import { GuestMemory } from '../../../../queues/virtqueue-memory.js';
import { PackedDeviceQueue, packedLayout } from '../../../../queues/virtqueue-packed.js';
import * as V from '../../../../queues/virtqueue.js';
import { BUFFERS, RawGuest, TABLES, TX_LAYOUT } from './raw-guest.js';

const { VIRTQ_DESC_F_NEXT: NEXT, VIRTQ_DESC_F_WRITE: WRITE, VIRTQ_DESC_F_INDIRECT: INDIRECT } = V;
const AVAIL = 0x80;

function guest(): { g: RawGuest; dev: VirtioNetDevice; logs: string[] } {
  const logs: string[] = [];
  const dev = new VirtioNetDevice({ mac: '52:54:00:00:00:0a', maxPairs: 1, maxQueueSize: 256, log: (_l, m) => logs.push(m) });
  const g = new RawGuest(dev);
  expect(g.up() & V.STATUS_DRIVER_OK).toBe(V.STATUS_DRIVER_OK);
  return { g, dev, logs };
}

/** A packed descriptor: addr le64, len le32, id le16, flags le16. */
function packedDesc(m: GuestMemory, base: number, i: number, addr: number, len: number, id: number, flags: number): void {
  const d = base + 16 * i;
  m.view.setUint32(d, addr, true);
  m.view.setUint32(d + 4, 0, true);
  m.view.setUint32(d + 8, len, true);
  m.view.setUint16(d + 12, id, true);
  m.view.setUint16(d + 14, flags, true);
}

describe('indirect tables are checked for size, not alignment (as QEMU and vhost)', () => {
  for (const offset of [0, 4, 8, 13]) {
    it(`split ring: a TX table at 16·k + ${offset} carries its frame`, () => {
      const { g, dev, logs } = guest();
      const table = TABLES + offset;
      g.writeFrame(BUFFERS, 60);
      // Header and frame in two table entries: not the one-buffer fast path.
      g.desc(table, 0, BUFFERS, 12, NEXT, 1);
      g.desc(table, 1, BUFFERS + 12, 60, 0, 0);
      g.desc(TX_LAYOUT, 0, table, 32, INDIRECT, 0);
      g.avail(TX_LAYOUT, 0);
      expect(dev.poll(64, g.sink)).toBe(1);
      expect(logs).toEqual([]);
      expect(g.t[6] & V.STATUS_DEVICE_NEEDS_RESET).toBe(0);
      expect(g.frames.map((f) => f.length)).toEqual([60]);
      expect(Buffer.compare(g.frames[0], g.mem.bytes.subarray(BUFFERS + 12, BUFFERS + 72))).toBe(0);
      expect(dev.counters().tx_drop_malformed).toBe(0);
    });
  }

  it('split ring: a table whose size is not a multiple of 16 is still refused', () => {
    const { g, dev, logs } = guest();
    g.desc(TX_LAYOUT, 0, TABLES + 8, 24, INDIRECT, 0);
    g.avail(TX_LAYOUT, 0);
    expect(dev.poll(64, g.sink)).toBe(1);
    expect(dev.counters().tx_drop_malformed).toBe(1);
    expect(logs.join('\n')).toMatch(/Invalid size for indirect buffer table/);
  });

  it('packed ring: a table at an odd address is read', () => {
    const mem = GuestMemory.create(65536);
    const l = packedLayout(0x1000, 8);
    const dev = new PackedDeviceQueue(mem, l, { eventIdx: false, indirect: true });
    packedDesc(mem, 0x3003, 0, 0x2000, 12, 0, 0);
    packedDesc(mem, 0x3003, 1, 0x2100, 1500, 0, WRITE);
    packedDesc(mem, l.desc, 0, 0x3003, 32, 5, AVAIL | INDIRECT);
    expect(dev.pop()).toBe(5);
    expect(dev.error).toBe('');
    expect([dev.segCount, dev.readableBytes, dev.writableBytes]).toEqual([2, 12, 1500]);
  });
});

describe('packed ring: flags other than WRITE in an indirect table are reserved and ignored (virtio 1.2 §2.8.7, QEMU)', () => {
  it('an entry with INDIRECT set is a plain buffer, not a nested table', () => {
    const mem = GuestMemory.create(65536);
    const l = packedLayout(0x1000, 8);
    const dev = new PackedDeviceQueue(mem, l, { eventIdx: false, indirect: true });
    // Entry 0 says INDIRECT (and NEXT, and an id): all reserved here; its addr/len are a buffer.
    packedDesc(mem, 0x3000, 0, 0x2000, 72, 7, INDIRECT | NEXT);
    packedDesc(mem, 0x3000, 1, 0x2200, 2048, 0, WRITE | INDIRECT);
    packedDesc(mem, l.desc, 0, 0x3000, 32, 3, AVAIL | INDIRECT);
    const before = mem.bytes.slice();
    expect(dev.pop()).toBe(3);
    expect(dev.error).toBe('');
    expect(dev.segCount).toBe(2);
    expect([dev.segAddr[0], dev.segLen[0], dev.segAddr[1], dev.segLen[1]]).toEqual([0x2000, 72, 0x2200, 2048]);
    expect([dev.readableBytes, dev.writableBytes]).toEqual([72, 2048]);
    expect(Buffer.compare(mem.bytes, before)).toBe(0);
  });
});

describe('guest TX over 64 KiB is tx_drop_oversize on every path', () => {
  const DATA = 65536 + 1; // one byte more than the largest frame the device takes
  const layouts: [string, (g: RawGuest, data: number) => void][] = [
    ['one buffer (header + frame)', (g, data) => g.desc(TX_LAYOUT, 0, BUFFERS, 12 + data, 0, 0)],
    ['header, then the frame in one buffer', (g, data) => (g.desc(TX_LAYOUT, 0, BUFFERS, 12, NEXT, 1), g.desc(TX_LAYOUT, 1, BUFFERS + 12, data, 0, 0))],
    ['three buffers (gathered)', (g, data) => (g.desc(TX_LAYOUT, 0, BUFFERS, 12, NEXT, 1), g.desc(TX_LAYOUT, 1, BUFFERS + 12, 100, NEXT, 2), g.desc(TX_LAYOUT, 2, BUFFERS + 112, data - 100, 0, 0))],
  ];
  for (const [name, lay] of layouts) {
    it(name, () => {
      const { g, dev, logs } = guest();
      g.writeFrame(BUFFERS, DATA);
      lay(g, DATA);
      g.avail(TX_LAYOUT, 0);
      expect(dev.poll(64, g.sink)).toBe(1);
      expect(g.frames).toEqual([]);
      expect(dev.counters().tx_drop_oversize).toBe(1);
      expect(dev.counters().tx_drop_malformed).toBe(0);
      expect(logs).toEqual([]);
      expect(g.usedIdx(TX_LAYOUT)).toBe(1); // the buffer goes back to the guest
      // Exactly 64 KiB passes on the same path.
      g.writeFrame(BUFFERS, DATA - 1);
      lay(g, DATA - 1);
      g.avail(TX_LAYOUT, 0);
      expect(dev.poll(64, g.sink)).toBe(1);
      expect(g.frames.map((f) => f.length)).toEqual([DATA - 1]);
      expect(dev.counters().tx_drop_oversize).toBe(1);
    });
  }
});
