import { describe, expect, it } from 'vitest';
import * as V from '../../queues/virtqueue.js';
import { GuestMemory } from '../../queues/virtqueue-memory.js';
import { SplitDriverQueue } from '../../queues/virtqueue-driver.js';
import { CHAIN_NONE, SplitDeviceQueue, checkLayout } from '../../queues/virtqueue-device.js';

describe('split virtqueue layout (virtio 1.x §2.7)', () => {
  it('has the sizes and alignments of the spec', () => {
    expect(V.descTableBytes(256)).toBe(4096);
    expect(V.availRingBytes(256)).toBe(6 + 512);
    expect(V.usedRingBytes(256)).toBe(6 + 2048);
    expect(V.usedEventOffset(256)).toBe(4 + 512);
    expect(V.availEventOffset(256)).toBe(4 + 2048);
    const l = V.contiguousLayout(0x1000, 256);
    expect(l).toEqual({ size: 256, desc: 0x1000, avail: 0x2000, used: 0x2000 + 520 });
    expect(l.used % 4).toBe(0);
    expect(V.isValidQueueSize(32768)).toBe(true);
    expect(V.isValidQueueSize(65536)).toBe(false);
    expect(V.isValidQueueSize(3)).toBe(false);
  });

  it('driver writes descriptors and the available ring byte for byte', () => {
    const mem = GuestMemory.create(65536);
    const l = V.contiguousLayout(0x100, 8);
    const q = new SplitDriverQueue(mem, l, true);
    const head = q.add([0x2000, 0x3000], [12, 100], 2, 1);
    expect(head).toBe(0);
    q.publish();
    const b = mem.bytes;
    const hex = (o: number, n: number) => Buffer.from(b.subarray(o, o + n)).toString('hex');
    // desc 0: addr 0x2000 le64, len 12 le32, flags NEXT le16, next 1 le16
    expect(hex(0x100, 16)).toBe('0020000000000000' + '0c000000' + '0100' + '0100');
    // desc 1: addr 0x3000, len 100, flags WRITE, next 0
    expect(hex(0x110, 16)).toBe('0030000000000000' + '64000000' + '0200' + '0000');
    // avail: flags 0, idx 1, ring[0] = 0
    expect(hex(l.avail, 6)).toBe('0000' + '0100' + '0000');
  });

  it('device writes the used ring byte for byte and EVENT_IDX decides the interrupt', () => {
    const mem = GuestMemory.create(65536);
    const l = V.contiguousLayout(0x100, 8);
    const drv = new SplitDriverQueue(mem, l, true);
    expect(checkLayout(mem, l)).toBeNull();
    const dev = new SplitDeviceQueue(mem, l, { eventIdx: true, indirect: true });
    drv.addOne(0x2000, 64, true);
    drv.publish();
    const head = dev.pop();
    expect(head).toBe(0);
    expect(dev.writableBytes).toBe(64);
    expect(dev.pop()).toBe(CHAIN_NONE);
    dev.addUsed(head, 60);
    drv.enableInterrupts(); // used_event = 0: interrupt on the first used entry
    expect(dev.publishUsed()).toBe(true);
    const hex = (o: number, n: number) => Buffer.from(mem.bytes.subarray(o, o + n)).toString('hex');
    // used: flags 0, idx 1, ring[0] = {id 0 le32, len 60 le32}
    expect(hex(l.used, 12)).toBe('0000' + '0100' + '00000000' + '3c000000');
    expect(drv.getUsed()).toBe(true);
    expect([drv.usedId, drv.usedLen]).toEqual([0, 60]);
    // The driver did not re-arm used_event (still 0): the next used entry raises none.
    drv.addOne(0x2000, 64, true);
    drv.publish();
    dev.addUsed(dev.pop(), 1);
    expect(dev.publishUsed()).toBe(false);
  });

  it('interrupt coalescing: enableInterruptsAfter(k) writes used_event = last_used + k, and the device interrupts at the (k+1)th entry only', () => {
    const mem = GuestMemory.create(65536);
    const l = V.contiguousLayout(0x100, 16);
    const drv = new SplitDriverQueue(mem, l, true);
    const dev = new SplitDeviceQueue(mem, l, { eventIdx: true, indirect: false });
    for (let i = 0; i < 16; i++) drv.addOne(0x2000 + 64 * i, 64, true);
    drv.publish();
    // One entry used and read first, so last_used is 1 when the driver re-arms.
    dev.addUsed(dev.pop(), 10);
    dev.publishUsed();
    expect(drv.getUsed()).toBe(true);
    expect(drv.enableInterruptsAfter(3)).toBe(false);
    // used_event (le16 after the avail ring) = 1 + 3
    expect(Buffer.from(mem.bytes.subarray(l.avail + V.usedEventOffset(16), l.avail + V.usedEventOffset(16) + 2)).toString('hex')).toBe('0400');
    const fired: boolean[] = [];
    for (let k = 0; k < 5; k++) {
      dev.addUsed(dev.pop(), 10);
      fired.push(dev.publishUsed());
    }
    // used idx 2, 3, 4: no interrupt; 5 passes used_event 4: one; 6: none (not re-armed).
    expect(fired).toEqual([false, false, false, true, false]);
    // Entries published after the driver last looked are still found (used idx loaded again).
    let n = 0;
    while (drv.getUsed()) n++;
    expect(n).toBe(5);
    dev.addUsed(dev.pop(), 10);
    dev.publishUsed();
    expect(drv.getUsed()).toBe(true);
    expect(drv.getUsed()).toBe(false);
  });

  it('needEvent is vring_need_event, across the 16-bit wrap', () => {
    expect(V.needEvent(0, 1, 0)).toBe(true);
    expect(V.needEvent(1, 1, 0)).toBe(false);
    expect(V.needEvent(0xffff, 2, 0xfffe)).toBe(true);
    expect(V.needEvent(5, 2, 0xfffe)).toBe(false);
  });

  it('indices run free over 2^16 (many laps round a small queue)', () => {
    const mem = GuestMemory.create(65536);
    const l = V.contiguousLayout(0x100, 4);
    const drv = new SplitDriverQueue(mem, l, false);
    const dev = new SplitDeviceQueue(mem, l, { eventIdx: false, indirect: false });
    for (let i = 0; i < 70_000; i++) {
      const h = drv.addOne(0x1000 + (i % 4) * 64, 64, (i & 1) === 1);
      drv.publish();
      const d = dev.pop();
      if (h < 0 || d !== h) throw new Error(`lap ${i}: added ${h}, device took ${d}`);
      dev.addUsed(d, i & 0xff);
      dev.publishUsed();
      if (!drv.getUsed() || drv.usedLen !== (i & 0xff)) throw new Error(`lap ${i}: used entry lost`);
    }
    expect(drv.availIdx).toBe(70_000 & 0xffff);
  });
});
