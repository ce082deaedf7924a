/**
 * udp ports run to completion (net/udp-queue.ts), through a real switch on loopback: one
 * SO_REUSEPORT socket per queue on `local`, as the kernel's socket table (`ss`) lists them,
 * frames forwarded byte for byte and sent from the port's `local`, runts and oversize frames
 * counted, a killed worker's replacement takes its socket over (no second one), none left
 * after stop; a port that cannot run there says why (thread: queue) or stays on its device
 * thread (no remote), and `thread: device` keeps the old path.
 */
import { afterEach, describe, expect, it } from 'vitest';
import udp from '../../../switch/ports/udp.js';
import { checkAccounted, startBetween } from '../../support/switch.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { ethFrame, until } from '../../support/fake-io.js';
import type { Switch } from '../../../switch/switch.js';
import type { PortConfig } from '../../../switch/ports/port.js';
import { SteeringControl } from '../../../flows/control.js';
import { workerUrl } from '../../../lib/worker-url.js';
import { boundUdp, boundUdps, freeUdpPort, sendUdp, udpSocketsOn } from '../../support/udp.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** The local port a running udp port bound (its status: `local: 127.0.0.1:N`). */
async function boundPort(sw: Switch, port: string): Promise<number> {
  return Number(String((await sw.portStatus(port)).local).split(':')[1]);
}

describe('udp port thread option', () => {
  it('says why thread: queue is not possible, and accepts what is', () => {
    const v = (c: Record<string, unknown>) => udp.validate!({ name: 'u', type: 'udp', local: '127.0.0.1:4000', ...c });
    expect(v({ thread: 'cpu' })).toEqual(["thread: 'cpu' is not queue or device"]);
    expect(v({ thread: 'queue' }), 'a learned peer runs on the queues too').toEqual([]);
    expect(v({ thread: 'queue', local: '127.0.0.1:0', remote: '127.0.0.1:5000' })[0]).toMatch(/local needs a fixed port/);
    expect(v({ thread: 'queue', remote: 'localhost:5000' })[0]).toMatch(/literal addresses/);
    expect(v({ thread: 'queue', remote: '[::1]:5000' })[0]).toMatch(/different address families/);
    expect(v({ thread: 'queue', io: 'dgram', remote: '127.0.0.1:5000' })[0]).toMatch(/io: dgram/);
    expect(v({ thread: 'device' })).toEqual([]);
    // Without thread, a port that cannot run on the queues runs on its device thread.
    expect(udp.queueSides!({ name: 'u', type: 'udp', local: '127.0.0.1:0' })).toEqual({ rx: false, tx: false });
    expect(udp.queueSides!({ name: 'u', type: 'udp', local: '127.0.0.1:4000' })).toEqual({ rx: true, tx: true });
    expect(udp.queueSides!({ name: 'u', type: 'udp', local: '127.0.0.1:4000', remote: '127.0.0.1:5000', thread: 'device' })).toEqual({ rx: false, tx: false });
  });
});

