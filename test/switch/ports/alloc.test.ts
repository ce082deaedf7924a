/**
 * The socket ports' own per-frame code allocates nothing for small frames (copy.ts: larger
 * ones are copied by a memcpy that makes one view): stream reassembly (records whole in a
 * chunk and records split across chunks) and the VXLAN handover between threads (put,
 * flush, drain), a million frames each, run synchronously so nothing else can allocate
 * meanwhile. heapUsed is sampled every 65,536 frames; a per-frame allocation of even a few
 * bytes would grow it by hundreds of kilobytes between samples.
 * (What Node's socket API allocates — the Buffer of each datagram, send requests — is
 * outside these loops and outside our control.)
 */
import { describe, expect, it } from 'vitest';
import { LengthPrefixReader } from '../../../switch/ports/net/length-prefix.js';
import { createHandover, HandoverConsumer, HandoverProducer } from '../../../switch/ports/net/handover.js';
import { overMtu } from '../../../switch/ports/net/mtu.js';

const N = 1 << 20;
const SAMPLE = 1 << 16;

/**
 * Runs step(i) N times; returns how many of the N / SAMPLE sampling intervals grew the heap
 * by more than 64 KiB. A per-frame allocation grows nearly every interval (all but those a
 * scavenge empties); a one-off event (the JIT re-optimising) grows one.
 */
function growingIntervals(step: (i: number) => void): number {
  for (let i = 0; i < SAMPLE * 2; i++) step(i); // warm-up: let the JIT settle
  let last = process.memoryUsage().heapUsed;
  let growing = 0;
  for (let i = 0; i < N; i++) {
    step(i);
    if ((i & (SAMPLE - 1)) === SAMPLE - 1) {
      const h = process.memoryUsage().heapUsed;
      if (h - last > 64 * 1024) growing++;
      last = h;
    }
  }
  return growing;
}

describe('socket ports: per-frame code does not allocate', () => {
  it('stream reassembly, whole and split records', () => {
    let frames = 0;
    let bytes = 0;
    const r = new LengthPrefixReader(1792, (b, o, len) => {
      frames++;
      bytes += b[o] + len;
    });
    // 3 records of 60 bytes in one 192-byte chunk, cut at 100 bytes: each pass feeds one
    // whole record and two split ones (header and body across the cut).
    const wire = new Uint8Array(192);
    for (let k = 0; k < 3; k++) wire.set([0, 0, 0, 60], k * 64);
    const g = growingIntervals(() => {
      r.feed(wire, 0, 100);
      r.feed(wire, 100, 192);
    });
    expect(frames).toBe((N + SAMPLE * 2) * 3);
    expect(bytes).toBeGreaterThan(0);
    expect(g).toBeLessThanOrEqual(2); // of 16
  });

  it('VXLAN handover of frames up to 123 bytes: put, flush, drain', () => {
    const h = createHandover(1024, 1800);
    const p = new HandoverProducer(h);
    const c = new HandoverConsumer(h);
    const src = new Uint8Array(1600);
    let seen = 0;
    const deliver = (b: Uint8Array, o: number, len: number) => {
      seen += len > 0 && !overMtu(b, o, len, 1450) ? 1 : 0;
    };
    const g = growingIntervals((i) => {
      p.put(src, 8, 60 + (i & 63));
      if ((i & 31) === 31) {
        p.flush();
        c.drain(64, deliver);
      }
    });
    expect(seen).toBe(N + SAMPLE * 2);
    expect(c.takeFull() + c.takeOversize()).toBe(0);
    expect(g).toBeLessThanOrEqual(2); // of 16
  });
});
