/**
 * Real QEMU guests (Debian's cloud kernel, busybox initramfs, TCG) whose virtio-net NICs
 * are served by the switch's vhost-user ports: the guests' own Linux virtio-net drivers
 * fill and drain their rings in their own RAM, which the switch maps from QEMU's memfds.
 * The oracles are the guests' kernels: ping answers, and a TCP stream whose SHA-256 the
 * receiving guest computes equals the sender's.
 */
import { describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { MARK_TX_SHA } from '../../support/guest.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { type Proc } from '../../support/procs.js';
import { startVhostGuest } from '../../support/qemu.js';
import { forwardProgram, startBetween } from '../../support/switch.js';
import { guestsUp, streamHashes, vhostRig } from '../../support/vhost-guests.js';

const describePeer = describeNeeding(
  missing({ tools: ['qemu-system-x86_64', 'apt-get', 'apt-cache', 'dpkg-deb', 'cpio', 'gzip'] }),
  'QEMU guests over vhost-user',
);

const A = { mac: '52:54:00:00:01:11', ip: '192.0.2.11/24', peer: '192.0.2.12' };
const B = { mac: '52:54:00:00:01:12', ip: '192.0.2.12/24', peer: '192.0.2.11' };

describePeer('QEMU guests over vhost-user ports', () => {
  const rig = vhostRig('xs-vhost-');
  const { procs, logs, context, finish } = rig;

  /**
   * `queues`: the switch's queues (2 unless given). Run to completion: when the guest runs
   * at least that many pairs, queue worker q writes its RX ring of pair q; otherwise the
   * port's device thread writes them all. The tests cover both.
   */
  async function start(opts: { queuePairs?: number; queues?: number } = {}): Promise<[string, string]> {
    const [s1, s2] = rig.sockets();
    const q = opts.queuePairs !== undefined ? { queuePairs: opts.queuePairs } : {};
    rig.sw = await startBetween(
      [
        { name: 'vm1', type: 'vhost-user', socket: s1, ...q },
        { name: 'vm2', type: 'vhost-user', socket: s2, ...q },
      ],
      logs,
      opts.queues !== undefined ? { queues: opts.queues, programs: [{ queues: [...Array(opts.queues).keys()], chain: [forwardProgram('vm1', 'vm2')] }] } : {},
    );
    return [s1, s2];
  }



  /** Ping both ways, then N × 64 KiB from A to B; returns the three hashes. */
  async function transfer(a: Proc, b: Proc): Promise<{ tx: string; rx: string; echo: string }> {
    await guestsUp([a, b]);
    return streamHashes(a, b);
  }

  it('two guests ping and move 4 MiB over TCP (SHA-256 equal), mergeable RX buffers on', async () => {
    const [s1, s2] = await start();
    expect(statSync(s1).mode & 0o777).toBe(0o600);
    const a = startVhostGuest(procs, rig.guest, { socket: s1, ...A, append: 'xs.tcp=send:64' }, 5);
    const b = startVhostGuest(procs, rig.guest, { socket: s2, ...B, append: 'xs.tcp=recv' }, 5);
    try {
      const h = await transfer(a, b);
      expect(h.rx).toBe(h.tx);
      expect(h.echo).toBe(h.tx);
      const st = await rig.sw!.portStatus('vm1');
      expect(st.connected).toBe(true);
      expect(BigInt(st.features as string) & (1n << 15n)).toBe(1n << 15n); // MRG_RXBUF negotiated
      // One pair, two switch queues: the device thread writes the guest's RX ring and polls its
      // TX ring, steering each frame to a queue (RPS).
      expect(st.rxRingsOnWorkers).toEqual([]);
      expect(st.txRingsOnWorkers).toEqual([]);
      expect(rig.sw!.stats().ports.vm1.rx_rps).toBeGreaterThan(0);
    } catch (e) {
      throw context(e, [a, b]);
    }
    const c = rig.sw!.stats().ports;
    for (const n of ['vm1', 'vm2']) {
      expect(c[n].vhost_msg_errors, `${n}.vhost_msg_errors`).toBe(0);
      expect(c[n].tx_drop_malformed + c[n].rx_drop_malformed, `${n} malformed`).toBe(0);
    }
    expect(c.vm1.rx_packets).toBeGreaterThan(64); // at least a data segment per 64 KiB
    await finish();
  }, 600_000);

  it('with mergeable RX buffers off (QEMU mrg_rxbuf=off), RX rings written by the queue worker: one buffer per frame, the same stream', async () => {
    const [s1, s2] = await start({ queues: 1 });
    const a = startVhostGuest(procs, rig.guest, { socket: s1, ...A, device: ',mrg_rxbuf=off', append: 'xs.tcp=send:64' }, 5);
    const b = startVhostGuest(procs, rig.guest, { socket: s2, ...B, device: ',mrg_rxbuf=off', append: 'xs.tcp=recv' }, 5);
    try {
      const h = await transfer(a, b);
      expect(h.rx).toBe(h.tx);
      expect(h.echo).toBe(h.tx);
      for (const n of ['vm1', 'vm2']) {
        const st = await rig.sw!.portStatus(n);
        expect(BigInt(st.features as string) & (1n << 15n), `${n}: MRG_RXBUF not negotiated`).toBe(0n);
        expect(st.rxRingsOnWorkers, `${n}: RX ring written by queue 0's worker`).toEqual([0]);
        // And its TX ring polled by that worker: the guest's frames enter there, no RPS hop.
        expect(st.txRingsOnWorkers, `${n}: TX ring polled by queue 0's worker`).toEqual([0]);
        expect(rig.sw!.stats().ports[n].rx_rps, `${n}: frames steered by the device thread`).toBe(0);
        expect(rig.sw!.stats().ports[n].rx_packets, `${n}: frames the guest sent`).toBeGreaterThan(0);
      }
    } catch (e) {
      throw context(e, [a, b]);
    }
    const c = rig.sw!.stats().ports;
    for (const n of ['vm1', 'vm2']) expect(c[n].vhost_msg_errors + c[n].tx_drop_malformed + c[n].rx_drop_malformed + c[n].rx_drop_too_big, `${n} errors`).toBe(0);
    await finish();
  }, 600_000);

  it('two queue pairs (QEMU queues=2, mq=on, two vCPUs): all four rings served, the same stream', async () => {
    const [s1, s2] = await start({ queuePairs: 2 });
    const a = startVhostGuest(procs, rig.guest, { socket: s1, ...A, queues: 2, smp: 2, append: 'xs.tcp=send:64' }, 5);
    const b = startVhostGuest(procs, rig.guest, { socket: s2, ...B, queues: 2, smp: 2, append: 'xs.tcp=recv' }, 5);
    try {
      const h = await transfer(a, b);
      expect(h.rx).toBe(h.tx);
      expect(h.echo).toBe(h.tx);
      for (const n of ['vm1', 'vm2']) {
        const st = await rig.sw!.portStatus(n);
        expect(BigInt(st.features as string) & (1n << 22n), `${n}: MQ not negotiated`).toBe(1n << 22n);
        const rings = st.rings as { index: number; served: boolean; avail: number }[];
        expect(rings.map((r) => r.served), `${n} rings served`).toEqual([true, true, true, true]);
        expect(st.rxRingsOnWorkers, `${n}: RX rings 0 and 2 written by queues 0 and 1`).toEqual([0, 1]);
        expect(st.txRingsOnWorkers, `${n}: TX rings 1 and 3 polled by queues 0 and 1`).toEqual([0, 1]);
        expect(rig.sw!.stats().ports[n].rx_rps, `${n}: frames steered by the device thread`).toBe(0);
        console.log(`${n} rings after the transfer: ${JSON.stringify(rings)}`);
      }
    } catch (e) {
      throw context(e, [a, b]);
    }
    const c = rig.sw!.stats().ports;
    for (const n of ['vm1', 'vm2']) expect(c[n].vhost_msg_errors + c[n].tx_drop_malformed + c[n].rx_drop_malformed, `${n} errors`).toBe(0);
    await finish();
  }, 600_000);

  it('killing one QEMU mid-transfer (its RX ring on the queue worker) takes its port down and returns its frames; the other guest runs on; a new QEMU reconnects and pings', async () => {
    const [s1, s2] = await start({ queues: 1 });
    const a = startVhostGuest(procs, rig.guest, { socket: s1, ...A, append: 'xs.tcp=send:4096' }, 120);
    const b = startVhostGuest(procs, rig.guest, { socket: s2, ...B, append: 'xs.tcp=recv' }, 5);
    let b2: Proc | null = null;
    try {
      await guestsUp([a, b]);
      await a.waitFor(new RegExp(`${MARK_TX_SHA} ([0-9a-f]{64})`), 120_000);
      // Mid-transfer: data segments are flowing towards the receiver.
      await until(() => rig.sw!.stats().ports.vm2.tx_packets > 2000, 120_000, 'the transfer to start');
      // The worker writes into the guest's RAM when QEMU dies: it must let go before the unmap.
      expect((await rig.sw!.portStatus('vm2')).rxRingsOnWorkers).toEqual([0]);
      expect((await rig.sw!.portStatus('vm2')).txRingsOnWorkers).toEqual([0]);
      b.child.kill('SIGKILL');
      await until(() => rig.sw!.stats().ports.vm2.vhost_disconnects === 1, 30_000, 'vm2 to see its front-end go');
      const down = await rig.sw!.portStatus('vm2');
      expect(down.connected).toBe(false);
      expect(down.memoryRegions).toEqual([]);
      // Frames the switch sends to the dead guest are dropped and counted, not held.
      const before = rig.sw!.stats().ports.vm2.tx_dropped;
      await until(() => rig.sw!.stats().ports.vm2.tx_dropped > before, 30_000, 'retransmissions to vm2 to be dropped');
      expect((await rig.sw!.portStatus('vm1')).connected).toBe(true);
      expect(a.child.exitCode).toBeNull();

      b2 = startVhostGuest(procs, rig.guest, { socket: s2, ...B }, 5);
      await guestsUp([b2]);
      await until(() => rig.sw!.stats().ports.vm2.vhost_connects === 2, 10_000, 'vm2 to count its second front-end');
      expect((await rig.sw!.portStatus('vm2')).connected).toBe(true);
      expect((await rig.sw!.portStatus('vm2')).rxRingsOnWorkers).toEqual([0]);
    } catch (e) {
      throw context(e, [a, b, ...(b2 ? [b2] : [])]);
    }
    const c = rig.sw!.stats().ports;
    for (const n of ['vm1', 'vm2']) expect(c[n].vhost_msg_errors + c[n].tx_drop_malformed + c[n].rx_drop_malformed, `${n} errors`).toBe(0);
    expect(c.vm1.vhost_disconnects).toBe(0);
    await finish();
  }, 600_000);
});

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
