/**
 * The queue worker's side of a guest's TX ring (virtio-net-ingress.ts behind the data
 * path's poll): plain frames, frames with a partial checksum and TSO super-frames go into
 * the worker's frames, counted so that rx_packets − rx_gso_packets + rx_gso_segments is what
 * was staged, with the segments Linux's rules give (lib/net/gso.ts, checked against its own
 * reference in test/lib/net/gso.test.ts); and the path allocates nothing per packet over
 * millions of frames (garbage collections counted).
 */
import { expect, it } from 'vitest';
import { PerformanceObserver } from 'node:perf_hooks';
import { VirtioNetQueues, VIRTIO_COUNTERS } from '../../../../switch/endpoints/virtio-net-queues.js';
import { QueueIngress, SEGMENT_ROOM } from '../../../../switch/endpoints/virtio-net-ingress.js';
import { SplitDeviceQueue } from '../../../../queues/virtqueue-device.js';
import { SplitDriverQueue } from '../../../../queues/virtqueue-driver.js';
import { GuestMemory } from '../../../../queues/virtqueue-memory.js';
import * as V from '../../../../queues/virtqueue.js';
import { P, PORT_COUNTERS } from '../../../../switch/counters.js';
import { F_VNET } from '../../../../queues/frame-vnet.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 } from '../../../../lib/net/vnet-hdr.js';
import type { QueueIO } from '../../../../switch/ports/port.js';
import { ACK, build, bytes, rng } from '../../../lib/net/frames.js';

const FRAME = 2048;
const FRAMES = 512;

/** A queue worker's QueueIO as the side sees it: frames from a stack, submits kept by kind. */
function fakeIo() {
  const area = new Uint8Array(new SharedArrayBuffer(FRAMES * FRAME + 70_000));
  const counters = new Float64Array(PORT_COUNTERS.length + VIRTIO_COUNTERS.length);
  const free: number[] = [];
  for (let f = FRAMES - 1; f >= 0; f--) free.push(f);
  const seen = { frames: 0, vnet: 0, super: 0, bytes: 0 };
  let superFree = true;
  const io = {
    name: 'vm',
    ifindex: 1,
    queue: 0,
    queues: 1,
    receives: true,
    frameSize: FRAME,
    maxFrameLength: FRAME - 256,
    area,
    written: new Int32Array(FRAMES),
    counters,
    shared: null,
    direct: false,
    allocFrame: () => {
      const f = free.pop();
      if (f === undefined) {
        counters[P.rx_packets]++;
        counters[P.rx_no_buffer]++;
        return -1;
      }
      return f;
    },
    dataOffset: (f: number) => f * FRAME + 256,
    room: () => 0,
    submit: (f: number, length: number, _hash: number, flags = 0) => {
      counters[P.rx_packets]++;
      seen.frames++;
      seen.bytes += length;
      if ((flags & F_VNET) !== 0) seen.vnet++;
      if (f === FRAMES) {
        seen.super++;
        superFree = true;
      } else free.push(f);
      return true;
    },
    allocSuperFrame: () => (superFree ? ((superFree = false), FRAMES) : -1),
    takesFrags: () => takesFrags.v,
    counterIndex: (n: string) => PORT_COUNTERS.length + VIRTIO_COUNTERS.indexOf(n as (typeof VIRTIO_COUNTERS)[number]),
    count: () => {},
    log: () => {},
  } as unknown as QueueIO;
  const takesFrags = { v: false };
  return { io, counters, seen, takesFrags };
}

function rig() {
  const mem = GuestMemory.create(4 << 20);
  const f = fakeIo();
  const host = { interrupt: () => {}, broken: (why: string) => { throw new Error(why); } };
  const net = new VirtioNetQueues(1, host, f.counters, PORT_COUNTERS.length);
  const tx = new SplitDriverQueue(mem, V.contiguousLayout(0x8000, 256), false);
  const dq = new SplitDeviceQueue(mem, { size: 256, ...tx.layout }, { eventIdx: false, indirect: false });
  net.start(mem, [null, dq], false);
  const sink = new QueueIngress(f.io);
  return { mem, tx, net, sink, ...f };
}

