/**
 * The allocation tests' rigs: a queue engine driven synchronously on the test's thread over
 * every hot path that must not allocate per packet (test/switch/engine-alloc*.test.ts).
 */
import { expect, it } from 'vitest';
import { createLayout, frameOwner, workerThread } from '../../switch/layout.js';
import { QueueEngine } from '../../switch/queue-engine.js';
import { Ring } from '../../queues/ring.js';
import { FramePool, RecycleRing } from '../../queues/pool.js';
import { F_VNET, OFFLOAD_CSUM, OFFLOAD_TSO } from '../../queues/frame-vnet.js';
import { VIRTIO_NET_HDR_F_DATA_VALID } from '../../lib/net/vnet-hdr.js';
import { D_FRAME } from '../../queues/frames.js';
import { instantiate, loadProgram } from '../../programs/loader.js';
import { buildFrame } from '../../switch/ports/gen.js';
import { CONFIG_DEFAULTS } from '../../switch/config-types.js';
import genType from '../../switch/ports/gen.js';
import nullType from '../../switch/ports/null.js';
import virtioType from '../../switch/ports/virtio.js';
import { createHandover, HandoverWriter } from '../../queues/virtq-handover.js';
import { GuestMemory } from '../../queues/virtqueue-memory.js';
import { SplitDriverQueue } from '../../queues/virtqueue-driver.js';
import { contiguousLayout } from '../../queues/virtqueue.js';
import * as T from '../../queues/virtio-transport.js';
import { youngSpread, type Spread } from './heap.js';

/**
 * Takes every frame the engine put on the tx rings (as their device threads would) and hands
 * each to `home`. Indexed, not for-of: under `--always-osr` this function's first pass runs
 * unoptimized, where for-of makes an iterator object a call (the rig's allocation, not the engine's).
 */
function drainTx(tx: Ring[], home: (frame: number) => void): void {
  for (let r = 0; r < tx.length; r++) {
    const t = tx[r];
    const m = t.peek(1024);
    for (let j = 0; j < m; j++) home(t.words[t.entryOf(j) + D_FRAME]);
    t.release(m);
  }
}

export async function rig(program: string, params: Record<string, unknown> = {}) {
  const config = { ...CONFIG_DEFAULTS, queues: 1, ports: [{ name: 'a', type: 'null' }, { name: 'b', type: 'null' }], programs: [] };
  const layout = createLayout(config, []);
  const ports = [
    { name: 'a', ifindex: 1 },
    { name: 'b', ifindex: 2 },
  ];
  const lp = await loadProgram({ name: program, params }, { baseDir: '.', queues: 1 });
  const engine = new QueueEngine(layout, 0, await instantiate(lp, { queue: 0, queues: 1, ports, log() {} }));
  const rx = new Ring(layout.rx[0][0]);
  const pool = new FramePool(layout.pools[0]); // this test plays device 0: allocates and drains
  const tx = layout.tx[0].map((s) => new Ring(s));
  const area = new Uint8Array(layout.area);
  const frame = buildFrame(
    { flows: 1, sizes: [64], count: 0, rate: 0, proto: 'udp', ipv6: false, src: [10, 0, 0, 1], dst: [10, 1, 0, 1], srcMac: [2, 0, 0, 0, 0, 1], dstMac: [2, 0, 0, 0, 0, 2], dstPort: 9 },
    0,
    64,
  );
  const freeHome = (f: number): void => pool.free(f);
  /** Pushes and processes `n` packets; returns how many the engine took. */
  const run = (n: number): number => {
    let done = 0;
    while (done < n) {
      const k = rx.reserve(64);
      let put = 0;
      for (; put < k; put++) {
        const f = pool.alloc();
        if (f < 0) break;
        area.set(frame, f * 2048 + 256);
        const o = rx.slotOf(put);
        rx.words[o] = f;
        rx.words[o + 1] = 256 | (64 << 16);
        rx.words[o + 2] = 0;
        rx.words[o + 3] = 0;
      }
      rx.submit(put);
      done += engine.breathe();
      drainTx(tx, freeHome);
      pool.refill();
    }
    return done;
  };
  return { engine, run };
}

