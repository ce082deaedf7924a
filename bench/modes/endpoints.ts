/**
 * endpoints — delivery to sockets and VMs, 64-byte frames, one switch queue:
 *   xsk       gen0 → queue 0 → xskmap redirect → AF_XDP-style socket → rx-drop app (worker)
 *   vm        gen0 → queue 0 → redirect → virtio port → guest count-drop (VM worker)
 *   vm-vm     blasting guest → virtio port → queue 0 → redirect → virtio port → count-drop guest
 * and in the same run, for reading the figures:
 *   ref:drop      the same gen0 → queue 0 with XDP_DROP (the switch's own ceiling here)
 *   ref:xsk-ep    the socket endpoint alone: this thread calls deliver() as a queue worker
 *                 would, the rx-drop app drains in its worker (no switch)
 *   ref:virtio-ep the virtio device alone: this thread calls transmit() into a count-drop
 *                 guest in its worker (no switch)
 *   cpu:*         CPU time per packet of the switch side alone (process.cpuUsage, one
 *                 thread, the other side's work subtracted): what one queue could carry if
 *                 it had a core to itself — readable on a busy machine where wall-clock
 *                 rates are not
 * Targets (issue 5): xsk rx-drop ≥ 15 Mpps per queue, VM delivery ≥ 5 Mpps.
 */
import { Switch } from '../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';
import { workerUrl } from '../../lib/worker-url.js';
import { createXskShared, xskStats } from '../../switch/endpoints/xsk-shared.js';
import { openXskEndpoint } from '../../switch/endpoints/xsk.js';
import { startXskApp } from '../../switch/endpoints/xsk-app.js';
import { VirtioNetDevice } from '../../switch/endpoints/virtio-net-device.js';
import { XskSocket } from '../../switch/endpoints/xsk-socket.js';
import { SplitDriverQueue } from '../../queues/virtqueue-driver.js';
import { GuestMemory } from '../../queues/virtqueue-memory.js';
import * as V from '../../queues/virtqueue.js';
import * as T from '../../queues/virtio-transport.js';
import { startVm, type Vm } from '../../guest/runner.js';
import { line, rate, sleep, type BenchMode, type BenchResult } from '../harness.js';

const TARGET = { xsk: 15, vm: 5, 'vm-vm': 5 } as const;
/**
 * The `vm` guest's ring size (ethtool -G rx): 4096 buffers let a guest that a loaded machine
 * deschedules for ~1 ms find its ring still holding buffers (1024 last ~250 µs at 4 Mpps).
 * `vm-vm` keeps 1024: there the larger rings measured no better and cost more CPU a packet
 * (two guests' 8 MB of buffers each).
 */
const VM_RING = 4096;
const VM_VM_RING = 1024;
/** Guest memory for VM_RING-entry RX and TX rings of 2 KB buffers. */
const VM_MEMORY = 48 << 20;

function cfg(ports: SwitchConfig['ports'], chain: SwitchConfig['programs'][number]['chain']): SwitchConfig {
  return { ...CONFIG_DEFAULTS, queues: 1, poolFrames: 8192, ringSize: 2048, ports, programs: [{ queues: [0], chain }] };
}

async function refDrop(seconds: number): Promise<number> {
  const sw = await Switch.start(cfg([{ name: 'gen0', type: 'gen', flows: 64, size: 64, recycle: true }], [{ name: 'drop', params: {}, continueOn: [] }]));
  const pps = await rate(() => sw.stats().queues.rx0_packets, seconds);
  await sw.stop();
  return pps;
}

async function xskSwitch(seconds: number) {
  const shared = createXskShared({ frames: 8192, ringSize: 4096 });
  const app = await startXskApp('examples/xsk/rx-drop', shared);
  const sw = await Switch.start(
    // Per queue on pre-written frames (pktgen's clone_skb), as the xdp rows: the figure is the worker's own work.
    cfg([{ name: 'gen0', type: 'gen', flows: 64, size: 64, recycle: true }], [{ name: workerUrl('examples/xsk/redirect-program').pathname, params: { ids: [0] }, continueOn: [] }]),
  );
  await sw.bindEndpoint(0, 0, workerUrl('switch/endpoints/xsk').href, { ...shared, egressPort: 0 });
  const pps = await rate(() => app.counters().packets, seconds);
  const q = sw.stats().queues;
  const s = await sw.stop();
  await app.stop();
  const st = xskStats(shared);
  return { pps, offered: q.rx0_packets, redirectErr: q.rx0_xdp_redirect_err, ringFull: st.rx_ring_full, fillEmpty: st.rx_fill_ring_empty_descs, unaccounted: s.unaccounted };
}

