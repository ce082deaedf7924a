/**
 * vhost-user — the switch side's CPU per 64-byte packet into and out of a real QEMU
 * guest's virtio rings (its Linux virtio-net driver, its RAM mapped from QEMU's memfd),
 * beside the same figure for the JS guest's rings (the `virtio` port's device over a
 * SharedArrayBuffer) measured in the same run and the same way.
 *
 * A TCG guest is far slower than the switch, so the figure is the switch's own time: this
 * thread runs the vhost-user port (the real port code, with its socket, watcher and
 * session) and times only its data-path calls — transmit() bursts into the guest's RX
 * ring until it has no buffer left, and poll() calls that took packets from its TX ring —
 * with this thread's CPU clock around the calls (its own cost subtracted); waiting for the
 * guest is not counted. A syscall is expensive on this VM (several µs): the eventfd write
 * that interrupts the guest is measured by itself in the same run.
 *   into: the guest drops the frames (broadcast, unknown EtherType)
 *   out of: the guest pings multicast groups as fast as busybox can (xs.tcp=flood)
 *
 * Needs qemu-system-x86_64 and the test guest (run the vhost-user tests once, or set
 * XS_GUEST_KERNEL and XS_GUEST_INITRD); otherwise the mode says so and reports nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { projectRoot } from '../../lib/worker-url.js';
import { close, eventfdCreate, eventfdWrite, threadCpuNs } from '../../lib/native/index.js';
import vhostUser, { VHOST_COUNTERS } from '../../switch/ports/vhost-user.js';
import type { PortIO } from '../../switch/ports/port.js';
import { VirtioNetDevice } from '../../switch/endpoints/virtio-net-device.js';
import { SplitDriverQueue } from '../../queues/virtqueue-driver.js';
import { GuestMemory } from '../../queues/virtqueue-memory.js';
import * as V from '../../queues/virtqueue.js';
import * as T from '../../queues/virtio-transport.js';
import { line, sleep, type BenchMode } from '../harness.js';

const now = () => Number(process.hrtime.bigint());

/**
 * This thread's CPU time (a syscall: several µs on this VM), and what one measurement
 * costs by itself, subtracted from every timed section: the clock must not time the
 * switch's own work plus a guest's run on the same core (wall time would, after an
 * eventfd write wakes QEMU).
 */
const cpu = threadCpuNs;
function clockCost(): number {
  let sum = 0;
  for (let i = 0; i < 2000; i++) {
    const a = cpu();
    sum += cpu() - a;
  }
  return sum / 2000;
}

/** ns one eventfd write costs this thread (what an interrupt into a QEMU guest costs). */
function eventfdWriteCost(): number {
  const fd = eventfdCreate();
  const a = cpu();
  for (let i = 0; i < 2000; i++) eventfdWrite(fd, 1);
  const ns = (cpu() - a) / 2000;
  close(fd);
  return ns;
}

/** 64-byte broadcast frames of an EtherType no guest handles. */
function frames(): Uint8Array {
  const area = new Uint8Array(new SharedArrayBuffer(8192));
  for (let f = 0; f < 4; f++) {
    area.fill(0xff, f * 2048 + 256, f * 2048 + 262);
    area.set([0x52, 0x54, 0, 0, 0, 0x99, 0x88, 0xb5], f * 2048 + 262);
  }
  return area;
}

/** The test guest: newest cache entry whose /init has the flood mode, or the env's. */
function findGuest(): { kernel: string; initrd: string } | string {
  if (process.env.XS_GUEST_KERNEL && process.env.XS_GUEST_INITRD) return { kernel: process.env.XS_GUEST_KERNEL, initrd: process.env.XS_GUEST_INITRD };
  const dir = path.join(projectRoot(), '.cache', 'guest');
  const found = (existsSync(dir) ? readdirSync(dir) : [])
    .map((d) => path.join(dir, d))
    .filter((d) => existsSync(path.join(d, 'vmlinuz')) && existsSync(path.join(d, 'initrd.gz')))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
    .find((d) => gunzipSync(readFileSync(path.join(d, 'initrd.gz'))).includes('flood)'));
  return found ? { kernel: path.join(found, 'vmlinuz'), initrd: path.join(found, 'initrd.gz') } : `no test guest with the flood mode in ${dir} (run npx vitest run test/integration/peers/vhost-user.test.ts once)`;
}

