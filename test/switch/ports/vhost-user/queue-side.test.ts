/**
 * Run to completion on a vhost-user port: queue worker 0 writes the guest's RX ring itself
 * and polls its TX ring (a test front-end plays QEMU). The ring is handed over when it starts and taken back at
 * GET_VRING_BASE, whose answer is where the worker stopped; an RX descriptor outside every
 * region, met by the worker, marks the device broken (counted, error eventfd), nothing
 * crashes, and a restart of the rings serves again. Accounting exact at the end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONFIG_DEFAULTS } from '../../../../switch/config-types.js';
import { Switch, type LogEvent } from '../../../../switch/switch.js';
import * as P from '../../../../switch/ports/vhost-user/protocol.js';
import { NET_HDR_BYTES } from '../../../../queues/virtqueue.js';
import { Frontend, RAM_BYTES } from '../../../support/vhost-frontend.js';
import { checkAccounted } from '../../../support/switch.js';

const BUF = 0x100000;
const BUF_BYTES = 2048;

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('vhost-user RX ring served by its queue worker', () => {
  let dir = '';
  let sw: Switch | null = null;
  let fe: Frontend | null = null;
  const logs: string[] = [];

  afterEach(async () => {
    fe?.close();
    fe = null;
    if (sw) await sw.stop().catch(() => {});
    sw = null;
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
    dir = '';
    logs.length = 0;
  });

  async function start(count: number): Promise<{ sock: string }> {
    dir = mkdtempSync(path.join(tmpdir(), 'xs-vhq-'));
    const sock = path.join(dir, 'vm.sock');
    sw = await Switch.start({
      ...CONFIG_DEFAULTS,
      queues: 1,
      ports: [
        { name: 'vm', type: 'vhost-user', socket: sock },
        { name: 'src', type: 'gen', flows: 1, size: 60, count, rate: 50 },
      ],
      programs: [{ queues: [0], chain: [{ name: 'redirect', params: { port: 'vm' }, continueOn: [] }] }],
    });
    sw.on('log', (e: LogEvent) => logs.push(`${e.level}: ${e.message}`));
    return { sock };
  }

  it('writes generated frames into the guest RX ring, hands the ring back at GET_VRING_BASE, and breaks on a descriptor outside guest memory', async () => {
    const { sock } = await start(100);
    const f = await Frontend.connect(sock);
    fe = f;
    await f.setUp();
    await until(async () => ((await sw!.portStatus('vm')).rxRingsOnWorkers as number[]).length === 1, 5000, 'the RX ring on queue 0');
    // Ten receive buffers: the worker fills them from the generator's frames.
    for (let k = 0; k < 10; k++) f.rx!.addOne(BUF + k * BUF_BYTES, BUF_BYTES, true);
    f.rx!.publish();
    await until(() => f.rx!.usedPending() === 10, 5000, 'ten used RX buffers');
    const lens: number[] = [];
    while (f.rx!.getUsed()) {
      lens.push(f.rx!.usedLen);
      // The header says one buffer (num_buffers = 1, MRG_RXBUF off), then the generator's 60-byte frame.
      const at = BUF + f.rx!.usedId * BUF_BYTES;
      expect(f.mem!.bytes[at + 10] | (f.mem!.bytes[at + 11] << 8)).toBe(1);
    }
    expect(lens).toEqual(new Array(10).fill(NET_HDR_BYTES + 60));
    // Frames beyond the buffers are counted drops, not lost.
    await until(() => sw!.stats().ports.vm.rx_drop_no_desc > 0, 5000, 'rx_drop_no_desc');

    // GET_VRING_BASE: the worker lets go and the answer is where it stopped (10 buffers taken).
    f.send(P.Req.GET_VRING_BASE, P.vringStatePayload({ index: 0, num: 0 }));
    const r = await f.reply();
    expect(typeof r === 'object' && P.readVringState(r.payload)).toEqual({ index: 0, num: 10 });
    expect((await sw!.portStatus('vm')).rxRingsOnWorkers).toEqual([]);

    // Restarted at 10, with a hostile buffer first: the worker meets it and the device breaks.
    await f.ok(P.Req.SET_VRING_BASE, P.vringStatePayload({ index: 0, num: 10 }));
    await f.startRing(0);
    await until(async () => ((await sw!.portStatus('vm')).rxRingsOnWorkers as number[]).length === 1, 5000, 'the RX ring back on queue 0');
    f.rx!.addOne(RAM_BYTES + 0x1000, BUF_BYTES, true);
    f.rx!.publish();
    await until(() => sw!.stats().ports.vm.rx_drop_malformed === 1, 5000, 'rx_drop_malformed');
    await until(async () => (await sw!.portStatus('vm')).broken !== null, 5000, 'the device marked broken');
    const st = await sw!.portStatus('vm');
    expect(st.live).toBe(false);
    expect(st.connected).toBe(true);
    expect(sw!.stats().ports.vm.needs_reset).toBe(1);
    await until(() => f.errSignalled(0), 5000, 'the error eventfd');
    expect(logs.some((l) => /guest RX ring 0: Descriptor address outside guest memory/.test(l))).toBe(true);

    await until(() => sw!.stats().queues.rx0_packets === 100, 10_000, 'the generator\'s 100 frames');
    f.close();
    fe = null;
    const s = sw!;
    sw = null;
    const summary = await s.stop();
    expect(checkAccounted(summary)).toEqual([]);
    // Every frame the generator made left the queue in one exit counter, and every frame the
    // port was handed is transmitted or dropped with a reason.
    const vm = summary.stats.ports.vm;
    const q = summary.stats.queues;
    expect(q.rx0_packets, JSON.stringify(summary.stats.ports.src)).toBe(100);
    expect(vm.tx_packets).toBe(10);
    // A frame the port refused (no RX buffer, broken ring) is a redirect that failed: xdp_tx_full.
    expect(q.rx0_xdp_redirect + q.rx0_xdp_tx_full, JSON.stringify(q)).toBe(q.rx0_packets);
    expect(vm.tx_packets + vm.tx_dropped, JSON.stringify({ vm, q })).toBe(q.rx0_packets);
  }, 30_000);

  it('polls the guest TX ring on queue 0\'s worker (no RPS hop), answers GET_VRING_BASE with where the worker stopped, and breaks on a TX descriptor outside guest memory', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'xs-vhq-'));
    const sock = path.join(dir, 'vm.sock');
    sw = await Switch.start({
      ...CONFIG_DEFAULTS,
      queues: 1,
      ports: [
        { name: 'vm', type: 'vhost-user', socket: sock },
        { name: 'out', type: 'null' },
      ],
      programs: [{ queues: [0], chain: [{ name: 'redirect', params: { port: 'out' }, continueOn: [] }] }],
    });
    sw.on('log', (e: LogEvent) => logs.push(`${e.level}: ${e.message}`));
    const f = await Frontend.connect(sock);
    fe = f;
    await f.setUp();
    await until(async () => ((await sw!.portStatus('vm')).txRingsOnWorkers as number[]).length === 1, 5000, 'the TX ring on queue 0');
    const frame = new Uint8Array(60);
    frame.fill(0xff, 0, 6); // broadcast
    frame[12] = 0x88;
    frame[13] = 0xb5;
    for (let k = 0; k < 10; k++) f.sendFrame(frame, BUF + k * BUF_BYTES);
    await until(() => sw!.stats().ports.out.tx_packets === 10, 5000, 'ten frames through queue 0');
    await until(() => f.tx!.usedPending() === 10, 5000, 'ten used TX buffers');
    const vm = sw!.stats().ports.vm;
    expect(vm.rx_packets).toBe(10);
    // Taken by the worker itself: the device thread steered none of them.
    expect(vm.rx_rps).toBe(0);
    expect(vm.kicks_seen).toBeGreaterThan(0);

    // GET_VRING_BASE on the TX ring: the worker lets go, and the answer is where it stopped.
    f.send(P.Req.GET_VRING_BASE, P.vringStatePayload({ index: 1, num: 0 }));
    const r = await f.reply();
    expect(typeof r === 'object' && P.readVringState(r.payload)).toEqual({ index: 1, num: 10 });
    expect((await sw!.portStatus('vm')).txRingsOnWorkers).toEqual([]);

    // Started again at 10: back on the worker; then a buffer outside guest memory breaks the device.
    await f.ok(P.Req.SET_VRING_BASE, P.vringStatePayload({ index: 1, num: 10 }));
    await f.startRing(1);
    await until(async () => ((await sw!.portStatus('vm')).txRingsOnWorkers as number[]).length === 1, 5000, 'the TX ring back on queue 0');
    f.sendFrame(frame, BUF);
    await until(() => sw!.stats().ports.out.tx_packets === 11, 5000, 'the eleventh frame');
    f.tx!.addOne(RAM_BYTES + 0x1000, 64, false);
    f.tx!.publish();
    await until(() => sw!.stats().ports.vm.tx_drop_malformed === 1, 5000, 'tx_drop_malformed');
    await until(async () => (await sw!.portStatus('vm')).broken !== null, 5000, 'the device marked broken');
    expect((await sw!.portStatus('vm')).live).toBe(false);
    await until(() => f.errSignalled(1), 5000, 'the error eventfd of the TX ring');
    expect(logs.some((l) => /guest TX ring 1: Descriptor address outside guest memory/.test(l)), logs.join('\n')).toBe(true);

    f.close();
    fe = null;
    const s = sw!;
    sw = null;
    const summary = await s.stop();
    expect(checkAccounted(summary)).toEqual([]);
    // Every frame the guest sent entered once and left once; the hostile chain is a counted drop.
    expect(summary.stats.ports.vm.rx_packets).toBe(11);
    expect(summary.stats.queues.rx0_packets).toBe(11);
    expect(summary.stats.ports.out.tx_packets).toBe(11);
  }, 30_000);
});
