/**
 * TSO between real Linux guests over vhost-user: QEMU's front-end negotiates the checksum
 * and segmentation offloads the port offers (CSUM, GUEST_CSUM, HOST_TSO4/6, GUEST_TSO4/6),
 * the guests' own virtio_net drivers send 64 KB TCP super-frames behind a virtio_net_hdr
 * and, when they negotiated GUEST_TSO, take them on receive.
 * The oracles are the guests' kernels: the feature bits their drivers acknowledged, and a
 * TCP stream whose SHA-256 the receiving guest computes equals the sender's (a bad checksum
 * or a wrong segment would stall or corrupt it). The switch's counters show the super-frames
 * crossed: frames of more than an MTU in from the sender, out to the receiver.
 */
import { describe, expect, it } from 'vitest';
import { describeNeeding, missing } from '../../support/prereq.js';
import { type Proc } from '../../support/procs.js';
import { startVhostGuest } from '../../support/qemu.js';
import { forwardProgram, startBetween } from '../../support/switch.js';
import { guestsUp, streamHashes, vhostRig } from '../../support/vhost-guests.js';

const describePeer = describeNeeding(
  missing({ tools: ['qemu-system-x86_64', 'apt-get', 'apt-cache', 'dpkg-deb', 'cpio', 'gzip'] }),
  'QEMU guests over vhost-user with TSO',
);

const A = { mac: '52:54:00:00:01:21', ip: '192.0.2.21/24', peer: '192.0.2.22' };
const B = { mac: '52:54:00:00:01:22', ip: '192.0.2.22/24', peer: '192.0.2.21' };
/** virtio-net feature bits: CSUM, GUEST_CSUM, GUEST_TSO4, GUEST_TSO6, HOST_TSO4, HOST_TSO6. */
const CSUM = 1n << 0n;
const GUEST_CSUM = 1n << 1n;
const GUEST_TSO4 = 1n << 7n;
const HOST_TSO4 = 1n << 11n;
const OFFLOADS = CSUM | GUEST_CSUM | GUEST_TSO4 | (1n << 8n) | HOST_TSO4 | (1n << 12n);

