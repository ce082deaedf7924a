/**
 * GSO and GRO end to end: JS guests that negotiated the offloads send a TCP-shaped stream as
 * 64 KB TSO super-frames (gso_type TCPV4, partial checksum) through a running switch.
 * The oracles: SHA-256 of the stream as the receiving guest reassembled it against the
 * stream computed here (node:crypto), every checksum verified by the receiver (a partial
 * one completed first), and tshark checking every segment the switch wrote to a capture
 * port that takes no offloads.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Switch } from '../../../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../../../switch/config-types.js';
import { startVm, type Vm } from '../../../../guest/runner.js';
import { PATTERN_BYTES, streamPattern } from '../../../../examples/vm/tcp-stream.js';
import { expectAccounted } from '../../support.js';
import { run as sh, tempDir } from '../../../lib/pcap/helpers.js';
import { until } from './harness.js';
import { VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_MRG_RXBUF } from '../../../../queues/virtqueue.js';
import { describeNeeding, missing } from '../../../support/prereq.js';

const built = existsSync(new URL('../../../../dist/guest/vm-worker.js', import.meta.url)) && existsSync(new URL('../../../../dist/switch/device.js', import.meta.url));
const run = it.runIf(built || process.env.CI === 'true');
const tmp = tempDir();
afterAll(() => tmp.remove());

let sw: Switch | null = null;
const vms: Vm[] = [];
afterEach(async () => {
  for (const vm of vms.splice(0)) await vm.stop().catch(() => {});
  if (sw) await sw.stop().catch(() => {});
  sw = null;
});

const MAC0 = '52:54:00:00:00:01';
const MAC1 = '52:54:00:00:00:02';
const OFFLOAD_DRIVER = { offloads: true, txBufferBytes: 65548, queueSize: 256 };

function vmOn(s: Switch, port: string, opts: Omit<Parameters<typeof startVm>[0], 'attach' | 'detach'>): Promise<Vm> {
  return startVm({ memoryBytes: 64 << 20, ...opts, attach: (m) => s.portControl(port, m), detach: () => s.portControl(port, { op: 'detach' }) }).then((vm) => (vms.push(vm), vm));
}

/** SHA-256 of stream bytes [from, from + bytes): byte i is pattern[i mod PATTERN_BYTES]. */
function expectedDigest(bytes: number, from = 0): Buffer {
  const p = streamPattern();
  const h = createHash('sha256');
  for (let i = from; i < from + bytes; ) {
    const k = i % PATTERN_BYTES;
    const n = Math.min(PATTERN_BYTES - k, from + bytes - i);
    h.update(p.subarray(k, k + n));
    i += n;
  }
  return h.digest();
}

function digestOf(vm: Vm): Buffer {
  const d = Buffer.alloc(32);
  for (let k = 0; k < 8; k++) d.writeUInt32BE(vm.counter(`sha${k}`), 4 * k);
  return d;
}

const L2 = { name: 'l2switch', params: {}, continueOn: [] };
/** A chain that does not take super-frames whole: mtu-only (no `frags`) before l2switch. */
const SEGMENTS_CHAIN = [{ name: new URL('../../../fixtures/programs/mtu-only.mjs', import.meta.url).pathname, params: {} }, L2];

function config(ports: SwitchConfig['ports'], superFrames = 32, chain: SwitchConfig['programs'][number]['chain'] = SEGMENTS_CHAIN): SwitchConfig {
  return {
    ...CONFIG_DEFAULTS,
    poolFrames: 16384,
    ringSize: 4096,
    superFrames,
    ports,
    programs: [{ queues: [0], chain }],
  } as SwitchConfig;
}