describeNeeding(missing({ native: true, tools: ['ss'] }), 'udp ports on the queue workers')('udp ports on the queue workers', () => {
  it('receives on one socket per queue, forwards byte for byte from local, counts the malformed, survives a killed worker and leaks no socket', async () => {
    const aLocal = await freeUdpPort();
    const bLocal = await freeUdpPort();
    const peerA = await boundUdp(cleanup);
    const peerB = await boundUdp(cleanup);
    const gotB: { m: Buffer; from: number }[] = [];
    peerB.on('message', (m, r) => gotB.push({ m, from: r.port }));
    const logs: string[] = [];
    let sw: Switch | undefined = await startBetween(
      [
        { name: 'a', type: 'udp', local: `127.0.0.1:${aLocal}`, remote: `127.0.0.1:${peerA.address().port}` },
        { name: 'b', type: 'udp', local: `127.0.0.1:${bLocal}`, remote: `127.0.0.1:${peerB.address().port}` },
      ],
      logs,
    );
    cleanup.push(async () => void (await sw?.stop().catch(() => {})));
    const fail = (e: Error) => new Error(`${e.message}\nlog:\n${logs.join('\n')}\nports: ${JSON.stringify(sw?.stats().ports)}`);
    try {
      expect(sw.receivesOnQueues('a') && sw.receivesOnQueues('b')).toBe(true);
      expect((await sw.portStatus('a')).thread).toBe('queue');
      // queues: 2 — one socket each on `local`, and the device threads bind none there.
      expect(udpSocketsOn(aLocal)).toBe(2);
      expect(udpSocketsOn(bLocal)).toBe(2);

      // Several senders (the kernel hashes their 4-tuples over both sockets).
      const senders = [peerA, ...(await boundUdps(cleanup, 7))];
      const sent = new Set<string>();
      const round = async (seed: number) => {
        for (let i = 0; i < 40; i++) {
          const f = ethFrame(60 + i * 30, seed + i);
          sent.add(f.toString('hex'));
          await sendUdp(senders[i % senders.length], f, aLocal);
        }
      };
      const checkGot = () => {
        for (const { m, from } of gotB) {
          expect(sent.has(m.toString('hex')), 'byte for byte').toBe(true);
          // Sent from the port's own socket: the peer sees `local` as the source.
          expect(from).toBe(bLocal);
        }
        expect(new Set(gotB.map(({ m }) => m.toString('hex'))).size, 'each frame once').toBe(gotB.length);
      };
      await round(0);
      await until(() => gotB.length === 40, '40 frames forwarded');
      checkGot();
      const q = sw.stats().queues;
      expect(q.rx0_packets, 'both queues received').toBeGreaterThan(0);
      expect(q.rx1_packets, 'both queues received').toBeGreaterThan(0);

      // A runt and a frame over the MTU (1500 + 14 + 4): counted, not forwarded.
      await sendUdp(senders[0], Buffer.alloc(10), aLocal);
      await sendUdp(senders[0], ethFrame(1600, 0), aLocal);
      await until(() => sw!.stats().ports.a.rx_runt + sw!.stats().ports.a.rx_oversize === 2, 'the malformed counted');
      expect(sw.stats().ports.a.rx_runt).toBe(1);
      expect(sw.stats().ports.a.rx_oversize).toBe(1);

      // A killed worker's replacement adopts its socket: still two on the port, traffic flows.
      await sw.killQueueWorker(0);
      await sw.queueReady(0);
      expect(sw.restarts[0]).toBe(1);
      expect(udpSocketsOn(aLocal)).toBe(2);
      await round(50);
      await until(() => gotB.length === 80, '40 more frames forwarded after the restart');
      checkGot();

      const summary = await sw.stop();
      sw = undefined;
      expect(checkAccounted(summary)).toEqual([]);
      const a = summary.stats.ports.a;
      expect(a.rx_packets).toBe(82);
      expect(a.rx_dropped).toBe(2);
      expect(summary.stats.ports.b.tx_packets).toBe(80);
      expect(udpSocketsOn(aLocal), 'no socket left after stop').toBe(0);
      expect(udpSocketsOn(bLocal), 'no socket left after stop').toBe(0);
    } catch (e) {
      throw fail(e as Error);
    }
  }, 30_000);

  it('refuses a local address another switch already holds (SO_REUSEPORT would let it share the datagrams)', async () => {
    const aLocal = await freeUdpPort();
    const peer = await boundUdp(cleanup);
    // `b` binds an ephemeral port of its own each time: only `a` is shared.
    const ports = (): [PortConfig, PortConfig] => [
      { name: 'a', type: 'udp', local: `127.0.0.1:${aLocal}`, remote: `127.0.0.1:${peer.address().port}` },
      { name: 'b', type: 'udp', local: '127.0.0.1:0', remote: `127.0.0.1:${peer.address().port}` },
    ];
    let first: Switch | undefined = await startBetween(ports(), []);
    cleanup.push(async () => void (await first?.stop().catch(() => {})));
    expect(udpSocketsOn(aLocal)).toBe(2);
    await expect(startBetween(ports(), [])).rejects.toThrow(`port a: local 127.0.0.1:${aLocal} is already in use by another socket (another switch?)`);
    // Nothing joined the first switch's group.
    expect(udpSocketsOn(aLocal)).toBe(2);
    await first.stop();
    first = undefined;
    // Free again: a new switch starts there.
    const again = await startBetween(ports(), []);
    expect(udpSocketsOn(aLocal)).toBe(2);
    expect(checkAccounted(await again.stop())).toEqual([]);
  }, 30_000);

  it('learns its peer from the first datagram any queue accepts, and every queue sends there; tx_no_peer before', async () => {
    const aLocal = await freeUdpPort();
    const bLocal = await freeUdpPort();
    const peerA = await boundUdp(cleanup);
    const peerB = await boundUdp(cleanup);
    const gotA: Buffer[] = [];
    peerA.on('message', (m) => gotA.push(m));
    const logs: string[] = [];
    let sw: Switch | undefined = await startBetween(
      [
        { name: 'a', type: 'udp', local: `127.0.0.1:${aLocal}` },
        { name: 'b', type: 'udp', local: `127.0.0.1:${bLocal}`, remote: `127.0.0.1:${peerB.address().port}` },
      ],
      logs,
    );
    cleanup.push(async () => void (await sw?.stop().catch(() => {})));
    const fail = (e: Error) => new Error(`${e.message}\nlog:\n${logs.join('\n')}\nports: ${JSON.stringify(sw?.stats().ports)}`);
    try {
      expect(sw.receivesOnQueues('a')).toBe(true);
      expect(udpSocketsOn(aLocal)).toBe(2);
      expect((await sw.portStatus('a')).peer).toBe(null);
      // Before a has heard from anyone, what the switch sends it is tx_no_peer.
      await sendUdp(peerB, ethFrame(64, 1), bLocal);
      await until(() => sw!.stats().ports.a.tx_no_peer === 1, 'tx_no_peer counted');
      expect(sw.stats().ports.a.tx_dropped).toBe(1);
      // a's peer speaks first: learned, once, and logged.
      await sendUdp(peerA, ethFrame(64, 2), aLocal);
      await until(() => logs.some((l) => l.includes(`learned peer 127.0.0.1:${peerA.address().port}`)), 'the peer learned');
      expect((await sw.portStatus('a')).peer).toBe(`127.0.0.1:${peerA.address().port}`);
      // Frames for a from many senders (both of b's queues): every one reaches a's peer.
      const senders = await boundUdps(cleanup, 8);
      for (let i = 0; i < 32; i++) await sendUdp(senders[i % senders.length], ethFrame(100 + i, i), bLocal);
      await until(() => gotA.length === 32, '32 frames at the learned peer');
      const q = sw.stats().queues;
      expect(q.rx0_packets, 'both queues sent to the peer').toBeGreaterThan(0);
      expect(q.rx1_packets, 'both queues sent to the peer').toBeGreaterThan(0);
      // A later sender does not replace it.
      const other = await boundUdp(cleanup);
      await sendUdp(other, ethFrame(64, 3), aLocal);
      await sendUdp(peerB, ethFrame(64, 4), bLocal);
      await until(() => gotA.length === 33, 'still sent to the first peer');
      expect(logs.filter((l) => l.includes('learned peer')).length).toBe(1);
      const summary = await sw.stop();
      sw = undefined;
      expect(checkAccounted(summary)).toEqual([]);
      expect(summary.stats.ports.a.tx_no_peer).toBe(1);
    } catch (e) {
      throw fail(e as Error);
    }
  }, 30_000);

  it('with flow-steering rules the device thread receives and learns the peer, and the queues send there', async () => {
    const aLocal = await freeUdpPort();
    const peerA = await boundUdp(cleanup);
    const peerB = await boundUdp(cleanup);
    const gotA: Buffer[] = [];
    peerA.on('message', (m) => gotA.push(m));
    const logs: string[] = [];
    const ctl = new SteeringControl('a', 2);
    let sw: Switch | undefined = await startBetween(
      [
        { name: 'a', type: 'udp', local: `127.0.0.1:${aLocal}` },
        { name: 'b', type: 'udp', local: '127.0.0.1:0', remote: `127.0.0.1:${peerB.address().port}` },
      ],
      logs,
      {},
      { steering: new Map([['a', { module: workerUrl('flows/steerer').href, shared: ctl.shared }]]) },
    );
    cleanup.push(async () => void (await sw?.stop().catch(() => {})));
    expect(sw.receivesOnQueues('a')).toBe(false);
    expect(udpSocketsOn(aLocal), 'the device thread\'s socket only').toBe(1);
    const bLocal = await boundPort(sw, 'b');
    await sendUdp(peerA, ethFrame(64, 1), aLocal);
    await until(() => logs.some((l) => l.includes(`learned peer 127.0.0.1:${peerA.address().port}`)), 'the device thread learned the peer');
    // b's frames are switched on the queues, whose sides send to a's peer: the one the device learned.
    const senders = await boundUdps(cleanup, 8);
    for (let i = 0; i < 16; i++) await sendUdp(senders[i % senders.length], ethFrame(100 + i, i), bLocal);
    await until(() => gotA.length === 16, '16 frames at the peer the device thread learned');
    const summary = await sw.stop();
    sw = undefined;
    expect(checkAccounted(summary)).toEqual([]);
    expect(summary.stats.ports.a.tx_no_peer).toBe(0);
  }, 30_000);

  it('keeps a port with a local port 0, or with thread: device, on its device thread', async () => {
    const peerB = await boundUdp(cleanup);
    const gotB: Buffer[] = [];
    peerB.on('message', (m) => gotB.push(m));
    const logs: string[] = [];
    let sw: Switch | undefined = await startBetween(
      [
        { name: 'a', type: 'udp', local: '127.0.0.1:0' },
        { name: 'b', type: 'udp', local: '127.0.0.1:0', remote: `127.0.0.1:${peerB.address().port}`, thread: 'device' },
      ],
      logs,
    );
    cleanup.push(async () => void (await sw?.stop().catch(() => {})));
    expect(sw.receivesOnQueues('a') || sw.receivesOnQueues('b')).toBe(false);
    expect((await sw.portStatus('a')).thread).toBe('device');
    const aLocal = await boundPort(sw, 'a');
    expect(udpSocketsOn(aLocal)).toBe(1);
    const sender = await boundUdp(cleanup);
    for (let i = 0; i < 10; i++) await sendUdp(sender, ethFrame(64, i), aLocal);
    await until(() => gotB.length === 10, '10 frames forwarded');
    const summary = await sw.stop();
    sw = undefined;
    expect(checkAccounted(summary)).toEqual([]);
  }, 30_000);
});