/**
 * Run to completion: the engine polls its own RX queue of a `gen` port (pre-written frames,
 * or written every time) and transmits on the ports' queue sides itself; nothing else runs.
 */
export async function rtcRig(program: string, gen: Record<string, unknown>) {
  const ports = [
    { name: 'a', ifindex: 1 },
    { name: 'b', ifindex: 2 },
  ];
  const portConfigs = [{ name: 'a', type: 'gen', flows: 64, size: 64, ...gen }, { name: 'b', type: 'null' }];
  const config = { ...CONFIG_DEFAULTS, queues: 1, ports: portConfigs, programs: [] };
  const layout = createLayout(config, []);
  const lp = await loadProgram({ name: program, params: program === 'redirect' ? { port: 'b' } : {} }, { baseDir: '.', queues: 1, ports });
  const engine = new QueueEngine(layout, 0, await instantiate(lp, { queue: 0, queues: 1, ports, log() {} }));
  const genIo = engine.attachQueueSide(0, 'a', true, true, () => {});
  genIo.side = genType.openQueue!(portConfigs[0], genIo);
  const nullIo = engine.attachQueueSide(1, 'b', false, true, () => {});
  nullIo.side = nullType.openQueue!(portConfigs[1], nullIo);
  engine.ingressOpen = true;
  const run = (n: number): number => {
    let done = 0;
    while (done < n) done += engine.breathe();
    return done;
  };
  return { engine, run };
}

/**
 * Run to completion into a VM: the engine polls gen and writes each frame into a JS guest's
 * RX ring itself (the virtio port's queue side, handed the ring as its device thread would);
 * the rig plays the guest in this thread between breaths, reposting used buffers.
 */
export async function vmRig() {
  const ports = [
    { name: 'a', ifindex: 1 },
    { name: 'vm', ifindex: 2 },
  ];
  const portConfigs = [{ name: 'a', type: 'gen', flows: 64, size: 64, recycle: true }, { name: 'vm', type: 'virtio' }];
  const config = { ...CONFIG_DEFAULTS, queues: 1, ports: portConfigs, programs: [] };
  const layout = createLayout(config, [[], virtioType.counters ?? []]);
  const lp = await loadProgram({ name: 'redirect', params: { port: 'vm' } }, { baseDir: '.', queues: 1, ports });
  const engine = new QueueEngine(layout, 0, await instantiate(lp, { queue: 0, queues: 1, ports, log() {} }));
  const genIo = engine.attachQueueSide(0, 'a', true, true, () => {});
  genIo.side = genType.openQueue!(portConfigs[0], genIo);
  const shared = createHandover(1);
  const vmIo = engine.attachQueueSide(1, 'vm', false, true, () => {}, shared);
  const side = virtioType.openQueue!(portConfigs[1], vmIo);
  vmIo.side = side;
  engine.sidesOpened();
  const mem = GuestMemory.create(4 << 20);
  const rx = new SplitDriverQueue(mem, contiguousLayout(0x1000, 1024), true);
  const RXB = 0x100000;
  for (let h = 0; h < 1024; h++) rx.addOne(RXB + h * 2048, 2048, true);
  rx.publish();
  side.control!({ gen: 1, memory: mem.sab, transport: T.createTransport() });
  new HandoverWriter(shared, () => {}, () => {}).hand(0, { vq: 0, size: 1024, ...rx.layout, flags: 1, base: 0, takes: 0, callFd: -1, memGen: 1 });
  engine.ingressOpen = true;
  let delivered = 0;
  const run = (n: number): number => {
    let done = 0;
    while (done < n) {
      done += engine.breathe();
      while (rx.getUsed()) {
        delivered++;
        rx.addOne(RXB + rx.nextHead * 2048, 2048, true);
      }
      rx.publish();
    }
    return done;
  };
  return { engine, run, delivered: () => delivered, direct: () => vmIo.direct };
}

/** The young generation's spread while `run` takes `total` packets (test/support/heap.ts). */
export const bestSpread = (run: (n: number) => number, total: number): Spread => youngSpread(() => run(65_536), total);

