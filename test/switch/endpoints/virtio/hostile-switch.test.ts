/**
 * A hostile guest and a healthy VM on ONE running switch: for every rule the device
 * enforces (violations.ts), the hostile guest — written by hand in this thread, on the
 * switch's virtio port `bad` — breaks it while gen0 floods broadcast frames to both VMs
 * through l2switch. The port must mark NEEDS_RESET and count one drop; the healthy VM on
 * port `good` must keep receiving, at a rate, frames it checks itself byte by byte (a
 * device that scribbled on the switch's frames, or injected one, shows there); the
 * hostile guest must be served again after its reset (a frame each way); and at stop
 * every frame is home and every packet in one counter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { Switch } from '../../../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../../../switch/config-types.js';
import { startVm, type Vm } from '../../../../guest/runner.js';
import * as V from '../../../../queues/virtqueue.js';
import { inetChecksum } from '../../../programs/packets.js';
import { until } from './harness.js';
import { BUFFERS, RX_LAYOUT, RemoteGuest, TX_LAYOUT } from './raw-guest.js';
import { VIOLATIONS, validRx, validTx } from './violations.js';

const built = existsSync(new URL('../../../../dist/guest/vm-worker.js', import.meta.url)) && existsSync(new URL('../../../../dist/switch/device.js', import.meta.url));
const GEN_MAC = '02:00:00:00:00:01';
const SIZE = 128;

let sw: Switch | null = null;
let good: Vm | null = null;
let bad: RemoteGuest;

describe.runIf(built || process.env.CI === 'true')('a hostile guest beside a healthy VM on one switch', () => {
  beforeAll(async () => {
    const cfg: SwitchConfig = {
      ...CONFIG_DEFAULTS,
      queues: 2,
      poolFrames: 8192,
      ringSize: 4096,
      ports: [
        { name: 'gen0', type: 'gen', flows: 16, rate: 4000, size: SIZE, srcMac: GEN_MAC, dstMac: 'ff:ff:ff:ff:ff:ff' },
        { name: 'bad', type: 'virtio', queueSize: 256 },
        { name: 'good', type: 'virtio' },
      ],
      programs: [{ queues: [0, 1], chain: [{ name: 'l2switch', params: {}, continueOn: [] }] }],
    } as SwitchConfig;
    sw = await Switch.start(cfg);
    good = await startVm({
      program: new URL('./fixtures/verify-gen.mjs', import.meta.url),
      params: { genMac: GEN_MAC, size: SIZE },
      attach: (m) => sw!.portControl('good', m),
      detach: () => sw!.portControl('good', { op: 'detach' }),
    });
    bad = await RemoteGuest.attach((m) => sw!.portControl('bad', m));
  }, 60_000);

  afterAll(async () => {
    await good?.stop().catch(() => {});
    await sw?.stop().catch(() => {});
  });

  const ports = () => sw!.stats().ports;
  let recovered = 0;

  for (const c of VIOLATIONS) {
    it(`${c.side.toUpperCase()}: ${c.name}`, async () => {
      const st = bad.up(c.features);
      expect(st & V.STATUS_DRIVER_OK, 'bring-up').toBe(V.STATUS_DRIVER_OK);
      const before = ports();
      const okBefore = good!.counter('rx_ok');
      c.setup(bad);
      bad.kick();
      // RX violations meet the flood; TX ones the device finds on the kick.
      await until(() => (bad.deviceStatus() & V.STATUS_DEVICE_NEEDS_RESET) !== 0, 'NEEDS_RESET on the hostile port', 5_000);
      const after = ports();
      const d = (k: string) => after.bad[k] - before.bad[k];
      expect(d('needs_reset')).toBe(1);
      expect(d(c.side === 'tx' ? 'tx_drop_malformed' : 'rx_drop_malformed')).toBe(1);
      expect(d(c.side === 'tx' ? 'rx_drop_malformed' : 'tx_drop_malformed')).toBe(0);
      // Broken means quiet: the flood to the broken port is counted not-ready, nothing else.
      const notReady = after.bad.rx_drop_not_ready;
      await until(() => ports().bad.rx_drop_not_ready > notReady + 20, 'the flood counted not-ready at the broken port', 5_000);

      // The healthy VM: still receiving, every frame intact, nothing foreign, its port clean.
      await until(() => good!.counter('rx_ok') > okBefore + 100, 'the healthy VM to keep receiving', 5_000);
      expect(good!.counter('rx_bad')).toBe(0);
      expect(good!.counter('rx_other')).toBe(recovered);
      const g = ports().good;
      expect(g.needs_reset + g.rx_drop_malformed + g.tx_drop_malformed + g.resets).toBe(0);

      // The hostile guest resets and is served again: one frame from the flood in, one frame out.
      expect(bad.up(c.features) & V.STATUS_DEVICE_NEEDS_RESET).toBe(0);
      validRx(bad);
      validTx(bad);
      bad.kick();
      await until(() => bad.usedIdx(RX_LAYOUT) >= 1 && bad.usedIdx(TX_LAYOUT) === 1, 'the reset guest served both ways', 5_000);
      const f = bad.mem.bytes.subarray(BUFFERS + 0x9000 + V.NET_HDR_BYTES, BUFFERS + 0x9000 + V.NET_HDR_BYTES + SIZE);
      expect(Buffer.from(f.subarray(6, 12)).toString('hex')).toBe(GEN_MAC.replace(/:/g, ''));
      expect(inetChecksum(f, 14, 34)).toBe(0);
      recovered++;
      // The frame it sent (to a MAC nobody has) is flooded to the healthy VM: one foreign frame.
      await until(() => good!.counter('rx_other') === recovered, 'the reset guest’s frame at the healthy VM', 5_000);
    });
  }

  it('stops with every frame home and every packet in one counter; the healthy port never dropped', async () => {
    // Stop the hostile guest's traffic: a reset with no buffers posted.
    bad.status(0);
    await good!.stop();
    good = null;
    const s = await sw!.stop();
    sw = null;
    expect(s.accounting.doubled).toBe(0);
    expect(s.accounting.free).toBe(s.accounting.total);
    expect(s.unaccounted).toBe(0);
    const g = s.stats.ports.good;
    expect(g.rx_drop_malformed + g.tx_drop_malformed + g.needs_reset).toBe(0);
    expect(s.stats.ports.bad.needs_reset).toBe(VIOLATIONS.length);
  });
});
