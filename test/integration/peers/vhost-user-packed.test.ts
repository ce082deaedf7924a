/**
 * Real QEMU guests started with packed virtqueues (`-device virtio-net-pci,…,packed=on`)
 * on the switch's vhost-user ports: the guests' own Linux virtio-net drivers run packed
 * rings (VIRTIO_F_RING_PACKED) in their own RAM, and the switch serves them — from the
 * port's device thread, and from the queue workers after the ring handover. The oracles
 * are the guests' kernels (ping answers, the receiver's SHA-256 of a TCP stream equal to
 * the sender's) and QEMU itself: a VM stopped and continued from QEMU's monitor stops its
 * rings (GET_VRING_BASE) and starts them again with the positions the switch answered
 * (SET_VRING_BASE), mid-transfer; a wrong index or wrap counter stalls or breaks the stream.
 * The port's status must say the packed layout was negotiated: a silent fallback to split
 * rings fails these tests.
 */
import { describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import path from 'node:path';
import { MARK_ECHO_SHA, MARK_RX_SHA, MARK_TX_SHA } from '../../support/guest.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { startVhostGuest } from '../../support/qemu.js';
import { forwardProgram, startBetween } from '../../support/switch.js';
import { guestsUp, vhostRig } from '../../support/vhost-guests.js';
import { VIRTIO_F_RING_PACKED } from '../../../queues/virtqueue.js';

const describePeer = describeNeeding(
  missing({ tools: ['qemu-system-x86_64', 'apt-get', 'apt-cache', 'dpkg-deb', 'cpio', 'gzip'] }),
  'QEMU guests with packed rings over vhost-user',
);

const A = { mac: '52:54:00:00:01:21', ip: '192.0.2.21/24', peer: '192.0.2.22' };
const B = { mac: '52:54:00:00:01:22', ip: '192.0.2.22/24', peer: '192.0.2.21' };
const PACKED = 1n << BigInt(VIRTIO_F_RING_PACKED);

describePeer('QEMU guests with packed rings over vhost-user ports', () => {
  const rig = vhostRig('xs-vhost-packed-');
  const { procs, logs, context, finish } = rig;

  /** Two vhost-user ports; `queues` switch queues (2 unless given: then the device thread serves the one pair). */
  async function start(opts: { queues?: number; port?: Record<string, unknown> } = {}): Promise<[string, string]> {
    const [s1, s2] = rig.sockets();
    rig.sw = await startBetween(
      [
        { name: 'vm1', type: 'vhost-user', socket: s1, ...opts.port },
        { name: 'vm2', type: 'vhost-user', socket: s2, ...opts.port },
      ],
      logs,
      opts.queues !== undefined ? { queues: opts.queues, programs: [{ queues: [...Array(opts.queues).keys()], chain: [forwardProgram('vm1', 'vm2')] }] } : {},
    );
    return [s1, s2];
  }

  /** Both ports negotiated packed rings with their guests (the features word and the ring layout the port serves). */
  async function expectPacked(): Promise<void> {
    for (const n of ['vm1', 'vm2']) {
      const st = await rig.sw!.portStatus(n);
      expect(st.connected, `${n} connected`).toBe(true);
      expect(BigInt(st.features as string) & PACKED, `${n}: RING_PACKED negotiated (features ${st.features})`).toBe(PACKED);
      expect(st.ring, `${n}: ring layout`).toBe('packed');
    }
  }

  /**
   * Mid-transfer (1500 frames to vm2), both VMs stopped from their monitors: QEMU stops
   * their vhost devices (GET_VRING_BASE on every ring, answered with where the switch left
   * it, wrap counter included), then `cont` starts them again from those answers
   * (SET_VRING_BASE). Returns vm2's tx_packets at `cont`.
   */
  async function stopAndContinue(mon: string[]): Promise<number> {
    await until(() => rig.sw!.stats().ports.vm2.tx_packets > 1500, 180_000, 'the transfer to pass 1500 frames');
    for (const m of mon) await monitor(m, 'stop');
    for (const n of ['vm1', 'vm2']) {
      const rings = (await rig.sw!.portStatus(n)).rings as { started: boolean }[];
      expect(rings.map((r) => r.started), `${n} rings stopped by GET_VRING_BASE`).toEqual(rings.map(() => false));
    }
    const at = rig.sw!.stats().ports.vm2.tx_packets;
    for (const m of mon) await monitor(m, 'cont');
    return at;
  }

  function expectClean(): void {
    const c = rig.sw!.stats().ports;
    for (const n of ['vm1', 'vm2']) {
      expect(c[n].vhost_msg_errors, `${n}.vhost_msg_errors`).toBe(0);
      expect(c[n].tx_drop_malformed + c[n].rx_drop_malformed, `${n} malformed`).toBe(0);
    }
  }

  /**
   * Two packed=on guests (`guest`: their QEMU shape) stream 32 MiB over TCP (xs.tcp) while
   * both VMs are stopped and continued from their monitors mid-transfer; the receiver's
   * SHA-256 and the sender's echo of it equal the sender's, and vm2 carried frames after
   * `cont`. `placed` checks where the rings are served once the guests are up, `after`
   * once the stream is whole.
   */
  async function streamAcrossStopCont(
    sockets: [string, string],
    guest: { device: string; queues?: number; smp?: number },
    checks: { placed?: () => Promise<void>; after?: () => Promise<void> } = {},
  ): Promise<void> {
    const mon = [path.join(rig.dir, 'mon1.sock'), path.join(rig.dir, 'mon2.sock')];
    const a = startVhostGuest(procs, rig.guest, { socket: sockets[0], ...A, ...guest, append: 'xs.tcp=send:512', args: monitorArgs(mon[0]) }, 5);
    const b = startVhostGuest(procs, rig.guest, { socket: sockets[1], ...B, ...guest, append: 'xs.tcp=recv', args: monitorArgs(mon[1]) }, 5);
    try {
      await guestsUp([a, b]);
      await expectPacked();
      await checks.placed?.();
      const tx = (await a.waitFor(new RegExp(`${MARK_TX_SHA} ([0-9a-f]{64})`), 120_000))[1];
      const before = await stopAndContinue(mon);
      const rx = (await b.waitFor(new RegExp(`${MARK_RX_SHA} ([0-9a-f]{64})`), 400_000))[1];
      const echo = (await a.waitFor(new RegExp(`${MARK_ECHO_SHA} ([0-9a-f]{64})`), 60_000))[1];
      expect(rx).toBe(tx);
      expect(echo).toBe(tx);
      expect(rig.sw!.stats().ports.vm2.tx_packets, 'frames after cont').toBeGreaterThan(before + 1000);
      await checks.after?.();
    } catch (e) {
      throw context(e, [a, b]);
    }
    expectClean();
    await finish();
  }

  it('two packed=on guests ping and move 32 MiB over TCP (SHA-256 equal), rings served by the device thread; both VMs stopped and continued mid-transfer', async () => {
    await streamAcrossStopCont(await start(), { device: ',packed=on' }, {
      after: async () => {
        // One pair, two switch queues: this thread serves both rings.
        expect((await rig.sw!.portStatus('vm1')).rxRingsOnWorkers).toEqual([]);
        // More chains went round the guest's TX ring (256 descriptors) than it holds: its wrap counters flipped.
        expect(rig.sw!.stats().ports.vm1.rx_packets).toBeGreaterThan(256);
      },
    });
  }, 600_000);

  it('rings on the queue workers; both VMs stopped and continued from the QEMU monitor mid-transfer (GET_VRING_BASE / SET_VRING_BASE with wrap counters): the same stream', async () => {
    // QEMU stops the vhost device of a stopped VM: GET_VRING_BASE on every ring, answered
    // with where the workers left them; `cont` restarts them from those positions.
    await streamAcrossStopCont(await start({ queues: 1 }), { device: ',packed=on,mrg_rxbuf=off' }, {
      placed: async () => {
        for (const n of ['vm1', 'vm2']) {
          const st = await rig.sw!.portStatus(n);
          expect(st.rxRingsOnWorkers, `${n}: RX ring written by queue 0's worker`).toEqual([0]);
          expect(st.txRingsOnWorkers, `${n}: TX ring polled by queue 0's worker`).toEqual([0]);
        }
      },
      after: async () => {
        await expectPacked();
        expect((await rig.sw!.portStatus('vm2')).rxRingsOnWorkers, 'vm2: RX ring back on queue 0 after cont').toEqual([0]);
      },
    });
  }, 600_000);

  it('two queue pairs (queues=2, mq=on, two vCPUs), all four packed rings on the two queue workers, stopped and continued mid-transfer: the same stream', async () => {
    await streamAcrossStopCont(await start({ queues: 2, port: { queuePairs: 2 } }), { device: ',packed=on', queues: 2, smp: 2 }, {
      after: async () => {
        for (const n of ['vm1', 'vm2']) {
          const st = await rig.sw!.portStatus(n);
          expect((st.rings as { served: boolean }[]).map((r) => r.served), `${n} rings served`).toEqual([true, true, true, true]);
          expect(st.rxRingsOnWorkers, `${n}: RX rings 0 and 2 written by queues 0 and 1`).toEqual([0, 1]);
          expect(st.txRingsOnWorkers, `${n}: TX rings 1 and 3 polled by queues 0 and 1`).toEqual([0, 1]);
        }
      },
    });
  }, 600_000);

  it('packedRing: false keeps a packed=on guest on split rings (RING_PACKED not offered); it still pings', async () => {
    const [s1, s2] = await start({ port: { packedRing: false } });
    const a = startVhostGuest(procs, rig.guest, { socket: s1, ...A, device: ',packed=on' }, 5);
    const b = startVhostGuest(procs, rig.guest, { socket: s2, ...B, device: ',packed=on' }, 5);
    try {
      await guestsUp([a, b]);
      for (const n of ['vm1', 'vm2']) {
        const st = await rig.sw!.portStatus(n);
        expect(BigInt(st.features as string) & PACKED, `${n}: RING_PACKED not negotiated`).toBe(0n);
        expect(st.ring, `${n}: ring layout`).toBe('split');
      }
    } catch (e) {
      throw context(e, [a, b]);
    }
    expectClean();
    await finish();
  }, 600_000);
});

/** QEMU's human monitor on a UNIX socket. */
function monitorArgs(sock: string): string[] {
  return ['-monitor', `unix:${sock},server=on,wait=off`];
}

/** One human-monitor command to a QEMU (-monitor unix:…): resolves when QEMU has answered it (the next prompt). */
function monitor(sock: string, cmd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = connect(sock);
    let out = '';
    let sent = false;
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`QEMU monitor ${sock}: no answer to '${cmd}' within 30 s (got ${JSON.stringify(out)})`));
    }, 30_000);
    c.on('data', (d) => {
      out += d.toString();
      const prompts = out.split('(qemu)').length - 1;
      if (!sent && prompts >= 1) {
        sent = true;
        c.write(`${cmd}\n`);
      } else if (sent && prompts >= 2) {
        clearTimeout(timer);
        c.end();
        resolve();
      }
    });
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`QEMU monitor ${sock}: ${e.message}`));
    });
  });
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