describePeer('QEMU guests over vhost-user with TSO', () => {
  const rig = vhostRig('xs-vhost-tso-');
  const { procs, logs, context, finish } = rig;

  async function start(queues = 2): Promise<[string, string]> {
    const [s1, s2] = rig.sockets();
    // Super-frames in every pool: the forwarding chain (redirect, frags) takes them whole.
    const q = [...Array(queues).keys()];
    rig.sw = await startBetween([{ name: 'vm1', type: 'vhost-user', socket: s1 }, { name: 'vm2', type: 'vhost-user', socket: s2 }], logs, {
      superFrames: 64,
      poolFrames: 8192,
      queues,
      programs: [{ queues: q, chain: [forwardProgram('vm1', 'vm2')] }],
    });
    return [s1, s2];
  }


  /** Pings both ways, then 64 × 64 KiB from A to B; the sender's, the receiver's and the echoed hashes. */
  async function transfer(a: Proc, b: Proc): Promise<{ tx: string; rx: string; echo: string }> {
    await guestsUp([a, b], false);
    return streamHashes(a, b);
  }

  it('both guests negotiate TSO: super-frames cross whole from one guest to the other (RX rings on the device threads); SHA-256 equal', async () => {
    const [s1, s2] = await start();
    const a = startVhostGuest(procs, rig.guest, { socket: s1, ...A, append: 'xs.tcp=send:64' }, 5);
    const b = startVhostGuest(procs, rig.guest, { socket: s2, ...B, append: 'xs.tcp=recv' }, 5);
    try {
      const h = await transfer(a, b);
      expect(h.rx).toBe(h.tx);
      expect(h.echo).toBe(h.tx);
      for (const n of ['vm1', 'vm2']) {
        const st = await rig.sw!.portStatus(n);
        expect(BigInt(st.features as string) & OFFLOADS, `${n}: offloads the guest's driver acknowledged`).toBe(OFFLOADS);
        expect(st.rxRingsOnWorkers, `${n}: who writes its RX ring`).toEqual([]);
      }
    } catch (e) {
      throw context(e, [a, b]);
    }
    const c = rig.sw!.stats().ports;
    console.log(`vm1 rx: ${c.vm1.rx_packets} packets, ${c.vm1.rx_gso_whole} super-frames whole, ${c.vm1.rx_gso_packets} cut; vm2 tx: ${c.vm2.tx_packets} frames, ${c.vm2.tx_bytes} bytes`);
    for (const n of ['vm1', 'vm2']) expect(c[n].vhost_msg_errors + c[n].tx_drop_malformed + c[n].rx_drop_malformed + c[n].rx_drop_too_big, `${n} errors`).toBe(0);
    // The sender's TSO super-frames went through whole, and the receiver took frames far
    // larger than an MTU: 4 MiB in fewer frames than 1448-byte segments would need.
    expect(c.vm1.rx_gso_whole).toBeGreaterThan(0);
    expect(c.vm2.tx_packets).toBeLessThan((64 * 65536) / 1448 / 2);
    expect(c.vm2.tx_bytes / c.vm2.tx_packets).toBeGreaterThan(1514);
    await finish();
  }, 600_000);

  it('one switch queue: the sender\'s TX ring is polled by the queue worker, its super-frames enter there whole (no RPS hop) and are written whole into the receiver\'s RX ring by the same worker; SHA-256 equal', async () => {
    const [s1, s2] = await start(1);
    const a = startVhostGuest(procs, rig.guest, { socket: s1, ...A, append: 'xs.tcp=send:64' }, 5);
    const b = startVhostGuest(procs, rig.guest, { socket: s2, ...B, append: 'xs.tcp=recv' }, 5);
    try {
      const h = await transfer(a, b);
      expect(h.rx).toBe(h.tx);
      expect(h.echo).toBe(h.tx);
      for (const n of ['vm1', 'vm2']) {
        const st = await rig.sw!.portStatus(n);
        expect(st.txRingsOnWorkers, `${n}: TX ring polled by queue 0's worker`).toEqual([0]);
        // Both take TSO, and their RX rings are the worker's all the same.
        expect(BigInt(st.features as string) & OFFLOADS, `${n}: offloads the guest's driver acknowledged`).toBe(OFFLOADS);
        expect(st.rxRingsOnWorkers, `${n}: RX ring written by queue 0's worker`).toEqual([0]);
      }
    } catch (e) {
      throw context(e, [a, b]);
    }
    const c = rig.sw!.stats().ports;
    console.log(`vm1 rx on the worker: ${c.vm1.rx_packets} packets, ${c.vm1.rx_gso_whole} super-frames whole, ${c.vm1.rx_gso_packets} cut, ${c.vm1.rx_rps} steered`);
    for (const n of ['vm1', 'vm2']) expect(c[n].vhost_msg_errors + c[n].tx_drop_malformed + c[n].rx_drop_malformed, `${n} errors`).toBe(0);
    expect(c.vm1.rx_gso_whole).toBeGreaterThan(0);
    expect(c.vm1.rx_rps + c.vm2.rx_rps).toBe(0);
    // The receiver took them whole: frames far larger than an MTU, none too big for its buffers.
    expect(c.vm2.tx_bytes / c.vm2.tx_packets).toBeGreaterThan(1514);
    expect(c.vm2.rx_drop_too_big).toBe(0);
    await finish();
  }, 600_000);

  it('sender without TSO, receiver with GUEST_TSO on a queue worker: the worker coalesces the MTU segments (GRO) and writes the super-frames into the guest\'s RX ring; SHA-256 equal', async () => {
    const [s1, s2] = await start(1);
    // The sender's device offers no TSO and no checksum offload: Linux sends MTU segments with full checksums.
    const a = startVhostGuest(procs, rig.guest, { socket: s1, ...A, device: ',host_tso4=off,host_tso6=off,host_ecn=off,host_ufo=off,csum=off', append: 'xs.tcp=send:64' }, 5);
    const b = startVhostGuest(procs, rig.guest, { socket: s2, ...B, append: 'xs.tcp=recv' }, 5);
    try {
      const h = await transfer(a, b);
      expect(h.rx).toBe(h.tx);
      expect(h.echo).toBe(h.tx);
      const st = await rig.sw!.portStatus('vm2');
      expect(BigInt(st.features as string) & (GUEST_TSO4 | GUEST_CSUM), 'vm2 takes TSO').toBe(GUEST_TSO4 | GUEST_CSUM);
      expect(BigInt((await rig.sw!.portStatus('vm1')).features as string) & HOST_TSO4, 'vm1 sends no TSO').toBe(0n);
      expect(st.rxRingsOnWorkers, 'vm2\'s RX ring written by worker 0').toEqual([0]);
    } catch (e) {
      throw context(e, [a, b]);
    }
    const c = rig.sw!.stats();
    const p = c.ports;
    console.log(`queue 0: ${c.queues.rx0_rx_gro_packets} GRO super-frames of ${c.queues.rx0_rx_gro_merged} merged segments; vm2: ${p.vm2.tx_packets} frames, ${p.vm2.tx_bytes} bytes`);
    for (const n of ['vm1', 'vm2']) expect(p[n].vhost_msg_errors + p[n].tx_drop_malformed + p[n].rx_drop_malformed + p[n].rx_drop_too_big, `${n} errors`).toBe(0);
    expect(p.vm1.rx_gso_whole + p.vm1.rx_gso_packets).toBe(0);
    expect(c.queues.rx0_rx_gro_packets).toBeGreaterThan(0);
    // Gathered: each segment's payload copied once, into the Linux guest's buffers.
    expect(c.queues.rx0_rx_gro_gathered).toBeGreaterThan(c.queues.rx0_rx_gro_packets * 0.9);
    expect(c.queues.rx0_rx_gro_tx_full).toBe(0);
    // The receiver took frames larger than an MTU, all written by the worker.
    expect(p.vm2.tx_bytes / p.vm2.tx_packets).toBeGreaterThan(1514);
    await finish();
  }, 600_000);

  it('receiver without GUEST_TSO (QEMU guest_tso4=off…): the sender\'s super-frames are cut for it, checksums completed; SHA-256 equal', async () => {
    const [s1, s2] = await start();
    const a = startVhostGuest(procs, rig.guest, { socket: s1, ...A, append: 'xs.tcp=send:64' }, 5);
    const b = startVhostGuest(procs, rig.guest, { socket: s2, ...B, device: ',guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off,guest_csum=off', append: 'xs.tcp=recv' }, 5);
    try {
      const h = await transfer(a, b);
      expect(h.rx).toBe(h.tx);
      expect(h.echo).toBe(h.tx);
      const st = await rig.sw!.portStatus('vm2');
      expect(BigInt(st.features as string) & (GUEST_TSO4 | GUEST_CSUM), 'vm2 took no receive offloads').toBe(0n);
      expect(BigInt((await rig.sw!.portStatus('vm1')).features as string) & HOST_TSO4, 'vm1 sends TSO').toBe(HOST_TSO4);
    } catch (e) {
      throw context(e, [a, b]);
    }
    const c = rig.sw!.stats().ports;
    console.log(`vm1 rx: ${c.vm1.rx_gso_whole} whole, ${c.vm1.rx_gso_packets} cut; vm2: ${c.vm2.tx_gso_packets} super-frames cut into ${c.vm2.tx_gso_segments}, ${c.vm2.tx_csum_sw} checksums completed`);
    for (const n of ['vm1', 'vm2']) expect(c[n].vhost_msg_errors + c[n].tx_drop_malformed + c[n].rx_drop_malformed, `${n} errors`).toBe(0);
    expect(c.vm2.tx_gso_packets).toBeGreaterThan(0);
    // Each cut into MTU-sized segments (tx_packets counts the super-frame once); Linux sizes
    // its super-frames to the flow's rate, so fewer than 44 segments each under TCG.
    expect(c.vm2.tx_gso_segments).toBeGreaterThan(c.vm2.tx_gso_packets * 2);
    await finish();
  }, 600_000);
});