/**
 * GRO on: TCP segments of one flow (1514 bytes, DATA_VALID in their virtio_net_hdr) sent
 * back out of port a, which published OFFLOAD_TSO: the engine merges them into super-frames
 * from its own pool. This thread plays device 0 and returns super-frames to the worker's
 * pool through its recycle ring, as a device thread does.
 */
export async function groRig(vm = false) {
  const portConfigs = [vm ? { name: 'a', type: 'virtio' } : { name: 'a', type: 'null' }, { name: 'b', type: 'null' }];
  const config = { ...CONFIG_DEFAULTS, queues: 1, superFrames: 16, ports: portConfigs, programs: [] };
  const layout = createLayout(config, vm ? [virtioType.counters ?? [], []] : []);
  new Int32Array(layout.offloads)[0] = vm ? OFFLOAD_TSO | OFFLOAD_CSUM : OFFLOAD_TSO;
  const ports = [
    { name: 'a', ifindex: 1 },
    { name: 'b', ifindex: 2 },
  ];
  const lp = await loadProgram({ name: 'tx', params: {} }, { baseDir: '.', queues: 1 });
  const engine = new QueueEngine(layout, 0, await instantiate(lp, { queue: 0, queues: 1, ports, log() {} }));
  // vm: port a is a GUEST_TSO JS guest whose RX ring the engine writes itself (its queue
  // side, handed the ring as the device thread would); the rig plays the guest, reposting
  // each 64 KB buffer (no MRG_RXBUF) once it was used.
  const guest = vm ? guestRing(engine, portConfigs[0]) : null;
  const rx = new Ring(layout.rx[0][0]);
  const pool = new FramePool(layout.pools[0]);
  const worker = workerThread(layout, 0);
  const back = new RecycleRing(layout.pools[worker].rings[0]);
  const tx = layout.tx[0].map((s) => new Ring(s));
  const area = new Uint8Array(layout.area);
  const seg = new Uint8Array(1514);
  seg.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0, 0x45, 0, 1500 >> 8, 1500 & 0xff, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
  seg.set([0x9c, 0x40, 0x14, 0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff], 34);
  // The TCP sequence number lives in a typed array, not in a closure variable: past 2^31 a
  // u32 is no longer a small integer, and every store of it into a closure's context would
  // box a new heap number — 16 bytes a segment allocated by this rig, not by the engine.
  const seqWord = new Uint32Array(1);
  let id = 0;
  // A frame of this thread's pool (device 0) is freed here; the worker's goes home by its recycle ring.
  const home = (f: number): void => {
    if (frameOwner(layout, f) === 0) pool.free(f);
    else back.put(f);
  };
  const run = (n: number): number => {
    let done = 0;
    while (done < n) {
      const k = rx.reserve(64);
      let put = 0;
      for (; put < k; put++) {
        const f = pool.alloc();
        if (f < 0) break;
        const at = f * 2048 + 256;
        area.set(seg, at);
        area[at + 18] = id >> 8;
        area[at + 19] = id & 0xff;
        let sum = 0;
        for (let i = 14; i < 34; i += 2) sum += (area[at + i] << 8) | area[at + i + 1];
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
        area[at + 24] = (~sum >> 8) & 0xff;
        area[at + 25] = ~sum & 0xff;
        const seq = seqWord[0];
        area[at + 38] = seq >>> 24;
        area[at + 39] = (seq >>> 16) & 0xff;
        area[at + 40] = (seq >>> 8) & 0xff;
        area[at + 41] = seq & 0xff;
        area[f * 2048] = VIRTIO_NET_HDR_F_DATA_VALID; // the frame's header copy: flags; the rest zero
        id = (id + 1) & 0xffff;
        seqWord[0] = seq + 1460; // wraps at 2^32 as TCP's does
        const o = rx.slotOf(put);
        rx.words[o] = f;
        rx.words[o + 1] = 256 | (1514 << 16);
        rx.words[o + 2] = 0;
        rx.words[o + 3] = F_VNET;
      }
      rx.submit(put);
      done += engine.breathe();
      drainTx(tx, home);
      back.flush();
      pool.refill();
      guest?.take();
    }
    return done;
  };
  return { engine, run, guest };
}

