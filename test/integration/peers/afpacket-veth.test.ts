/**
 * Two network namespaces joined by the switch through afpacket ports on veth pairs, as a
 * container or a namespace is attached on Linux. The kernels of both hosts are the oracle:
 * ARP resolves across the switch, ping answers, and a TCP transfer of 20 MB arrives with the
 * SHA-256 it left with — at MTU 1500 and again at MTU 9000, with either receive ring, run to
 * completion by the queue workers (one socket per queue, a fanout group with two queues) or
 * through the port's device thread (thread: device).
 *
 *   <p>-h1: eth0 10.98.N.1 ══ veth ══ <p>s1 ─ afpacket p1 ┐
 *                                                          switch (l2switch, this process)
 *   <p>-h2: eth0 10.98.N.2 ══ veth ══ <p>s2 ─ afpacket p2 ┘
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Switch } from '../../../switch/switch.js';
import { Netns, ip } from '../../support/netns.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { Procs } from '../../support/procs.js';
import { checkAccounted, forwardProgram, startBetween } from '../../support/switch.js';
import { tcpTransfer } from '../../support/transfer.js';
import { vethHost } from '../../support/veth.js';

const describePeer = describeNeeding(missing({ tools: ['ip', 'ping', 'ethtool', 'sysctl'], root: true, netns: true }), 'namespace hosts on afpacket ports');

const cases = [
  { ring: 'v3', thread: 'queue', queues: 2 },
  { ring: 'v2', thread: 'queue', queues: 2 },
  { ring: 'v3', thread: 'queue', queues: 1 },
  { ring: 'v2', thread: 'device', queues: 2 },
] as const;

describePeer.each(cases)('namespace hosts through afpacket ports (ring $ring, thread $thread, $queues queues)', ({ ring, thread, queues }) => {
  const ns = new Netns();
  const procs = new Procs();
  const logs: string[] = [];
  const net = randomInt(1, 255);
  const a1 = `10.98.${net}.1`;
  const a2 = `10.98.${net}.2`;
  const s1 = `${ns.prefix}s1`;
  const s2 = `${ns.prefix}s2`;
  let sw: Switch;

  beforeAll(async () => {
    ns.add('h1', 'h2');
    vethHost(ns, s1, 'h1', `${a1}/24`);
    vethHost(ns, s2, 'h2', `${a2}/24`);
    sw = await startBetween(
      [
        { name: 'p1', type: 'afpacket', interface: s1, ring, thread },
        { name: 'p2', type: 'afpacket', interface: s2, ring, thread },
      ],
      logs,
      {
        frameSize: 16384, // room for MTU 9000 frames
        poolFrames: 2048,
        queues,
        programs: [{ queues: Array.from({ length: queues }, (_, q) => q), chain: [forwardProgram('p1', 'p2')] }],
      },
    );
  }, 60_000);

  afterAll(async () => {
    await procs.stopAll();
    if (sw) await sw.stop().catch(() => {});
    ns.cleanup();
  });

  const withLogs = (f: () => void | Promise<void>) => async () => {
    try {
      await f();
    } catch (e) {
      throw new Error(`${(e as Error).message}\nswitch log:\n${logs.join('\n')}\nports: ${JSON.stringify(sw.stats().ports)}`);
    }
  };

  it(
    'ping between the hosts, with ARP resolved across the switch',
    withLogs(() => {
      const out = ns.exec('h1', 'ping', ['-c', '5', '-i', '0.2', '-W', '3', a2]);
      expect(out).toMatch(/5 packets transmitted, 5 received, 0% packet loss/);
      const mac2 = JSON.parse(ip('-j', '-n', ns.name('h2'), 'link', 'show', 'eth0'))[0].address as string;
      expect(ip('-n', ns.name('h1'), 'neigh', 'show', a2, 'dev', 'eth0')).toContain(`lladdr ${mac2}`);
      const s = sw.stats().ports;
      for (const p of ['p1', 'p2']) {
        expect(s[p].rx_packets, `${p}.rx_packets`).toBeGreaterThanOrEqual(6); // ARP + 5 echoes
        expect(s[p].tx_packets, `${p}.tx_packets`).toBeGreaterThanOrEqual(6);
        // Run to completion: no packet crossed from a device thread to a worker (the RPS hop).
        if (thread === 'queue') expect(s[p].rx_rps, `${p}.rx_rps`).toBe(0);
        else expect(s[p].rx_rps, `${p}.rx_rps`).toBe(s[p].rx_packets);
      }
    }),
  );

  it('the port says which threads do its I/O', async () => {
    expect((await sw.portStatus('p1')).thread).toBe(thread);
  });

  it(
    'a 20 MB TCP transfer arrives with the SHA-256 it left with (MTU 1500)',
    withLogs(async () => {
      await tcpTransfer(ns, procs, 'h1', 'h2', a2, 5001, 20 << 20);
      const s = sw.stats().ports;
      expect(s.p1.rx_oversize + s.p2.rx_oversize).toBe(0);
    }),
  );

  it(
    'MTU 9000: unfragmented 8972-byte pings and a 20 MB TCP transfer in jumbo frames',
    withLogs(async () => {
      for (const [sw_, h] of [[s1, 'h1'], [s2, 'h2']] as const) {
        ip('link', 'set', sw_, 'mtu', '9000');
        ip('-n', ns.name(h), 'link', 'set', 'eth0', 'mtu', '9000');
      }
      expect(ns.exec('h1', 'ping', ['-c', '3', '-i', '0.2', '-W', '3', '-M', 'do', '-s', '8972', a2])).toMatch(/3 received/);
      const before = sw.stats().ports.p1;
      await tcpTransfer(ns, procs, 'h1', 'h2', a2, 5002, 20 << 20);
      const after = sw.stats().ports.p1;
      // The data went in jumbo frames: h1's segments average far more than a 1500-byte MTU allows.
      const avg = (after.rx_bytes - before.rx_bytes) / (after.rx_packets - before.rx_packets);
      expect(avg).toBeGreaterThan(3000);
      expect(after.rx_oversize).toBe(0);
    }),
  );

  // Run to completion only (thread: device has no socket per queue).
  if (thread === 'queue') it(
    'a killed queue worker is replaced, its successor closes the socket it left in the fanout group, and traffic flows again',
    withLogs(async () => {
      // The kernel's list of packet sockets is the oracle: one per queue on each interface.
      const ifindex = Number(JSON.parse(ip('-j', 'link', 'show', s1))[0].ifindex);
      const sockets = () => readFileSync('/proc/net/packet', 'utf8').split('\n').slice(1).filter((l) => l.trim().split(/\s+/)[4] === String(ifindex)).length;
      expect(sockets()).toBe(queues);
      for (let q = 0; q < queues; q++) {
        await sw.killQueueWorker(q);
        await sw.queueReady(q);
      }
      expect(sockets()).toBe(queues);
      expect(ns.exec('h1', 'ping', ['-c', '5', '-i', '0.2', '-W', '3', a2])).toMatch(/5 packets transmitted, 5 received/);
      await tcpTransfer(ns, procs, 'h1', 'h2', a2, 5003, 4 << 20);
      expect(logs.join('\n')).toMatch(/closed the socket \(fd \d+\) of the worker this one replaces/);
    }),
  );

  it('stops with every packet accounted for', async () => {
    await procs.stopAll();
    const summary = await sw.stop();
    sw = undefined as unknown as Switch;
    expect(checkAccounted(summary)).toEqual([]);
  });
});
