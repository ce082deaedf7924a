/**
 * An afpacket port with flow-steering rules (ethtool -N words): the rule decides the queue,
 * so the port's device thread receives and steers (as Linux RPS with ntuple rules), while
 * every queue still transmits on a socket of its own (bound with protocol 0, it receives
 * nothing: no packet arrives twice). The hosts' kernels are the oracle: ping answers, a TCP
 * transfer arrives with its SHA-256, and the UDP datagrams the rule names all went through
 * the queue the rule names (D is a port default RSS would put on queue 0).
 *
 *   h1: eth0 ══ veth ══ s1 ─ afpacket p1 (rule: udp4 dst-port D → queue 1)      ┐ l2switch
 *   h2: eth0 ══ veth ══ s2 ─ afpacket p2                                        ┘ 2 queues
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomInt } from 'node:crypto';
import type { Switch } from '../../../switch/switch.js';
import { SteeringControl } from '../../../flows/control.js';
import { DEFAULT_RSS_KEY, toeplitzReference } from '../../../flows/toeplitz.js';
import { workerUrl } from '../../../lib/worker-url.js';
import { Netns } from '../../support/netns.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { Procs } from '../../support/procs.js';
import { checkAccounted, startBetween } from '../../support/switch.js';
import { tcpTransfer } from '../../support/transfer.js';
import { vethHost } from '../../support/veth.js';

const describePeer = describeNeeding(missing({ tools: ['ip', 'ping', 'ethtool', 'sysctl'], root: true, netns: true }), 'afpacket with flow-steering rules');
const NODE = process.execPath;
const DATAGRAMS = 200;

const SPORT = 40000;

/** argv: host port count. Sends `count` small datagrams from port SPORT, one at a time. */
const SEND = `
const [host, port, n] = process.argv.slice(1);
const s = require('dgram').createSocket('udp4');
let left = Number(n);
const next = () => { if (left-- === 0) return s.close(); s.send(Buffer.alloc(64, 1), Number(port), host, next); };
s.bind(${SPORT}, next);
`;

/** A destination port whose flow default RSS (2 queues) puts on queue 0: the rule, not RSS, must move it to 1. */
function portOnQueue0(src: string, dst: string): number {
  const ip = (a: string) => a.split('.').map(Number);
  for (let p = 7000; ; p++) {
    const h = toeplitzReference(DEFAULT_RSS_KEY, [...ip(src), ...ip(dst), SPORT >> 8, SPORT & 255, p >> 8, p & 255]);
    if ((h & 127) % 2 === 0) return p;
  }
}

describePeer('afpacket port with flow-steering rules: the device receives and steers, the queues send', () => {
  const ns = new Netns();
  const procs = new Procs();
  const logs: string[] = [];
  const net = randomInt(1, 255);
  const a1 = `10.96.${net}.1`;
  const a2 = `10.96.${net}.2`;
  const s1 = `${ns.prefix}s1`;
  const s2 = `${ns.prefix}s2`;
  let sw: Switch;
  let dport = 0;

  beforeAll(async () => {
    ns.add('h1', 'h2');
    vethHost(ns, s1, 'h1', `${a1}/24`);
    vethHost(ns, s2, 'h2', `${a2}/24`);
    dport = portOnQueue0(a1, a2);
    const ctl = new SteeringControl('p1', 2);
    ctl.run(`-N flow-type udp4 dst-port ${dport} action 1 loc 1`);
    sw = await startBetween(
      [
        { name: 'p1', type: 'afpacket', interface: s1 },
        { name: 'p2', type: 'afpacket', interface: s2 },
      ],
      logs,
      {},
      { steering: new Map([['p1', { module: workerUrl('flows/steerer').href, shared: ctl.shared }]]) },
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
      throw new Error(`${(e as Error).message}\nswitch log:\n${logs.join('\n')}\nstats: ${JSON.stringify(sw.stats())}`);
    }
  };

  it(
    'p1 is received on its device thread, p2 by the queue workers',
    withLogs(async () => {
      expect((await sw.portStatus('p1')).thread).toBe('device');
      expect((await sw.portStatus('p2')).thread).toBe('queue');
    }),
  );

  it(
    'ping answers, once each (no duplicates from the send-only sockets)',
    withLogs(() => {
      const out = ns.exec('h1', 'ping', ['-c', '5', '-i', '0.2', '-W', '3', a2]);
      expect(out).toMatch(/5 packets transmitted, 5 received, 0% packet loss/);
      expect(out).not.toMatch(/DUP!/);
    }),
  );

  it(
    'the datagrams the rule names all go through queue 1',
    withLogs(async () => {
      const before = sw.stats().queues.rx1_packets;
      ns.exec('h1', NODE, ['-e', SEND, a2, String(dport), String(DATAGRAMS)], 30_000);
      const deadline = Date.now() + 5000;
      while (sw.stats().ports.p2.tx_packets < DATAGRAMS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Every datagram was received on queue 1 (ARP or other traffic may add a few).
      expect(sw.stats().queues.rx1_packets - before).toBeGreaterThanOrEqual(DATAGRAMS);
      const p1 = sw.stats().ports.p1;
      expect(p1.rx_rps).toBe(p1.rx_packets - p1.rx_dropped);
    }),
  );

  it(
    'a 20 MB TCP transfer arrives with the SHA-256 it left with',
    withLogs(async () => {
      await tcpTransfer(ns, procs, 'h1', 'h2', a2, 5003, 20 << 20);
    }),
  );

  it('stops with every packet accounted for', async () => {
    await procs.stopAll();
    const summary = await sw.stop();
    sw = undefined as unknown as Switch;
    expect(checkAccounted(summary)).toEqual([]);
  });
});