it('plain, partial-checksum and TSO frames: staged and counted as the device thread counts them', () => {
  const r = rig();
  const TXB = 0x100000;
  // A 64 KB TCP super-frame (NEEDS_CSUM, gso_size 1448) behind its virtio_net_hdr, a plain frame, a partial one.
  const sup = build({ saddr: [10, 0, 0, 1], daddr: [10, 0, 0, 2], sport: 40000, dport: 5201, seq: 1, ack: 1, id: 1, flags: ACK, payload: bytes(65000, rng(7)) });
  const hdr = new Uint8Array(12);
  hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4;
  hdr[2] = 54; // hdr_len
  hdr[4] = 1448 & 0xff;
  hdr[5] = 1448 >> 8;
  hdr[6] = 34; // csum_start
  hdr[8] = 16; // csum_offset
  const put = (at: number, h: Uint8Array, frame: Uint8Array) => {
    r.mem.bytes.set(h, at);
    r.mem.bytes.set(frame, at + 12);
    r.tx.addOne(at, 12 + frame.length, false);
  };
  const plain = sup.subarray(0, 60);
  put(TXB, new Uint8Array(12), plain);
  put(TXB + 0x20000, hdr, sup);
  const partial = new Uint8Array(12);
  partial[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  partial[6] = 34;
  partial[8] = 16;
  put(TXB + 0x40000, partial, sup.subarray(0, 1000));
  r.tx.publish();
  r.sink.begin(64 + SEGMENT_ROOM);
  expect(r.net.poll(64 + SEGMENT_ROOM, r.sink)).toBe(3);
  const c = r.counters;
  const segs = Math.ceil((65000) / 1448);
  expect(c[P.rx_gso_packets]).toBe(1);
  expect(c[P.rx_gso_segments]).toBe(segs);
  expect(r.seen.frames).toBe(2 + segs);
  // Segments of a NEEDS_CSUM super-frame stay partial, as the partial frame does.
  expect(r.seen.vnet).toBe(1 + segs);
  // Three frames entered; what reached the queue is rx_packets − gso_packets + gso_segments.
  expect(c[P.rx_packets]).toBe(3);
  expect(c[P.rx_packets] - c[P.rx_gso_packets] + c[P.rx_gso_segments]).toBe(r.seen.frames);

  // A chain that takes frags: the super-frame goes on whole, once.
  r.takesFrags.v = true;
  put(TXB + 0x20000, hdr, sup);
  r.tx.publish();
  r.sink.begin(64 + SEGMENT_ROOM);
  expect(r.net.poll(64 + SEGMENT_ROOM, r.sink)).toBe(1);
  expect(r.seen.super).toBe(1);
  expect(c[P.rx_gso_whole]).toBe(1);

  // Room for fewer segments than a super-frame makes: the chain waits in the ring.
  r.takesFrags.v = false;
  put(TXB + 0x20000, hdr, sup);
  r.tx.publish();
  r.sink.begin(SEGMENT_ROOM - 1);
  expect(r.net.poll(SEGMENT_ROOM - 1, r.sink)).toBe(0);
  r.sink.begin(64 + SEGMENT_ROOM);
  expect(r.net.poll(64 + SEGMENT_ROOM, r.sink)).toBe(1);
  expect(c[P.rx_ring_full] + c[P.rx_no_buffer]).toBe(0);
});

/** Garbage collections over 32 000 polls of 64 frames; `leak` allocates per packet (the negative control). */
async function gcsOver(leak: boolean): Promise<number> {
  const r = rig();
  const TXB = 0x100000;
  const frame = build({ saddr: [10, 0, 0, 1], daddr: [10, 0, 0, 2], sport: 1, dport: 2, seq: 1, ack: 1, id: 1, flags: ACK, payload: bytes(1000, rng(3)) });
  for (let h = 0; h < 256; h++) {
    r.mem.bytes.set(frame.subarray(0, (h & 1) === 0 ? 60 : 1000), TXB + h * 2048 + 12);
  }
  let polled = 0;
  const kept: unknown[] = [];
  const sink = leak
    ? {
        receive: (src: Uint8Array, off: number, len: number) => {
          kept[polled & 7] = { src, off, len };
          return r.sink.receive(src, off, len);
        },
      }
    : r.sink;
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 64; k++) {
        while (r.tx.getUsed());
        r.tx.addOne(TXB + r.tx.nextHead * 2048, 12 + ((k & 1) === 0 ? 60 : 1000), false);
      }
      r.tx.publish();
      r.sink.begin(64 + SEGMENT_ROOM);
      polled += r.net.poll(64 + SEGMENT_ROOM, sink);
    }
  };
  run(2000);
  let gcs = 0;
  const obs = new PerformanceObserver((l) => (gcs += l.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  const before = polled;
  run(32_000);
  await new Promise((res) => setTimeout(res, 50));
  obs.disconnect();
  expect(polled - before).toBe(32_000 * 64);
  expect(r.seen.frames).toBe(polled);
  return gcs;
}

it('allocates nothing per packet (at most a few scavenges over two million frames; an object per packet makes many)', async () => {
  expect(await gcsOver(false)).toBeLessThanOrEqual(3);
  // The negative control: the same loop with one small object per packet.
  expect(await gcsOver(true)).toBeGreaterThan(10);
}, 60_000);
