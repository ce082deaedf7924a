/**
 * The packed virtqueue (RING_PACKED): layout byte for byte, wrap counters over many laps,
 * the device's checks, and seeded fuzzing of the device side.
 */
import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../queues/virtqueue-memory.js';
import { CHAIN_ERROR, CHAIN_NONE } from '../../queues/virtqueue-device.js';
import { PackedDeviceQueue, PackedDriverQueue, checkPackedLayout, packedLayout } from '../../queues/virtqueue-packed.js';
import { VIRTQ_DESC_F_INDIRECT as INDIRECT, VIRTQ_DESC_F_NEXT as NEXT, VIRTQ_DESC_F_WRITE as WRITE } from '../../queues/virtqueue.js';

const AVAIL = 0x80;
const USED = 0x8000;
const opts = { eventIdx: true, indirect: true };
const hex = (m: GuestMemory, o: number, n: number) => Buffer.from(m.bytes.subarray(o, o + n)).toString('hex');

describe('packed virtqueue', () => {
  it('lays out descriptors, used descriptors and event structures byte for byte', () => {
    const mem = GuestMemory.create(65536);
    const l = packedLayout(0x1000, 8);
    expect(l).toEqual({ size: 8, desc: 0x1000, avail: 0x1080, used: 0x1084 });
    expect(checkPackedLayout(mem, l)).toBeNull();
    const drv = new PackedDriverQueue(mem, l, true);
    const dev = new PackedDeviceQueue(mem, l, opts);
    const id = drv.addOne(0x2000, 1526, true);
    expect(id).toBe(0);
    // Not published yet: the head's flags are still 0, the device sees nothing.
    expect(dev.pop()).toBe(CHAIN_NONE);
    drv.publish();
    // addr le64, len le32, id le16, flags le16 = WRITE | AVAIL (wrap 1)
    expect(hex(mem, 0x1000, 16)).toBe('0020000000000000' + 'f6050000' + '0000' + '8200');
    expect(dev.pop()).toBe(0);
    expect([dev.segCount, dev.writableBytes]).toEqual([1, 1526]);
    dev.addUsed(0, 100);
    // used: len 100, id 0, flags AVAIL | USED | WRITE (the device wrote into it)
    expect(hex(mem, 0x1008, 8)).toBe('64000000' + '0000' + '8280');
    expect(drv.enableInterrupts()).toBe(true);
    expect(drv.getUsed()).toBe(true);
    expect([drv.usedId, drv.usedLen]).toEqual([0, 100]);
    expect(drv.enableInterrupts()).toBe(false);
    // Event suppression: the driver asked for an event at (1, wrap 1) → off_wrap 0x8001, flags DESC (2).
    expect(hex(mem, 0x1080, 4)).toBe('0180' + '0200');
  });

  it('interrupt coalescing: enableInterruptsAfter(k) asks for the event k descriptors on, across the wrap', () => {
    const mem = GuestMemory.create(65536);
    const l = packedLayout(0x1000, 8);
    const drv = new PackedDriverQueue(mem, l, true);
    const dev = new PackedDeviceQueue(mem, l, opts);
    for (let i = 0; i < 8; i++) drv.addOne(0x2000 + 64 * i, 64, true);
    drv.publish();
    for (let i = 0; i < 6; i++) dev.addUsed(dev.pop(), 10);
    dev.publishUsed();
    for (let i = 0; i < 6; i++) expect(drv.getUsed()).toBe(true);
    // Next used at 6 (wrap 1); 6 + 3 = 9 → off 1 with the wrap bit flipped to 0: off_wrap 0x0001, flags DESC.
    expect(drv.enableInterruptsAfter(3)).toBe(false);
    expect(hex(mem, 0x1080, 4)).toBe('0100' + '0200');
    for (let i = 0; i < 6; i++) drv.addOne(0x2000 + 64 * i, 64, true);
    drv.publish();
    const fired: boolean[] = [];
    for (let k = 0; k < 5; k++) {
      dev.addUsed(dev.pop(), 10);
      fired.push(dev.publishUsed());
    }
    // Used descriptors 6, 7, 0 (wrap 0), 1: the event at 1 is passed by the 4th.
    expect(fired).toEqual([false, false, false, true, false]);
  });

  it('wrap counters hold over many laps with chains of 1–3 descriptors', () => {
    const mem = GuestMemory.create(65536);
    const l = packedLayout(0x1000, 4);
    const drv = new PackedDriverQueue(mem, l, false);
    const dev = new PackedDeviceQueue(mem, l, { eventIdx: false, indirect: false });
    for (let i = 0; i < 50_000; i++) {
      const n = 1 + (i % 3);
      const id = drv.add([0x2000, 0x2100, 0x2200], [10, 20, 30], n, 1);
      drv.publish();
      const got = dev.pop();
      if (id < 0 || got !== id || dev.segCount !== n) throw new Error(`lap ${i}: added ${id} (${n}), device took ${got} (${dev.segCount})`);
      dev.addUsed(got, i & 0xff);
      dev.publishUsed();
      if (!drv.getUsed() || drv.usedId !== id || drv.usedLen !== (i & 0xff)) throw new Error(`lap ${i}: used entry lost`);
    }
    expect(drv.freeCount).toBe(4);
  });

  it('a device continues a ring at the position another left it (lastAvail → resume, wrap counter in bit 15), across laps', () => {
    const mem = GuestMemory.create(65536);
    const l = packedLayout(0x1000, 8);
    const drv = new PackedDriverQueue(mem, l, true);
    let dev = new PackedDeviceQueue(mem, l, opts);
    expect(dev.lastAvail).toBe(0x8000); // index 0, wrap counter 1: a fresh ring
    for (let n = 0; n < 61; n++) {
      // Every 7 chains the device stops and a new one continues from what it answered.
      if (n % 7 === 6) {
        expect(dev.lastUsed).toBe(dev.lastAvail);
        const at = dev.lastAvail;
        dev = new PackedDeviceQueue(mem, l, opts);
        dev.resume(at);
      }
      const id = drv.add([0x2000, 0x3000], [100, 200], 1 + (n % 2), 1);
      drv.publish();
      expect(dev.pop()).toBe(id);
      dev.addUsed(id, 50);
      expect(drv.getUsed()).toBe(true);
      expect(drv.usedId).toBe(id);
    }
    // 61 chains of 1 or 2 descriptors = 91 descriptors: 11 laps of 8, position 3, wrap counter 0.
    expect(dev.lastAvail).toBe(3);
  });

  it('gives chains back on unpop (MRG_RXBUF running out midway), across the wrap', () => {
    const mem = GuestMemory.create(65536);
    const l = packedLayout(0x1000, 4);
    const drv = new PackedDriverQueue(mem, l, false);
    const dev = new PackedDeviceQueue(mem, l, opts);
    for (let k = 0; k < 3; k++) drv.addOne(0x2000 + 256 * k, 256, true);
    drv.publish();
    for (let k = 0; k < 3; k++) dev.addUsed(dev.pop(), 1);
    while (drv.getUsed());
    // Ring position 3: a chain of 2 that wraps to position 0.
    const a = drv.add([0x3000, 0x3100], [64, 64], 2, 2);
    drv.publish();
    expect(dev.pop()).toBe(a);
    dev.unpop(1);
    expect(dev.pop()).toBe(a);
    expect(dev.segCount).toBe(2);
  });

  describe('the device refuses', () => {
    const cases: [string, (m: GuestMemory, l: ReturnType<typeof packedLayout>) => void, RegExp][] = [
      ['a buffer id ≥ Q', (m, l) => desc(m, l.desc, 0, 0x2000, 64, 9, AVAIL), /Buffer id/],
      // In a packed ring a chain cannot come back round: past the end it meets descriptors of the old lap.
      ['a chain through every descriptor (loop)', (m, l) => { for (let i = 0; i < 8; i++) desc(m, l.desc, i, 0x2000, 64, 0, AVAIL | NEXT); }, /not available|Loop detected/],
      ['a chain into a descriptor not made available', (m, l) => desc(m, l.desc, 0, 0x2000, 64, 0, AVAIL | NEXT), /not available/],
      ['an address outside memory', (m, l) => desc(m, l.desc, 0, 65530, 64, 0, AVAIL), /outside guest memory/],
      ['readable after writable', (m, l) => (desc(m, l.desc, 1, 0x2000, 64, 0, AVAIL), desc(m, l.desc, 0, 0x2000, 64, 0, AVAIL | NEXT | WRITE)), /out after in/],
      ['indirect with NEXT', (m, l) => desc(m, l.desc, 0, 0x3000, 32, 0, AVAIL | NEXT | INDIRECT), /chained/],
      // Not refused: INDIRECT inside a packed indirect table is reserved and ignored (refusals.test.ts).
      ['an indirect table of a bad size', (m, l) => desc(m, l.desc, 0, 0x3000, 20, 0, AVAIL | INDIRECT), /Invalid size/],
    ];
    for (const [name, setup, why] of cases) {
      it(name, () => {
        const mem = GuestMemory.create(65536);
        const l = packedLayout(0x1000, 8);
        const dev = new PackedDeviceQueue(mem, l, opts);
        setup(mem, l);
        const before = mem.bytes.slice();
        expect(dev.pop()).toBe(CHAIN_ERROR);
        expect(dev.error).toMatch(why);
        expect(Buffer.compare(mem.bytes, before)).toBe(0);
      });
    }
  });

  it('seeded fuzzing: never throws, writes only used descriptors inside the ring', () => {
    let seed = 12345;
    const r = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const int = (n: number) => Math.floor(r() * n);
    const mem = GuestMemory.create(1 << 16);
    const l = packedLayout(0x1000, 16);
    let used = 0;
    let errors = 0;
    for (let round = 0; round < 20_000; round++) {
      const dev = new PackedDeviceQueue(mem, l, { eventIdx: r() < 0.5, indirect: r() < 0.7 });
      for (let i = 0; i < 16; i++) {
        const flags = (r() < 0.8 ? AVAIL : 0) | (r() < 0.1 ? USED : 0) | int(8);
        desc(mem, l.desc, i, r() < 0.8 ? 0x4000 + int(0x8000) : int(0x100000000), r() < 0.9 ? int(3000) : int(0x100000000), r() < 0.9 ? int(16) : int(0x10000), flags);
      }
      for (let i = 0; i < 8; i++) desc(mem, 0x3000, i, 0x4000 + int(0x8000), int(3000), 0, int(8));
      const before = mem.bytes.slice();
      for (let k = 0; k < 20; k++) {
        const id = dev.pop();
        if (id === CHAIN_NONE) break;
        if (id === CHAIN_ERROR) {
          errors++;
          break;
        }
        for (let s = 0; s < dev.segCount; s++) if (dev.segAddr[s] + dev.segLen[s] > mem.size) throw new Error(`round ${round}: segment outside memory`);
        dev.addUsed(id, 0);
        used++;
      }
      dev.publishUsed();
      dev.enableKicks();
      // Outside the descriptor ring and the device event structure nothing changed.
      if (Buffer.compare(mem.bytes.subarray(0, l.desc), before.subarray(0, l.desc)) !== 0 || Buffer.compare(mem.bytes.subarray(l.avail, l.used), before.subarray(l.avail, l.used)) !== 0 || Buffer.compare(mem.bytes.subarray(l.used + 4), before.subarray(l.used + 4)) !== 0) {
        throw new Error(`round ${round}: device wrote outside the ring`);
      }
    }
    expect(used).toBeGreaterThan(1000);
    expect(errors).toBeGreaterThan(1000);
  });
});

function desc(m: GuestMemory, table: number, i: number, addr: number, len: number, id: number, flags: number): void {
  const d = table + 16 * i;
  m.view.setUint32(d, addr >>> 0, true);
  m.view.setUint32(d + 4, 0, true);
  m.view.setUint32(d + 8, len >>> 0, true);
  m.view.setUint16(d + 12, id, true);
  m.view.setUint16(d + 14, flags, true);
}