/** A GUEST_TSO guest's RX ring (256 × 64 KB buffers, no MRG_RXBUF) handed to `engine`'s side of port 0. */
export function guestRing(engine: QueueEngine, config: { name: string; type: string }) {
  const shared = createHandover(1);
  const io = engine.attachQueueSide(0, config.name, false, true, () => {}, shared);
  const side = virtioType.openQueue!(config as never, io);
  io.side = side;
  engine.sidesOpened();
  const BUF = 65552;
  const RXB = 0x100000;
  const mem = GuestMemory.create(RXB + 256 * BUF);
  const rx = new SplitDriverQueue(mem, contiguousLayout(0x1000, 256), true);
  for (let h = 0; h < 256; h++) rx.addOne(RXB + h * BUF, BUF, true);
  rx.publish();
  side.control!({ gen: 1, memory: mem.sab, transport: T.createTransport() });
  new HandoverWriter(shared, () => {}, () => {}).hand(0, { vq: 0, size: 256, ...rx.layout, flags: 1, base: 0, takes: OFFLOAD_CSUM | OFFLOAD_TSO, callFd: -1, memGen: 1 });
  const seen = { frames: 0, superFrames: 0, direct: () => io.direct };
  return {
    seen,
    take(): void {
      while (rx.getUsed()) {
        seen.frames++;
        // gso_type (byte 1 of the virtio_net_hdr the worker wrote) and the frame's length.
        if (mem.bytes[RXB + rx.usedId * BUF + 1] !== 0 && rx.usedLen > 1514 + 12) seen.superFrames++;
        rx.addOne(RXB + rx.nextHead * BUF, BUF, true);
      }
      rx.publish();
    },
  };
}

/** The run-to-completion cases both allocation files run: program, and the gen port's options. */
const RTC_CASES = [
  ['drop', { recycle: true }],
  ['tx', { recycle: true }],
  ['redirect', {}],
] as const;

/** A run-to-completion rig warmed up (300,000 packets), then measured over a million. */
async function rtcSpread(program: string, gen: Record<string, unknown>): Promise<Spread & { packets: number }> {
  const { engine, run } = await rtcRig(program, gen);
  run(300_000);
  return { ...bestSpread(run, 1_000_000), packets: engine.counters.get('packets') };
}

/**
 * The cases both allocation files run (engine-alloc.test.ts, and under `--always-osr`
 * engine-alloc-osr.test.ts), each asserting the same: a device-written ring through drop
 * and tx, gen polled by the worker through drop, tx and redirect, gen into a JS guest.
 */
export function engineAllocationCases(): void {
  for (const program of ['drop', 'tx']) {
    it(`a million packets through ${program} leave the heap where it was`, async () => {
      const { engine, run } = await rig(program);
      run(300_000); // warm up: JIT compilation and inline caches settle
      const { spread, processed, samples } = bestSpread(run, 1_000_000);
      expect(processed).toBeGreaterThanOrEqual(1_000_000);
      expect(engine.counters.get('packets')).toBeGreaterThanOrEqual(1_300_000);
      // Allocating 8 bytes per packet would move the young generation by ≥ 512 KiB between samples.
      expect(spread, samples).toBeLessThan(200 * 1024);
    });
  }

  for (const [program, gen] of RTC_CASES) {
    it(`run to completion: a million packets polled from gen${'recycle' in gen ? ' (pre-written frames)' : ''} through ${program} leave the heap where it was`, async () => {
      const { spread, processed, samples, packets } = await rtcSpread(program, gen);
      expect(processed).toBeGreaterThanOrEqual(1_000_000);
      expect(packets).toBeGreaterThanOrEqual(1_300_000);
      expect(spread, samples).toBeLessThan(200 * 1024);
    });
  }

  it('run to completion: a million packets from gen written into a JS guest RX ring by the worker leave the heap where it was', async () => {
    const { run, delivered, direct } = await vmRig();
    run(300_000);
    expect(direct()).toBe(true);
    const { spread, processed, samples } = bestSpread(run, 1_000_000);
    expect(processed).toBeGreaterThanOrEqual(1_000_000);
    expect(delivered()).toBeGreaterThanOrEqual(1_000_000);
    expect(spread, samples).toBeLessThan(200 * 1024);
  });
}