/** The JS guest's rings through the virtio port's device, timed like the QEMU guest's. */
function jsGuest(seconds: number, over: number): { into: number; outOf: number } {
  // Rings of 4096: each timed section then moves thousands of packets, so the thread CPU
  // clock's own cost (several µs, subtracted) is small beside it (with 64 per section the
  // from-guest figure came out below zero).
  const Q = 4096;
  const dev = new VirtioNetDevice({ mac: '52:54:00:00:00:01', maxPairs: 1, maxQueueSize: Q });
  const mem = GuestMemory.create(64 << 20);
  const transport = T.createTransport();
  const t = new Int32Array(transport);
  dev.attach(mem.sab, transport);
  let got = 0;
  const sink = { receive: () => (got++, true) };
  const status = (v: number) => {
    t[T.kStatusReq] = v;
    Atomics.add(t, T.kReqSeq, 1);
    dev.poll(0, sink);
  };
  status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER);
  // What the QEMU guest negotiates here: VERSION_1, EVENT_IDX, MRG_RXBUF, INDIRECT_DESC.
  const [lo, hi] = V.featureWords([V.VIRTIO_F_VERSION_1, V.VIRTIO_RING_F_EVENT_IDX, V.VIRTIO_NET_F_MRG_RXBUF, V.VIRTIO_RING_F_INDIRECT_DESC]);
  t[T.kDriverFeaturesLo] = lo;
  t[T.kDriverFeaturesHi] = hi;
  status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER | V.STATUS_FEATURES_OK);
  const rx = new SplitDriverQueue(mem, V.contiguousLayout(0x1000, Q), true);
  const tx = new SplitDriverQueue(mem, V.contiguousLayout(0x40000, Q), true);
  [rx, tx].forEach((q, i) => {
    t[T.queueWord(i, T.QSIZE)] = Q;
    t[T.queueWord(i, T.QDESC)] = q.layout.desc;
    t[T.queueWord(i, T.QDRIVER)] = q.layout.avail;
    t[T.queueWord(i, T.QDEVICE)] = q.layout.used;
    t[T.queueWord(i, T.QREADY)] = 1;
  });
  status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER | V.STATUS_FEATURES_OK | V.STATUS_DRIVER_OK);
  const RXB = 0x100000; // Q × 4 KiB
  const TXB = 0x1200000; // Q × 2 KiB
  const area = frames();
  let inNs = 0;
  let inPk = 0;
  let outNs = 0;
  let outPk = 0;
  const end = now() + seconds * 1e9;
  while (now() < end) {
    // The guest's side, not timed: refill RX with 4 KiB buffers (as Linux's mergeable
    // buffers), post a ring's worth of TX chains of header + frame.
    while (rx.getUsed());
    while (rx.freeCount > 0) rx.addOne(RXB + rx.nextHead * 4096, 4096, true);
    rx.publish();
    while (tx.getUsed());
    while (tx.freeCount > 0) tx.addOne(TXB + tx.nextHead * 2048, 76, false);
    tx.publish();
    let t0 = cpu();
    let n = 0;
    while (dev.transmit(area, 256 + (n & 3) * 2048, 64, 0)) n++;
    dev.flush();
    inNs += cpu() - t0 - over;
    inPk += n;
    const before = got;
    t0 = cpu();
    dev.poll(Q, sink);
    outNs += cpu() - t0 - over;
    outPk += got - before;
  }
  return { into: inNs / inPk, outOf: outNs / outPk };
}

interface QemuFigures {
  into: number;
  outOf: number;
  intoPackets: number;
  outPackets: number;
  intoBurst: number;
  outBurst: number;
  interrupts: number;
  kicks: number;
}