describe('TSO super-frames from a guest', () => {
  const BYTES = 6_000_000;

  /** vm1 receives BYTES and verifies every checksum (driver: what it negotiates). */
  const receiver = (s: Switch, driver?: typeof OFFLOAD_DRIVER | Record<string, unknown>) =>
    vmOn(s, 'vm1', { program: 'examples/vm/tcp-stream', params: { role: 'recv', bytes: BYTES, verify: true }, ...(driver ? { driver } : {}) });
  /** vm0 sends BYTES to vm1 as TSO super-frames. */
  const tsoSender = (s: Switch) => vmOn(s, 'vm0', { program: 'examples/vm/tcp-stream', params: { role: 'send', bytes: BYTES, tso: true, dstMac: MAC1 }, driver: OFFLOAD_DRIVER });
  /** The stream delivered and acknowledged: the receiver's SHA-256 is the stream's, no checksum was bad. */
  async function streamed(rx: Vm, tx: Vm): Promise<void> {
    await until(() => rx.counter('done') === 1 && tx.counter('done') === 1, 'the stream delivered and acknowledged', 60_000);
    expect(digestOf(rx).equals(expectedDigest(BYTES))).toBe(true);
    expect(rx.counter('rx_csum_bad')).toBe(0);
  }
  /** Guests stopped, then the switch: its stop summary. */
  async function stopAll() {
    for (const vm of vms.splice(0)) await vm.stop();
    const s = await sw!.stop();
    sw = null;
    return s;
  }

  run('VM → VM, both with offloads: cut at ingress, programs see segments, GRO rebuilds super-frames for the receiver; SHA-256 equal', async () => {
    sw = await Switch.start(config([{ name: 'vm0', type: 'virtio', mac: MAC0 }, { name: 'vm1', type: 'virtio', mac: MAC1 }]));
    const rx = await receiver(sw, OFFLOAD_DRIVER);
    const tx = await tsoSender(sw);
    await streamed(rx, tx);
    expect(rx.counter('rx_super_frames')).toBeGreaterThan(0);
    const s = await stopAll();
    const q = s.stats.queues;
    const p0 = s.stats.ports.vm0;
    const p1 = s.stats.ports.vm1;
    expect(p0.rx_gso_packets).toBeGreaterThan(0);
    expect(p0.rx_gso_segments).toBeGreaterThanOrEqual(p0.rx_gso_packets * 40);
    expect(q.rx0_rx_gro_packets).toBeGreaterThan(0);
    expect(q.rx0_rx_gro_merged).toBeGreaterThan(0);
    // What GRO delivered is what vm1's port sent: super-frames counted once each.
    expect(p1.tx_packets + p1.tx_dropped).toBe(q.rx0_tx_frames - p0.tx_packets - p0.tx_dropped);
    expect(p1.tx_csum_sw).toBe(0);
    expect(p0.rx_gso_whole).toBe(0);
    expect(q.rx0_xdp_aborted).toBe(0); // mtu-only never saw more than 1514 bytes
    expectAccounted({ config: { queues: 1 } } as Switch, s);
  });

  // Stream offsets past 4 GiB: sequence numbers wrap, and both ends must read them modulo
  // 2^32 as TCP does. (The example once compared them with offsets, and a bench run that
  // carried 4 GiB stalled in retransmission timeouts from there on.) Started 3 MB below the
  // wrap, the stream crosses it half-way.
  run('a stream across the 32-bit sequence wrap (from 4 GiB − 3 MB): delivered whole, SHA-256 equal', async () => {
    const from = 2 ** 32 - 3_000_000;
    sw = await Switch.start(config([{ name: 'vm0', type: 'virtio', mac: MAC0 }, { name: 'vm1', type: 'virtio', mac: MAC1 }], 64, [L2]));
    const rx = await vmOn(sw, 'vm1', { program: 'examples/vm/tcp-stream', params: { role: 'recv', bytes: BYTES, from, verify: true }, driver: OFFLOAD_DRIVER });
    const tx = await vmOn(sw, 'vm0', { program: 'examples/vm/tcp-stream', params: { role: 'send', bytes: BYTES, from, tso: true, dstMac: MAC1 }, driver: OFFLOAD_DRIVER });
    await until(() => rx.counter('done') === 1 && tx.counter('done') === 1, 'the stream delivered and acknowledged across the wrap', 60_000);
    expect(rx.counter('rx_stream_bytes')).toBe(BYTES);

    expect(digestOf(rx).equals(expectedDigest(BYTES, from))).toBe(true);
    expect(digestOf(rx).equals(expectedDigest(BYTES))).toBe(false); // the offset is in the digest
    expect(rx.counter('rx_csum_bad')).toBe(0);
    await stopAll();
  });

  // A GUEST_TSO guest's RX ring on its queue worker (run to completion): worker 0 coalesces
  // the sender's MTU segments and writes GRO's super-frames into the ring itself, with their
  // virtio_net_hdr; no tx-ring hop to the device thread. The oracle is the guest's own view:
  // the headers it read (rx_super_frames, every checksum verified after completing the
  // partial one) and the SHA-256 of the stream it reassembled.
  for (const [what, driver] of [
    ['MRG_RXBUF: a super-frame spans 2 KB buffers', OFFLOAD_DRIVER],
    ['no MRG_RXBUF: one 64 KB buffer per super-frame, as Linux posts big packets', { ...OFFLOAD_DRIVER, refuse: [VIRTIO_NET_F_MRG_RXBUF] }],
  ] as const) {
    run(`GUEST_TSO receiver's RX ring written by its queue worker, GRO super-frames straight in (${what}); SHA-256 equal`, async () => {
      sw = await Switch.start(config([{ name: 'vm0', type: 'virtio', mac: MAC0 }, { name: 'vm1', type: 'virtio', mac: MAC1 }], 64, [L2]));
      const rx = await receiver(sw, driver);
      const st = await sw.portStatus('vm1');
      // The guest took TSO, and its RX ring went to worker 0 all the same.
      expect((st.features as [number, number])[0] & (1 << VIRTIO_NET_F_GUEST_TSO4)).not.toBe(0);
      expect(st.rxRingsOnWorkers).toEqual([0]);
      // The sender takes no offloads: 1514-byte segments with full checksums, which GRO verifies.
      const tx = await vmOn(sw, 'vm0', { program: 'examples/vm/tcp-stream', params: { role: 'send', bytes: BYTES, dstMac: MAC1 } });
      await streamed(rx, tx);
      expect(rx.counter('rx_super_frames')).toBeGreaterThan(0);
      expect((await sw.portStatus('vm1')).rxRingsOnWorkers).toEqual([0]);
      const s = await stopAll();
      const q = s.stats.queues;
      const p1 = s.stats.ports.vm1;
      expect(q.rx0_rx_gro_packets).toBeGreaterThan(0);
      expect(q.rx0_rx_gro_merged).toBeGreaterThan(q.rx0_rx_gro_packets * 4);
      // Nothing went through the device thread's tx ring: GRO's output never found it full.
      expect(q.rx0_rx_gro_tx_full).toBe(0);
      // Every frame the queue handed vm1 (GRO's super-frames and lone segments) is in the port's counts once.
      expect(p1.tx_packets + p1.tx_dropped).toBe(q.rx0_tx_frames - s.stats.ports.vm0.tx_packets - s.stats.ports.vm0.tx_dropped);
      expect(p1.tx_bytes / p1.tx_packets).toBeGreaterThan(1514);
      expect(p1.rx_drop_too_big ?? 0).toBe(0);
      expectAccounted({ config: { queues: 1 } } as Switch, s);
    });
  }

  run('VM → VM through a chain that takes super-frames (l2switch: frags): each crosses whole, never cut; SHA-256 equal', async () => {
    sw = await Switch.start(config([{ name: 'vm0', type: 'virtio', mac: MAC0 }, { name: 'vm1', type: 'virtio', mac: MAC1 }], 256, [L2]));
    const rx = await receiver(sw, OFFLOAD_DRIVER);
    const tx = await tsoSender(sw);
    await streamed(rx, tx);
    expect(rx.counter('rx_super_frames')).toBeGreaterThan(0);
    const s = await stopAll();
    const q = s.stats.queues;
    const p0 = s.stats.ports.vm0;
    const p1 = s.stats.ports.vm1;
    // The super-frames the sender made went through as one frame each: not cut, not rebuilt.
    // (One finding every super-frame of the port's pool in flight is cut, as for any chain.)
    expect(p0.rx_gso_whole).toBeGreaterThan(BYTES / 65536 - 1);
    expect(p0.rx_gso_packets).toBeLessThan(p0.rx_gso_whole / 10);
    expect(q.rx0_rx_gro_merged).toBeLessThanOrEqual(p0.rx_gso_segments);
    expect(p1.tx_gso_packets).toBe(0);
    expect(p1.tx_csum_sw).toBe(0);
    expect(q.rx0_xdp_aborted).toBe(0);
    expectAccounted({ config: { queues: 1 } } as Switch, s);
  });

  run('a super-frame redirected through a cpumap into a queue whose chain takes no frags is cut there: its programs see segments; SHA-256 equal', async () => {
    const fixture = (f: string) => new URL(`../../../fixtures/programs/${f}`, import.meta.url).pathname;
    // The stream's data lands on queue 1 (RSS of its fixed addresses and ports); that chain
    // takes frags and sends all to queue 0, whose chain (cpumap: PASS there, mtu-only, l2switch) does not.
    const cfg: SwitchConfig = {
      ...config([{ name: 'vm0', type: 'virtio', mac: MAC0 }, { name: 'vm1', type: 'virtio', mac: MAC1 }], 256),
      queues: 2,
      programs: [
        { queues: [1], chain: [{ name: fixture('cpumap-frags.mjs'), params: { queues: [0] }, continueOn: [] }] },
        { queues: [0], chain: [{ name: 'cpumap', params: { queues: [0] } }, ...SEGMENTS_CHAIN] },
      ],
    };
    sw = await Switch.start(cfg);
    const rx = await receiver(sw, OFFLOAD_DRIVER);
    const tx = await tsoSender(sw);
    await streamed(rx, tx);
    const s = await stopAll();
    const q = s.stats.queues;
    expect(s.stats.ports.vm0.rx_gso_whole).toBeGreaterThan(0);
    expect(q.rx0_rx_gso_packets).toBeGreaterThan(0);
    expect(q.rx0_rx_gso_segments).toBeGreaterThanOrEqual(q.rx0_rx_gso_packets * 40);
    expect(q.rx0_xdp_aborted).toBe(0); // mtu-only never saw more than 1514 bytes
    // (A cpumap hop counts a packet on both queues, so only the queue-side invariants hold.)
    expect(s.unaccounted).toBe(0);
    expect(s.accounting.free).toBe(s.accounting.total);
    expect(s.accounting.doubled).toBe(0);
  });

  run('VM → VM through l2switch (frags), receiver without offloads: super-frames cut on the way out, checksums completed; SHA-256 equal', async () => {
    sw = await Switch.start(config([{ name: 'vm0', type: 'virtio', mac: MAC0 }, { name: 'vm1', type: 'virtio', mac: MAC1 }], 32, [L2]));
    const rx = await receiver(sw);
    const tx = await tsoSender(sw);
    await streamed(rx, tx);
    expect(rx.counter('rx_super_frames')).toBe(0);
    const s = await stopAll();
    expect(s.stats.ports.vm0.rx_gso_whole).toBeGreaterThan(0);
    expect(s.stats.ports.vm1.tx_gso_packets).toBeGreaterThan(0);
    expect(s.stats.ports.vm1.tx_gso_segments).toBeGreaterThanOrEqual(s.stats.ports.vm1.tx_gso_packets * 40);
    expectAccounted({ config: { queues: 1 } } as Switch, s);
  });

  run('VM → VM, receiver without offloads: no GRO for it, partial checksums completed by the switch; SHA-256 equal', async () => {
    sw = await Switch.start(config([{ name: 'vm0', type: 'virtio', mac: MAC0 }, { name: 'vm1', type: 'virtio', mac: MAC1 }]));
    const rx = await receiver(sw);
    const tx = await tsoSender(sw);
    await streamed(rx, tx);
    expect(rx.counter('rx_super_frames')).toBe(0);
    const s = await stopAll();
    expect(s.stats.queues.rx0_rx_gro_packets).toBe(0);
    expect(s.stats.ports.vm1.tx_csum_sw).toBeGreaterThan(0);
    expectAccounted({ config: { queues: 1 } } as Switch, s);
  });
});

