/**
 * The capture path without a switch: taps (as a queue worker calls them) fill their rings
 * across many wrap-arounds while the main side drains them into pcapng, read back with the
 * project's reader — every packet in order, with its bytes, length, verdict, port and
 * queue; a ring left undrained drops and counts instead of waiting; the count is shared by
 * every queue's tap.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Capture } from '../../switch/capture/capture.js';
import { openTap } from '../../switch/capture/tap.js';
import { TAP_ENTRY, type PacketTap } from '../../switch/queue-engine.js';
import { PacketSlot } from '../../programs/offline/instance.js';
import { PcapReader } from '../../lib/pcap/reader.js';
import { PerformanceObserver } from 'node:perf_hooks';

/** Garbage collections while `fn` runs: a path that allocates nothing triggers none. */
async function gcsDuring(fn: () => void): Promise<number> {
  let n = 0;
  const obs = new PerformanceObserver((list) => {
    n += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((r) => setTimeout(r, 50)); // entries are delivered asynchronously
  obs.disconnect();
  return n;
}

/** A stand-in for the supervisor: arms taps in this thread and hands them to the test. */
class InThread {
  readonly taps = new Map<number, PacketTap>();
  readonly stages = new Map<number, string>();
  async setTap(q: number, module: string | null, shared: unknown, stage: 'entry' | 'exit' = 'exit'): Promise<void> {
    if (module === null) this.taps.delete(q);
    else this.taps.set(q, openTap(shared));
    this.stages.set(q, stage);
  }
}

function packet(i: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  b.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  for (let k = 14; k < len; k++) b[k] = (i * 7 + k) & 0xff;
  b[14] = i & 0xff;
  b[15] = (i >> 8) & 0xff;
  return b;
}

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'xswitch-cap-'));