async function xskEndpointOnly(seconds: number): Promise<number> {
  const shared = createXskShared({ frames: 8192, ringSize: 4096 });
  const app = await startXskApp('examples/xsk/rx-drop', shared);
  const ep = openXskEndpoint(shared, 0);
  const area = new Uint8Array(new SharedArrayBuffer(4096));
  let stop = false;
  // Batches of 64 as a breath; yield now and then so the timers measuring us run.
  const pump = (async () => {
    while (!stop) {
      for (let b = 0; b < 256; b++) {
        for (let k = 0; k < 64; k++) ep.deliver(area, 256, 64, 0);
        ep.flush();
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  const pps = await rate(() => app.counters().packets, seconds);
  stop = true;
  await pump;
  await app.stop();
  return pps;
}

async function virtioEndpointOnly(seconds: number): Promise<number> {
  const dev = new VirtioNetDevice({ mac: '52:54:00:00:00:01', maxPairs: 1, maxQueueSize: VM_RING });
  const sink = { receive: () => true };
  let stop = false;
  const poller = (async () => {
    while (!stop) {
      dev.poll(64, sink);
      await new Promise((r) => setImmediate(r));
    }
  })();
  const vm = await startVm({
    program: 'examples/vm/count-drop',
    driver: { queueSize: VM_RING },
    memoryBytes: VM_MEMORY,
    attach: (m) => {
      const e = dev.attach(m.memory, m.transport);
      if (e) throw new Error(e);
      return {};
    },
  });
  stop = true;
  await poller;
  const area = new Uint8Array(new SharedArrayBuffer(4096));
  stop = false;
  const pump = (async () => {
    while (!stop) {
      for (let b = 0; b < 256; b++) {
        for (let k = 0; k < 64; k++) dev.transmit(area, 256, 64, 0);
        dev.flush();
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  const pps = await rate(() => vm.counter('rx_packets'), seconds);
  stop = true;
  await pump;
  const pollStop = { v: false };
  const stopper = (async () => {
    while (!pollStop.v) {
      dev.poll(64, sink);
      await new Promise((r) => setImmediate(r));
    }
  })();
  await vm.stop();
  pollStop.v = true;
  await stopper;
  return pps;
}

async function vmSwitch(seconds: number, vmToVm: boolean) {
  const ring = vmToVm ? VM_VM_RING : VM_RING;
  const ports: SwitchConfig['ports'] = vmToVm
    ? [
        { name: 'vm0', type: 'virtio', queueSize: ring },
        { name: 'vm1', type: 'virtio', queueSize: ring },
      ]
    : [
        // Per queue on pre-written frames (pktgen's clone_skb), as the xdp and xsk rows: the
        // figure is the worker's own work, the copy into the guest's buffers included.
        { name: 'gen0', type: 'gen', flows: 64, size: 64, recycle: true },
        { name: 'vm1', type: 'virtio', queueSize: ring },
      ];
  const sw = await Switch.start(cfg(ports, [{ name: 'redirect', params: { port: 'vm1' }, continueOn: [] }]));
  const vms: Vm[] = [];
  const on = (port: string) => ({ attach: (m: unknown) => sw.portControl(port, m), detach: () => sw.portControl(port, { op: 'detach' }) });
  const sinkVm = await startVm({ program: 'examples/vm/count-drop', driver: { queueSize: ring }, memoryBytes: VM_MEMORY, ...on('vm1') });
  vms.push(sinkVm);
  if (vmToVm) vms.push(await startVm({ program: 'examples/vm/blast', params: { dstMac: sinkVm.mac }, driver: { queueSize: ring }, memoryBytes: VM_MEMORY, ...on('vm0') }));
  const pps = await rate(() => sinkVm.counter('rx_packets'), seconds);
  const st = sw.stats();
  // Run to completion: the queues whose worker wrote the guest's RX ring itself (no device-thread hop).
  const rxRingsOnWorkers = (await sw.portStatus('vm1')).rxRingsOnWorkers as number[];
  // And those whose worker polled the sending guest's TX ring itself (no RPS hop).
  const txRingsOnWorkers = vmToVm ? ((await sw.portStatus('vm0')).txRingsOnWorkers as number[]) : [];
  for (const v of vms) await v.stop();
  const s = await sw.stop();
  return { pps, offered: st.queues.rx0_packets, noDesc: st.ports.vm1.rx_drop_no_desc, unaccounted: s.unaccounted, rxRingsOnWorkers, txRingsOnWorkers, rxRps: vmToVm ? st.ports.vm0.rx_rps : 0 };
}

const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

/** CPU ns per packet of `hot` (64 packets a call), minus `other` (the peer's side) run alone. */
function perPacket(rounds: number, other: () => void, hot: () => void): number {
  for (let i = 0; i < 2000; i++) {
    other();
    hot();
  }
  const a = cpuNs();
  for (let i = 0; i < rounds; i++) {
    other();
    hot();
  }
  const both = cpuNs() - a;
  const b = cpuNs();
  for (let i = 0; i < rounds; i++) other();
  return (both - (cpuNs() - b)) / (rounds * 64);
}

/** The switch side of each endpoint path, one thread: [virtio to guest, virtio from guest, xsk deliver, xsk pollTx]. */
function cpuCosts(rounds: number): Record<string, number> {
  const dev = new VirtioNetDevice({ mac: '52:54:00:00:00:01', maxPairs: 1, maxQueueSize: 1024 });
  const mem = GuestMemory.create(8 << 20);
  const transport = T.createTransport();
  const t = new Int32Array(transport);
  dev.attach(mem.sab, transport);
  const sink = { receive: () => true };
  const status = (v: number) => {
    t[T.kStatusReq] = v;
    Atomics.add(t, T.kReqSeq, 1);
    dev.poll(0, sink);
  };
  status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER);
  const [lo, hi] = V.featureWords([V.VIRTIO_F_VERSION_1, V.VIRTIO_RING_F_EVENT_IDX, V.VIRTIO_NET_F_MRG_RXBUF]);
  t[T.kDriverFeaturesLo] = lo;
  t[T.kDriverFeaturesHi] = hi;
  status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER | V.STATUS_FEATURES_OK);
  const rx = new SplitDriverQueue(mem, V.contiguousLayout(0x1000, 1024), true);
  const tx = new SplitDriverQueue(mem, V.contiguousLayout(0x10000, 1024), true);
  [rx, tx].forEach((q, i) => {
    t[T.queueWord(i, T.QSIZE)] = 1024;
    t[T.queueWord(i, T.QDESC)] = q.layout.desc;
    t[T.queueWord(i, T.QDRIVER)] = q.layout.avail;
    t[T.queueWord(i, T.QDEVICE)] = q.layout.used;
    t[T.queueWord(i, T.QREADY)] = 1;
  });
  status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER | V.STATUS_FEATURES_OK | V.STATUS_DRIVER_OK);
  const RXB = 0x100000;
  const TXB = 0x600000;
  for (let h = 0; h < 1024; h++) rx.addOne(RXB + h * 2048, 2048, true);
  rx.publish();
  // The switch passes its whole frame area (device egress) or a frame's view (queue worker).
  const area = new Uint8Array(new SharedArrayBuffer(8192));
  const frames = [0, 1, 2, 3].map((f) => new Uint8Array(area.buffer, f * 2048, 2048));
  const out: Record<string, number> = {};
  out['virtio-to-guest'] = perPacket(
    rounds,
    () => {
      while (rx.getUsed()) rx.addOne(RXB + rx.nextHead * 2048, 2048, true);
      rx.publish();
    },
    () => {
      for (let k = 0; k < 64; k++) dev.transmit(area, 256 + (k & 3) * 2048, 64, 0);
      dev.flush();
    },
  );
  out['virtio-from-guest'] = perPacket(
    rounds,
    () => {
      while (tx.getUsed());
      for (let k = 0; k < 64; k++) tx.addOne(TXB + tx.nextHead * 2048, 76, false);
      tx.publish();
    },
    () => dev.poll(64, sink),
  );
  const shared = createXskShared({ frames: 4096, ringSize: 2048 });
  const ep = openXskEndpoint(shared, 0);
  const sock = XskSocket.attach(shared);
  const noop = () => {};
  out['xsk-deliver'] = perPacket(
    rounds,
    () => {
      sock.receive(64, noop);
      sock.refill(64);
    },
    () => {
      for (let k = 0; k < 64; k++) ep.deliver(frames[k & 3], 256, 64, 0);
      ep.flush();
    },
  );
  const emit = () => true;
  out['xsk-pollTx'] = perPacket(
    rounds,
    () => {
      sock.reclaim();
      for (let k = 0; k < 64; k++) sock.send(area, 256, 64);
      sock.flushTx();
    },
    () => {
      ep.pollTx(64, emit);
      ep.flush();
    },
  );
  return out;
}

const mode: BenchMode = {
  name: 'endpoints',
  description: 'xsk rx-drop, VM delivery and VM → VM (64-byte frames, one queue), against the switch’s drop rate and the endpoints alone',
  async run(opts, report) {
    const say = (r: BenchResult, label: string, cols: [number, string][], note?: string) => {
      report(r);
      if (!opts.json) {
        console.log(line(label, cols));
        if (note) console.log(`  ${note}`);
      }
    };
    for (const [name, ns] of Object.entries(cpuCosts(Math.max(20_000, Math.round(opts.seconds * 25_000))))) {
      say({ mode: `cpu:${name}`, mpps: 1e3 / ns, cpuNsPerPacket: ns }, `cpu:${name}`, [[1e9 / ns, 'pkt/cpu-s']], `${name}: ${ns.toFixed(1)} CPU ns a packet on the switch side (${(1e3 / ns).toFixed(1)} Mpps a core)`);
    }
    const drop = await refDrop(opts.seconds);
    say({ mode: 'ref:drop', mpps: drop / 1e6 }, 'ref:drop', [[drop, 'rx/s'], [drop, 'err,drop/s']]);
    const xep = await xskEndpointOnly(opts.seconds);
    say({ mode: 'ref:xsk-ep', mpps: xep / 1e6 }, 'ref:xsk-ep', [[xep, 'rx/s']]);
    const vep = await virtioEndpointOnly(opts.seconds);
    say({ mode: 'ref:virtio-ep', mpps: vep / 1e6 }, 'ref:virtio-ep', [[vep, 'rx/s']]);

    if (!opts.json) console.log('Redirecting from gen0 (ifindex 1; driver xswitch-gen) to xsk socket (queue 0; copy mode)');
    const x = await xskSwitch(opts.seconds);
    say(
      { mode: 'xsk', mpps: x.pps / 1e6, targetMpps: TARGET.xsk, ofDrop: x.pps / drop, ...x },
      'gen0->xsk',
      [
        [x.pps, 'rx/s'],
        [x.pps, 'redir/s'],
      ],
      `xsk rx-drop: ${(x.pps / 1e6).toFixed(2)} Mpps (target ${TARGET.xsk}), ${((100 * x.pps) / drop).toFixed(0)}% of the switch's drop rate, ${((100 * x.pps) / xep).toFixed(0)}% of the endpoint alone`,
    );
    for (const vmToVm of [false, true]) {
      const name = vmToVm ? 'vm-vm' : 'vm';
      if (!opts.json) console.log(vmToVm ? 'Redirecting from vm0 (ifindex 1; driver xswitch-virtio) to vm1 (ifindex 2; driver xswitch-virtio)' : 'Redirecting from gen0 (ifindex 1; driver xswitch-gen) to vm1 (ifindex 2; driver xswitch-virtio)');
      const r = await vmSwitch(opts.seconds, vmToVm);
      say(
        { mode: name, mpps: r.pps / 1e6, targetMpps: TARGET[name], ofDrop: r.pps / drop, ...r },
        vmToVm ? 'vm0->vm1' : 'gen0->vm1',
        [
          [r.pps, 'rx/s'],
          [r.pps, 'redir/s'],
        ],
        `${name}: ${(r.pps / 1e6).toFixed(2)} Mpps (target ${TARGET[name]}), ${((100 * r.pps) / drop).toFixed(0)}% of the switch's drop rate, ${((100 * r.pps) / vep).toFixed(0)}% of the device alone`,
      );
      await sleep(100);
    }
  },
};
export default mode;