async function qemuGuest(seconds: number, guest: { kernel: string; initrd: string }, over: number): Promise<QemuFigures> {
  const dir = mkdtempSync(path.join(tmpdir(), 'xs-bench-vhost-'));
  const socket = path.join(dir, 'vm.sock');
  const port = vhostUser.create({ name: 'vm', type: 'vhost-user', socket });
  const counters = new Float64Array(VHOST_COUNTERS.length);
  let got = 0;
  const logs: string[] = [];
  const io = {
    name: 'vm',
    ifindex: 1,
    frameSize: 2048,
    maxFrameLength: 1792,
    counters,
    counterIndex: (n: string) => VHOST_COUNTERS.indexOf(n as (typeof VHOST_COUNTERS)[number]),
    count: () => {},
    log: (_l: string, m: string) => logs.push(m),
    receive: () => (got++, true),
    flush: () => {},
  } as unknown as PortIO;
  await port.open(io);
  const qemu = spawn('qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '128', '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio',
    '-kernel', guest.kernel, '-initrd', guest.initrd,
    '-append', `console=ttyS0 quiet panic=-1 xs.ip=192.0.2.21/24 xs.peer=192.0.2.21 xs.linger=600 xs.tcp=flood`,
    '-object', 'memory-backend-memfd,id=mem,size=128M,share=on', '-numa', 'node,memdev=mem',
    '-chardev', `socket,id=c0,path=${socket},reconnect=1`,
    '-netdev', 'vhost-user,id=n0,chardev=c0',
    '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:00:00:21,vectors=0,romfile=',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let console_ = '';
  qemu.stdout.on('data', (d: Buffer) => (console_ += d.toString('latin1')));
  try {
    // The guest is up and flooding once its TX ring delivers steadily.
    const ready = Date.now() + 120_000;
    while (got < 1000) {
      if (Date.now() > ready) throw new Error(`the guest did not start sending (console: ${console_.slice(-500)}; log: ${logs.join('; ')})`);
      port.poll!(64);
      await sleep(1);
    }
    const area = frames();
    let inNs = 0;
    let inPk = 0;
    let inBursts = 0;
    let outNs = 0;
    let outPk = 0;
    let outBursts = 0;
    const end = now() + seconds * 1e9;
    while (now() < end) {
      let t0 = cpu();
      let n = 0;
      while (n < 256 && port.transmit(area, 256 + (n & 3) * 2048, 64, 0)) n++;
      port.flushTx!();
      if (n > 0) {
        inNs += cpu() - t0 - over;
        inPk += n;
        inBursts++;
      }
      const before = got;
      t0 = cpu();
      port.poll!(64);
      const dt = cpu() - t0 - over;
      if (got > before) {
        outNs += dt;
        outPk += got - before;
        outBursts++;
      }
      // Let the guest (another process) and this thread's event loop (kicks, messages) run.
      await sleep(1);
    }
    const ci = (n: string) => counters[VHOST_COUNTERS.indexOf(n as (typeof VHOST_COUNTERS)[number])];
    return { into: inNs / inPk, outOf: outNs / outPk, intoPackets: inPk, outPackets: outPk, intoBurst: inPk / inBursts, outBurst: outPk / outBursts, interrupts: ci('interrupts'), kicks: ci('kicks_seen') };
  } finally {
    qemu.kill('SIGKILL');
    await new Promise((r) => qemu.once('exit', r));
    await port.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const mode: BenchMode = {
  name: 'vhost-user',
  description: "switch-side CPU per 64-byte packet into and out of a QEMU guest's virtio rings (vhost-user), beside the JS guest's rings, same run",
  async run(opts, report) {
    const guest = findGuest();
    const qemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
    if (typeof guest === 'string' || !qemu) {
      console.log(`vhost-user: not measured: ${!qemu ? 'qemu-system-x86_64 is not installed' : guest}`);
      return;
    }
    const over = clockCost();
    const efd = eventfdWriteCost();
    const js = jsGuest(opts.seconds, over);
    const q = await qemuGuest(Math.max(opts.seconds, 3), guest, over);
    const rows: [string, number, string][] = [
      ['cpu:virtio-into-guest', js.into, 'JS guest rings (virtio port)'],
      ['cpu:vhost-into-guest', q.into, `QEMU guest rings, ${q.intoPackets} packets in bursts of ${q.intoBurst.toFixed(0)}`],
      ['cpu:virtio-from-guest', js.outOf, 'JS guest rings (virtio port)'],
      ['cpu:vhost-from-guest', q.outOf, `QEMU guest rings, ${q.outPackets} packets in polls of ${q.outBurst.toFixed(1)}`],
    ];
    for (const [name, ns, what] of rows) {
      report({ mode: name, mpps: 1e3 / ns, cpuNsPerPacket: ns });
      if (!opts.json) {
        console.log(line(name, [[1e9 / ns, 'pkt/cpu-s']]));
        console.log(`  ${ns.toFixed(1)} ns a packet on the switch side: ${what}`);
      }
    }
    report({ mode: 'ref:eventfd-write', mpps: 1e3 / efd, cpuNsPerCall: efd, clockNs: over });
    if (!opts.json) {
      console.log(`  QEMU guest: ${q.interrupts} interrupts (call eventfd writes), ${q.kicks} kicks (eventfd reads, on the watcher's wake-up, not timed above)`);
      console.log(`  one eventfd write costs ${efd.toFixed(0)} ns of CPU here (a syscall through koffi; the thread CPU clock itself ${over.toFixed(0)} ns, subtracted)`);
    }
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    report({ mode: 'vhost-vs-virtio', mpps: 0, intoRatio: q.into / js.into, fromRatio: q.outOf / js.outOf });
    if (!opts.json) console.log(`  vhost-user / virtio CPU a packet: into ${ratio(q.into, js.into)}×, out of ${ratio(q.outOf, js.outOf)}× (the QEMU guest's bursts are smaller: it refills slowly under TCG)`);
  },
};

export default mode;