describe('capture', () => {
  it('round-trips packets across many ring wrap-arounds, in order, with verdict, port and queue', async () => {
    const t = new InThread();
    const file = path.join(tmp(), 'c.pcapng');
    const cap = await Capture.start(t, { file, ports: ['p0', 'p1'], queues: [0], ringBytes: 4096 });
    const slot = new PacketSlot(2);
    const sizes = [60, 61, 100, 333, 1514];
    const n = 2000;
    for (let i = 0; i < n; i++) {
      slot.load(packet(i, sizes[i % sizes.length]), 1 + (i % 2), 0);
      t.taps.get(0)!.observe(slot.ctx, i % 5);
      // Drain often enough that nothing is dropped: a 4 KiB ring holds only a few records.
      if (i % 2 === 1) (cap as unknown as { drain(): void }).drain();
    }
    const s = await cap.stop();
    expect(s).toMatchObject({ packets: n, dropped: 0, done: true });
    expect(t.taps.size).toBe(0);
    const r = PcapReader.open(file);
    for (let i = 0; i < n; i++) {
      expect(r.next()).toBe(true);
      const rec = r.record;
      const want = packet(i, sizes[i % sizes.length]);
      expect(rec.capLen).toBe(want.length);
      expect(rec.origLen).toBe(want.length);
      expect(Buffer.from(rec.data.subarray(rec.dataOffset, rec.dataOffset + rec.capLen)).equals(Buffer.from(want))).toBe(true);
      expect(rec.verdict).toBe(i % 5);
      expect(rec.interfaceId).toBe(i % 2);
      expect(rec.data.subarray(rec.commentOffset, rec.commentOffset + rec.commentLength).toString()).toBe(`queue=0 verdict=${['ABORTED', 'DROP', 'PASS', 'TX', 'REDIRECT'][i % 5]}`);
    }
    expect(r.next()).toBe(false);
  });

  it('a full ring drops and counts; snaplen cuts; port and verdict filters apply', async () => {
    const t = new InThread();
    const file = path.join(tmp(), 'd.pcapng');
    const cap = await Capture.start(t, { file, ports: ['p0', 'p1'], port: 'p1', verdicts: ['DROP'], queues: [0], ringBytes: 4096, snaplen: 64 });
    const slot = new PacketSlot(2);
    let kept = 0;
    for (let i = 0; i < 500; i++) {
      slot.load(packet(i, 200), 1 + (i % 2), 0);
      t.taps.get(0)!.observe(slot.ctx, i % 3 === 0 ? 1 : 2);
      if (i % 2 === 1 && i % 3 === 0) kept++;
    }
    // Nothing drained: 4096 bytes hold 46 records of 24 + 64 bytes; the rest are counted.
    const s = await cap.stop();
    expect(s.packets).toBe(46);
    expect(s.dropped).toBe(kept - 46);
    const r = PcapReader.open(file);
    expect(r.next()).toBe(true);
    expect(r.record.capLen).toBe(64);
    expect(r.record.origLen).toBe(200);
    expect(r.record.interfaceId).toBe(1);
  });

  it('at the entry stage packets carry no verdict, and a verdict filter is refused', async () => {
    const t = new InThread();
    const file = path.join(tmp(), 'entry.pcapng');
    await expect(Capture.start(t, { file, ports: ['p0'], queues: [0], stage: 'entry', verdicts: ['DROP'] })).rejects.toThrow(/needs the exit stage/);
    const cap = await Capture.start(t, { file, ports: ['p0'], queues: [0], stage: 'entry' });
    expect(t.stages.get(0)).toBe('entry');
    const slot = new PacketSlot(1);
    for (let i = 0; i < 5; i++) {
      slot.load(packet(i, 60), 1, 0);
      t.taps.get(0)!.observe(slot.ctx, TAP_ENTRY);
    }
    const s = await cap.stop();
    expect(s.packets).toBe(5);
    const r = PcapReader.open(file);
    for (let i = 0; i < 5; i++) {
      expect(r.next()).toBe(true);
      expect(r.record.verdict).toBe(-1);
      expect(r.record.data.subarray(r.record.commentOffset, r.record.commentOffset + r.record.commentLength).toString()).toBe('queue=0 stage=entry');
    }
  });

  it('the count is shared by every queue and stops the capture', async () => {
    const t = new InThread();
    const file = path.join(tmp(), 'e.pcapng');
    const cap = await Capture.start(t, { file, ports: ['p0'], queues: [0, 1, 2], count: 10 });
    const slot = new PacketSlot(1);
    for (let i = 0; i < 30; i++) {
      slot.load(packet(i, 60), 1, i % 3);
      t.taps.get(i % 3)?.observe(slot.ctx, 1);
    }
    const s = await cap.done;
    expect(s.packets).toBe(10);
    let n = 0;
    const r = PcapReader.open(file);
    while (r.next()) n++;
    expect(n).toBe(10);
  });

  it('refuses a bad filter, port or verdict before arming anything', async () => {
    const t = new InThread();
    const dir = tmp();
    await expect(Capture.start(t, { file: path.join(dir, 'x'), ports: ['p0'], queues: [0], filter: ['udp4', 'dst-port', 'x'] })).rejects.toThrow('filter: Invalid dst-port value[x]');
    await expect(Capture.start(t, { file: path.join(dir, 'y'), ports: ['p0'], queues: [0], port: 'zz' })).rejects.toThrow("no port named 'zz' (ports: p0)");
    await expect(Capture.start(t, { file: path.join(dir, 'z'), ports: ['p0'], queues: [0], verdicts: ['MAYBE'] })).rejects.toThrow("unknown verdict 'MAYBE'");
    expect(t.taps.size).toBe(0);
  });

  it('an armed tap allocates nothing per packet (with a filter, across wraps and drops)', async () => {
    const t = new InThread();
    const cap = await Capture.start(t, { file: path.join(tmp(), 'g.pcapng'), ports: ['p0'], queues: [0], ringBytes: 1 << 16, filter: ['udp4'] });
    // This test plays the drain itself; the capture's own timers (drain, clock) would only
    // add main-thread garbage of their own between the measured runs.
    const timers = cap as unknown as { timer: NodeJS.Timeout; clock: NodeJS.Timeout };
    clearInterval(timers.timer);
    clearInterval(timers.clock);
    const tap = t.taps.get(0)!;
    const slot = new PacketSlot(1);
    const udp = new Uint8Array(60);
    udp.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0, 53, 0, 26, 0, 0]);
    slot.load(udp, 1, 0);
    const w = new Int32Array((cap as unknown as { rings: { ring: { sab: SharedArrayBuffer } }[] }).rings[0].ring.sab);
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        tap.observe(slot.ctx, 1);
        // Play the drain now and then (free the ring) so records keep wrapping around.
        if ((i & 255) === 255) Atomics.store(w, 16, Atomics.load(w, 0));
      }
    };
    run(200_000);
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) counts.push(await gcsDuring(() => run(1_000_000)));
    expect(Math.min(...counts), `GCs per million packets: ${counts.join(', ')}`).toBe(0);
    await cap.stop();
  });
});