describeNeeding(missing({ tools: ['tshark'] }), 'tests that need tshark (Debian packages tshark, tcpdump)')('TSO super-frames to a port without offloads', () => {
  run('every segment written to a capture port has good IPv4 and TCP checksums (tshark) and the stream is whole', async () => {
    const BYTES = 400_000;
    const file = tmp.file(`tso-${Date.now()}.pcap`);
    sw = await Switch.start(config([{ name: 'vm0', type: 'virtio', mac: MAC0 }, { name: 'cap', type: 'pcap', write: file }]));
    const tx = await vmOn(sw, 'vm0', { program: 'examples/vm/tcp-stream', params: { role: 'send', bytes: BYTES, tso: true, dstMac: MAC1, window: BYTES, rtoMs: 0 }, driver: OFFLOAD_DRIVER });
    await until(() => (sw!.stats().ports.cap?.tx_packets ?? 0) >= Math.ceil(BYTES / 1448), 'every segment written', 30_000);
    await tx.stop();
    vms.splice(0);
    const s = await sw.stop();
    sw = null;
    expect(s.stats.ports.vm0.rx_gso_packets).toBeGreaterThan(0);
    const out = sh('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'tcp.relative_sequence_numbers:FALSE', '-T', 'fields', '-E', 'separator=|', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'tcp.seq', '-e', 'tcp.len', '-e', 'ip.id', '-e', 'frame.len']);
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    expect(rows.length).toBe(Math.ceil(BYTES / 1448));
    let seq = 1000;
    for (const [ip, tcp, sq, len, , flen] of rows) {
      expect(ip).toBe('1');
      expect(tcp).toBe('1');
      expect(Number(sq)).toBe(seq);
      expect(Number(flen)).toBeLessThanOrEqual(1514);
      seq += Number(len);
    }
    expect(seq - 1000).toBe(BYTES);
    expect(readFileSync(file).length).toBeGreaterThan(BYTES);
  });
});
