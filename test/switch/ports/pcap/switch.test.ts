/**
 * End to end with real threads: a capture replayed by a pcap port, through the queues and
 * the `redirect` program, written by a second pcap port — every frame counted, and the
 * output capture equal to the input frame for frame. Captures written by tcpdump and by
 * Wireshark's writer (editcap) replay the same way. Needs the build (workers run dist/).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { Switch } from '../../../../switch/switch.js';
import type { PortConfig } from '../../../../switch/ports/port.js';
import { PcapReader } from '../../../../lib/pcap/reader.js';
import { createWriter } from '../../../../lib/pcap/writer.js';
import { config, expectAccounted } from '../../support.js';
import { liveCapture, run, tempDir, udpFrame } from '../../../lib/pcap/helpers.js';
import { describeNeeding, itNeeding, missing } from '../../../support/prereq.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

const N = 20_000;
const sizeOf = (i: number) => 60 + ((i * 131) % 1455);

function makeCapture(name: string, n = N): string {
  const file = tmp.file(name);
  const w = createWriter(file);
  for (let i = 0; i < n; i++) {
    const f = udpFrame(i, sizeOf(i));
    w.write(f, 0, f.length, 1_700_000_000, i);
  }
  w.close();
  return file;
}

const hex = (file: string) => PcapReader.readAll(file).map((p) => p.data.toString('hex'));

async function replay(input: PortConfig, out: string, queues = 1, extra = {}) {
  const sw = await Switch.start(
    config([input, { name: 'out', type: 'pcap', write: out }], queues, [{ name: 'redirect', params: { port: 'out' }, continueOn: [] }], extra),
  );
  await sw.waitFinished('in');
  await sw.settled();
  const s = await sw.stop();
  expectAccounted(sw, s);
  return s;
}

// Rings and pool larger than the capture: at full speed nothing can be dropped.
const roomy = { ringSize: 32768, poolFrames: 32768 };

describe('pcap → switch → pcap', () => {
  it('replays at full speed, preloaded: the output equals the input frame for frame', async () => {
    const input = makeCapture('in.pcap');
    const out = tmp.file('out.pcap');
    const s = await replay({ name: 'in', type: 'pcap', read: input }, out, 1, roomy);
    const p = s.stats.ports;
    expect([p.in.rx_packets, s.stats.queues.rx0_xdp_redirect, p.out.tx_packets, p.out.tx_dropped]).toEqual([N, N, N, 0]);
    expect([p.in.rx_no_buffer, p.in.rx_ring_full, p.in.rx_dropped, p.in.rx_passes]).toEqual([0, 0, 0, 1]);
    const got = hex(out);
    expect(got.length).toBe(N);
    expect(got).toEqual(hex(input));
    expect(p.out.tx_file_bytes).toBeGreaterThan(0);
  });

  it('two queues, streamed from disk, pcapng out: the same frames (flows keep their order)', async () => {
    const input = makeCapture('in2.pcap');
    const out = tmp.file('out2.pcapng');
    const s = await replay({ name: 'in', type: 'pcap', read: input, preload: false }, out, 2, roomy);
    expect(s.stats.queues.rx0_packets).toBeGreaterThan(0);
    expect(s.stats.queues.rx1_packets).toBeGreaterThan(0);
    const got = hex(out);
    expect(PcapReader.open(out).format).toBe('pcapng');
    expect([...got].sort()).toEqual([...hex(input)].sort());
  });

  it('two queues, preloaded, loop 3: each worker replays its share (no RPS hop); every flow keeps its order; passes counted once', async () => {
    // 4000 packets of 37 flows; each carries its capture index after the UDP header.
    const file = tmp.file('flows.pcap');
    const w = createWriter(file);
    for (let i = 0; i < 4000; i++) {
      const f = udpFrame(i % 37, 64);
      f.writeUInt32BE(i, 42);
      w.write(f, 0, f.length, 1_700_000_000, i);
    }
    w.close();
    const out = tmp.file('flows-out.pcap');
    const s = await replay({ name: 'in', type: 'pcap', read: file, loop: 3 }, out, 2, roomy);
    const p = s.stats.ports.in;
    const q = s.stats.queues;
    expect([p.rx_packets, p.rx_passes, p.rx_rps, p.rx_ring_full, p.rx_no_buffer, s.stats.ports.out.tx_packets]).toEqual([12_000, 3, 0, 0, 0, 12_000]);
    expect(q.rx0_packets).toBeGreaterThan(0);
    expect(q.rx1_packets).toBeGreaterThan(0);
    expect(q.rx0_packets + q.rx1_packets).toBe(12_000);
    // Per flow (source address and port), the capture indices come out as three passes in order.
    const byFlow = new Map<string, number[]>();
    for (const r of PcapReader.readAll(out)) {
      const key = r.data.subarray(26, 36).toString('hex');
      byFlow.set(key, [...(byFlow.get(key) ?? []), r.data.readUInt32BE(42)]);
    }
    expect(byFlow.size).toBe(37);
    for (const seqs of byFlow.values()) {
      const f = seqs[0] % 37;
      const once = Array.from({ length: Math.ceil((4000 - f) / 37) }, (_, k) => f + 37 * k);
      expect(seqs).toEqual([...once, ...once, ...once]);
    }
  });

  it('the replaying worker killed mid-run: its replacement continues the share; nothing replayed twice, nothing lost but what the dead worker held', async () => {
    const input = makeCapture('kill.pcap', 3000);
    const out = tmp.file('kill-out.pcap');
    // Paced (60,000 packets in 0.6 s) so the kill lands mid-replay; backpressure keeps it lossless.
    const sw = await Switch.start(
      config([{ name: 'in', type: 'pcap', read: input, loop: 20, rate: 100_000, backpressure: true }, { name: 'out', type: 'pcap', write: out }], 1, [{ name: 'redirect', params: { port: 'out' }, continueOn: [] }], roomy),
    );
    await new Promise((r) => setTimeout(r, 200));
    const before = sw.stats().ports.in.rx_packets;
    await sw.killQueueWorker(0);
    await sw.queueReady(0);
    await sw.waitFinished('in');
    await sw.settled();
    const s = await sw.stop();
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(60_000);
    expect(s.stats.queues.rx0_restarts).toBe(1);
    // worker.terminate() can stop a worker anywhere in a breath; one stopped after releasing
    // its input and before publishing can only leak the frames it held (one breath, in
    // flight), never free or send one twice (docs/architecture.md §3). Everything else is exact.
    const a = s.accounting;
    expect([a.doubled, a.queued, s.unaccounted]).toEqual([0, 0, 0]);
    expect(a.inFlight).toBeLessThanOrEqual(64);
    expect(a.free + a.inFlight).toBe(a.total);
    const p = s.stats.ports.in;
    // The replacement continued from the shared counters: every packet taken once, 20 passes.
    expect([p.rx_packets, p.rx_passes, p.rx_no_buffer]).toEqual([60_000, 20, 0]);
    expect(s.stats.ports.out.tx_packets + a.inFlight).toBe(60_000);
    // The output: the input 20 times over, minus at most the held frames; none more than 20 times.
    const got = hex(out);
    expect(got.length).toBe(s.stats.ports.out.tx_packets);
    const times = new Map<string, number>();
    for (const g of got) times.set(g, (times.get(g) ?? 0) + 1);
    expect(times.size).toBeGreaterThan(3000 - 64 - 1);
    for (const n of times.values()) expect(n).toBeLessThanOrEqual(20);
    for (const w of hex(input)) expect(times.get(w) ?? 0).toBeGreaterThanOrEqual(19);
  });

  itNeeding(missing({ tools: ['tshark'] }), 'a test that reads the capture with tshark (Debian package tshark)')('two queues write one classic capture themselves: { op: flush } makes every record readable while running; tshark reads the file', async () => {
    const input = makeCapture('flush-in.pcap', 6000);
    const out = tmp.file('flush-out.pcap');
    const sw = await Switch.start(
      config([{ name: 'in', type: 'pcap', read: input }, { name: 'out', type: 'pcap', write: out }], 2, [{ name: 'redirect', params: { port: 'out' }, continueOn: [] }], roomy),
    );
    try {
      await sw.waitFinished('in');
      await sw.settled();
      // Each queue may still hold what it transmitted since its buffer was last half full.
      await sw.portControl('out', { op: 'flush' });
      const got = hex(out);
      expect(got.length).toBe(6000);
      expect(sw.stats().ports.out.tx_file_bytes).toBe(statSync(out).size);
      // Both queues wrote; every input frame is there once, and each flow keeps its order.
      expect(sw.stats().queues.rx0_xdp_redirect).toBeGreaterThan(0);
      expect(sw.stats().queues.rx1_xdp_redirect).toBeGreaterThan(0);
      expect([...got].sort()).toEqual([...hex(input)].sort());
      expect(run('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.len']).trim().split('\n').length).toBe(6000);
    } finally {
      const s = await sw.stop();
      expectAccounted(sw, s);
    }
  });

  it('a capture with a frame too large for the switch: the start fails and says which record', async () => {
    const file = tmp.file('big.pcap');
    const w = createWriter(file);
    for (const size of [64, 1900, 64]) w.write(udpFrame(size, size), 0, size, 0, 0);
    w.close();
    await expect(
      Switch.start(config([{ name: 'in', type: 'pcap', read: file }, { name: 'out', type: 'null' }], 2, [{ name: 'drop', continueOn: [] }])),
    ).rejects.toThrow(/pcap port in: .*record 1 .*1900 bytes, larger than the largest frame/);
  });

  it('a small pool, full speed, backpressure (the default): lossless, five passes out exactly', async () => {
    // 128 frames in flight at most: the replay waits for them; tx rings larger than the
    // pool cannot overflow, so nothing is lost anywhere.
    const input = makeCapture('in4.pcap', 3000);
    const out = tmp.file('out4.pcap');
    const s = await replay({ name: 'in', type: 'pcap', read: input, loop: 5 }, out, 2, { ringSize: 256, poolFrames: 128, budget: 16 });
    const p = s.stats.ports.in;
    expect([p.rx_packets, p.rx_no_buffer, p.rx_ring_full, s.stats.ports.out.tx_packets]).toEqual([15_000, 0, 0, 15_000]);
    const want = hex(input);
    const all = [...want, ...want, ...want, ...want, ...want];
    expect([...hex(out)].sort()).toEqual(all.sort());
  });

  for (const preload of [false, true]) {
    const how = preload ? 'preloaded (the queue worker replays it)' : 'streamed (the device thread replays and steers it)';
    it(`small rings at full speed without backpressure, ${how}: every frame counted; what came out is the input in order, minus counted drops`, async () => {
      const input = makeCapture(`in3-${preload}.pcap`, 3000);
      const out = tmp.file(`out3-${preload}.pcap`);
      const s = await replay({ name: 'in', type: 'pcap', read: input, loop: 5, backpressure: false, preload }, out, 1, { ringSize: 64, poolFrames: 128, budget: 16 });
      const p = s.stats.ports.in;
      const q = s.stats.queues;
      expect(p.rx_packets).toBe(15_000);
      expect(p.rx_passes).toBe(5);
      const dropped = p.rx_no_buffer + p.rx_ring_full + p.rx_dropped + p.rx_flow_drop;
      expect(q.rx0_packets + dropped).toBe(15_000);
      // Every frame the queue took was redirected or found the capture's tx ring full.
      expect(q.rx0_xdp_redirect + q.rx0_xdp_tx_full).toBe(q.rx0_packets);
      if (!preload) {
        // Bursts of 8 × 16 packets into a 64-slot ring: the drop paths are exercised.
        expect(dropped).toBeGreaterThan(0);
        expect(p.rx_rps).toBe(p.rx_packets - p.rx_no_buffer - p.rx_ring_full - p.rx_dropped - p.rx_flow_drop);
      } else {
        // Run to completion: the worker polls only what its rx ring has room for, and no hop.
        expect([p.rx_ring_full, p.rx_rps]).toEqual([0, 0]);
      }
      const got = hex(out);
      expect(got.length).toBe(s.stats.ports.out.tx_packets);
      expect(got.length).toBe(q.rx0_xdp_redirect);
      // An in-order subsequence of five passes over the input.
      const want = hex(input);
      let k = 0;
      for (const g of got) {
        while (k < 15_000 && want[k % 3000] !== g) k++;
        expect(k, 'output frame not found in order').toBeLessThan(15_000);
        k++;
      }
    });
  }

  describeNeeding(missing({ tools: ['tcpdump', 'editcap', 'tshark'] }), 'tests that need tcpdump, editcap, tshark (Debian packages tshark, tcpdump)')('captures written by other tools', () => {
    for (const [tool, name] of [
      ['tcpdump', 'tcpdump.pcap'],
      ['editcap', 'editcap.pcapng'],
    ] as const) {
      it(`${tool}'s ${name.split('.')[1]} replays with every frame counted; tshark reads what came out`, async () => {
        const ours = makeCapture('src.pcap', 5000);
        const theirs = tmp.file(name);
        if (tool === 'tcpdump') run('tcpdump', ['-r', ours, '-w', theirs]);
        else run('editcap', ['-F', 'pcapng', ours, theirs]);
        const out = tmp.file(`out-${name}`);
        const s = await replay({ name: 'in', type: 'pcap', read: theirs }, out, 1, roomy);
        expect([s.stats.ports.in.rx_packets, s.stats.ports.out.tx_packets]).toEqual([5000, 5000]);
        expect(hex(out)).toEqual(hex(theirs));
        const lines = run('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.len', '-e', 'udp.srcport']).trim().split('\n');
        expect(lines.length).toBe(5000);
        lines.forEach((l, i) => expect(l).toBe(`${sizeOf(i)}\t${1024 + i}`));
      });
    }
  });

  describeNeeding(missing({ tools: ['dumpcap'], root: true }), 'tests that need dumpcap and root')('a live capture by dumpcap (needs root)', () => {
    it('200 datagrams captured on lo replay through the switch, every one counted and written', async () => {
      const port = 41000 + (process.pid % 20000);
      const cap = tmp.file('live.pcapng');
      await liveCapture('dumpcap', ['-q', '-i', 'lo', '-c', '200', '-f', `udp dst port ${port}`, '-w', cap], port, 'replayed through xswitch');
      const out = tmp.file('live-out.pcap');
      const s = await replay({ name: 'in', type: 'pcap', read: cap }, out, 2, roomy);
      expect([s.stats.ports.in.rx_packets, s.stats.ports.out.tx_packets]).toEqual([200, 200]);
      const got = PcapReader.readAll(out);
      expect(got.length).toBe(200);
      for (const p of got) expect(p.data.subarray(42).toString()).toBe('replayed through xswitch');
      expect([...hex(out)].sort()).toEqual([...hex(cap)].sort());
    });
  });
});
