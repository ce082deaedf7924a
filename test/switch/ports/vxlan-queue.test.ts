/**
 * vxlan received on the queue workers (net/vxlan-queue.ts), through a real switch on
 * loopback: one SO_REUSEPORT socket per queue, as the kernel's socket table (`ss`) lists
 * them; VNIs demultiplexed; malformed datagrams counted; a killed worker's replacement takes
 * its socket over (no second one, nothing leaked), and none is left after stop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeVxlanHeader } from '../../../switch/ports/vxlan.js';
import { checkAccounted, startBetween } from '../../support/switch.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { ethFrame, until } from '../../support/fake-io.js';
import type { Switch } from '../../../switch/switch.js';
import { boundUdp, boundUdps, freeUdpPort, sendUdp, udpSocketsOn } from '../../support/udp.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function vxlanDatagram(vni: number, frame: Buffer): Buffer {
  const h = Buffer.alloc(8);
  writeVxlanHeader(h, 0, vni);
  return Buffer.concat([h, frame]);
}

describeNeeding(missing({ native: true, tools: ['ss'] }), 'vxlan received on the queue workers')('vxlan received on the queue workers', () => {
  it('spreads over one socket per queue, demultiplexes VNIs, counts the malformed, survives a killed worker and leaks no socket', async () => {
    const local = await freeUdpPort();
    const peer = await boundUdp(cleanup);
    const got: Buffer[] = [];
    peer.on('message', (m) => got.push(m));
    const logs: string[] = [];
    let sw: Switch | undefined = await startBetween(
      [
        { name: 'vx1', type: 'vxlan', local: `127.0.0.1:${local}`, remote: `127.0.0.1:${peer.address().port}`, vni: 1 },
        { name: 'vx2', type: 'vxlan', local: `127.0.0.1:${local}`, remote: `127.0.0.1:${peer.address().port}`, vni: 2 },
      ],
      logs,
    );
    cleanup.push(async () => void (await sw?.stop().catch(() => {})));
    const fail = (e: Error) => new Error(`${e.message}\nlog:\n${logs.join('\n')}\nports: ${JSON.stringify(sw?.stats().ports)}`);
    try {
      expect(sw.receivesOnQueues('vx1') && sw.receivesOnQueues('vx2')).toBe(true);
      expect((await sw.portStatus('vx1')).role).toBe('queues');
      // queues: 2 — one socket each, and the device threads bind none on `local`.
      expect(udpSocketsOn(local)).toBe(2);

      // Several source ports (as a VXLAN sender's per-flow ports): the kernel hashes them over both sockets.
      const senders = await boundUdps(cleanup, 8);
      const round = async (seed: number) => {
        for (let i = 0; i < 40; i++) {
          await sendUdp(senders[i % senders.length], vxlanDatagram(1 + (i & 1), ethFrame(100 + i, seed + i)), local);
        }
      };
      await round(0);
      await until(() => got.length === 40, '40 frames forwarded');
      // Each VNI's frames come back out of the other VNI's port, intact.
      const vniOf = (m: Buffer) => (m[4] << 16) | (m[5] << 8) | m[6];
      expect(got.filter((m) => vniOf(m) === 1).length).toBe(20);
      expect(got.filter((m) => vniOf(m) === 2).length).toBe(20);
      for (const m of got) expect(m.subarray(8).equals(ethFrame(m.length - 8, m.length - 8 - 100))).toBe(true);
      const q = sw.stats().queues;
      expect(q.rx0_packets, 'both queues received').toBeGreaterThan(0);
      expect(q.rx1_packets, 'both queues received').toBeGreaterThan(0);

      // Malformed: short, I flag clear, unknown VNI (the owner's counters), runt (the VNI port's).
      const bad = Buffer.alloc(60);
      await sendUdp(senders[0], Buffer.alloc(4), local);
      await sendUdp(senders[0], bad, local);
      await sendUdp(senders[0], vxlanDatagram(9, ethFrame(60)), local);
      await sendUdp(senders[0], vxlanDatagram(2, Buffer.alloc(10)), local);
      const sum = (k: string) => sw!.stats().ports.vx1[k] + sw!.stats().ports.vx2[k];
      await until(() => sum('rx_vxlan_short') + sum('rx_vxlan_bad_flags') + sum('rx_vxlan_unknown_vni') + sum('rx_runt') === 4, 'the malformed counted');
      for (const k of ['rx_vxlan_short', 'rx_vxlan_bad_flags', 'rx_vxlan_unknown_vni', 'rx_runt']) expect(sum(k), k).toBe(1);
      expect(sw.stats().ports.vx2.rx_runt).toBe(1);

      // A killed worker's replacement adopts its socket: still two on the port, traffic flows.
      await sw.killQueueWorker(0);
      await sw.queueReady(0);
      expect(sw.restarts[0]).toBe(1);
      expect(udpSocketsOn(local)).toBe(2);
      await round(50);
      await until(() => got.length === 80, '40 more frames forwarded after the restart');

      const summary = await sw.stop();
      sw = undefined;
      expect(checkAccounted(summary)).toEqual([]);
      expect(summary.stats.ports.vx1.rx_packets + summary.stats.ports.vx2.rx_packets).toBe(84);
      expect(udpSocketsOn(local), 'no socket left after stop').toBe(0);
    } catch (e) {
      throw fail(e as Error);
    }
  }, 30_000);
});
