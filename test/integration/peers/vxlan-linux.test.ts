/**
 * Linux's own VXLAN through the switch: two network namespaces whose kernels own vxlan
 * devices (VNI 1 and VNI 2) exchange ping and UDP through the switch's two vxlan ports,
 * ARP resolved across the switch. Layout (PEERS.md), with the switch in the test's own
 * namespace at the far end of a veth:
 *
 *   this process                   <p>-ul (underlay)                  <p>-h1 / <p>-h2
 *   switch: vx1 (VNI 1), vx2 (VNI 2)   ul0 10.99.N.2 ── vxlan devices ──▶ vx1 192.0.2.1 / vx2 192.0.2.2
 *   10.99.N.1:4789 ◀── veth ──────▶   (created here, moved to the hosts: their sockets stay here)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomInt } from 'node:crypto';
import type { Switch } from '../../../switch/switch.js';
import { Netns, ip } from '../../support/netns.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { Procs } from '../../support/procs.js';
import { checkAccounted, startBetween } from '../../support/switch.js';
import { until } from '../../support/fake-io.js';

const describePeer = describeNeeding(missing({ tools: ['ip', 'ping', 'ethtool', 'tcpdump'], root: true, netns: true }), 'Linux vxlan peers in network namespaces');

const NODE = process.execPath;

// Each path in turn: recvmmsg/sendmmsg straight into pool frames — received by the queue
// workers themselves (the default) or by the device thread, sent by the device thread or by
// the queue worker itself — and node:dgram.
const PATHS = [
  { io: 'mmsg', receive: 'queues', transmit: 'queues' },
  { io: 'mmsg', receive: 'queues', transmit: 'device' },
  { io: 'mmsg', receive: 'device', transmit: 'device' },
  { io: 'mmsg', receive: 'device', transmit: 'queues' },
  { io: 'dgram', receive: 'device', transmit: 'device' },
];

describePeer.each(PATHS)('Linux vxlan hosts through the switch (io: $io, receive: $receive, transmit: $transmit)', ({ io, receive, transmit }) => {
  const ns = new Netns();
  const procs = new Procs();
  const logs: string[] = [];
  const net = randomInt(1, 255);
  const swAddr = `10.99.${net}.1`;
  const ulAddr = `10.99.${net}.2`;
  const veth = `${ns.prefix}s`;
  let sw: Switch;

  beforeAll(async () => {
    ns.add('ul', 'h1', 'h2');
    ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'ul0', 'netns', ns.name('ul'));
    ip('addr', 'add', `${swAddr}/24`, 'dev', veth);
    ip('link', 'set', veth, 'up');
    ip('-n', ns.name('ul'), 'addr', 'add', `${ulAddr}/24`, 'dev', 'ul0');
    ip('-n', ns.name('ul'), 'link', 'set', 'ul0', 'up');
    for (const i of [1, 2]) {
      const h = `h${i}`;
      ip('-n', ns.name('ul'), 'link', 'add', `vx${i}`, 'type', 'vxlan', 'id', String(i), 'local', ulAddr, 'remote', swAddr, 'dstport', '4789', 'nolearning');
      ip('-n', ns.name('ul'), 'link', 'set', `vx${i}`, 'mtu', '1450', 'netns', ns.name(h));
      ip('-n', ns.name(h), 'addr', 'add', `192.0.2.${i}/24`, 'dev', `vx${i}`);
      ip('-n', ns.name(h), 'link', 'set', `vx${i}`, 'up');
      // Inner checksums are left to an offload that never happens once frames leave the kernel.
      ns.exec(h, 'ethtool', ['-K', `vx${i}`, 'tx', 'off']);
    }
    sw = await startBetween(
      [
        { name: 'vx1', type: 'vxlan', local: `${swAddr}:4789`, remote: ulAddr, vni: 1, io, receive, transmit },
        { name: 'vx2', type: 'vxlan', local: `${swAddr}:4789`, remote: ulAddr, vni: 2, io, receive, transmit },
      ],
      logs,
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

  it('the two VNI ports share one socket, on the io path asked for', async () => {
    const roles = [(await sw.portStatus('vx1')).role, (await sw.portStatus('vx2')).role].sort();
    // On the queue workers, each worker's socket serves both VNIs (net/vxlan-queue.ts).
    expect(roles).toEqual(receive === 'queues' ? ['queues', 'queues'] : ['member', 'owner']);
    for (const p of ['vx1', 'vx2']) expect(sw.receivesOnQueues(p)).toBe(receive === 'queues');
    for (const p of ['vx1', 'vx2']) expect((await sw.portStatus(p)).io).toBe(io === 'mmsg' ? 'recvmmsg/sendmmsg' : 'node:dgram');
  });

  it(
    'ping between the hosts, with ARP resolved across the switch',
    withLogs(() => {
      const out = ns.exec('h1', 'ping', ['-c', '5', '-i', '0.2', '-W', '3', '192.0.2.2']);
      expect(out).toMatch(/5 packets transmitted, 5 received, 0% packet loss/);
      const mac2 = JSON.parse(ip('-j', '-n', ns.name('h2'), 'link', 'show', 'vx2'))[0].address as string;
      const neigh = ip('-n', ns.name('h1'), 'neigh', 'show', '192.0.2.2', 'dev', 'vx1');
      expect(neigh).toContain(`lladdr ${mac2}`);
      const s = sw.stats().ports;
      for (const p of ['vx1', 'vx2']) {
        expect(s[p].rx_packets, `${p}.rx_packets`).toBeGreaterThanOrEqual(6); // ARP + 5 echoes
        expect(s[p].tx_packets, `${p}.tx_packets`).toBeGreaterThanOrEqual(6);
      }
    }),
  );

  it(
    'sends from the thread the configuration names (the source ports tcpdump sees on the underlay)',
    withLogs(async () => {
      // The owner's device thread sends from the shared socket (4789); queue workers and a
      // member's device thread from sockets of their own (ephemeral ports).
      const dump = procs.start(...ns.argv('ul', 'tcpdump', ['-i', 'ul0', '-nn', '-l', '-c', '8', 'udp', 'and', 'src', 'host', swAddr, 'and', 'dst', 'port', '4789']));
      await dump.waitFor(/listening on/, 10_000);
      ns.exec('h1', 'ping', ['-c', '4', '-i', '0.2', '-W', '3', '192.0.2.2']);
      await dump.waitFor(/8 packets captured/, 10_000);
      await dump.exited; // its stdout, the packet lines, may come after the count on stderr
      const from = [...dump.output().matchAll(/IP [\d.]+\.(\d+) > [\d.]+\.4789: VXLAN/g)].map((m) => Number(m[1]));
      expect(from.length, dump.output()).toBe(8);
      // The device thread sends from 4789 only when it owns the receiving socket.
      if (transmit === 'queues' || receive === 'queues') expect(from).not.toContain(4789);
      else expect(from).toContain(4789);
    }),
  );

  it(
    'UDP datagrams from one host reach a socket on the other, every one, intact',
    withLogs(async () => {
      const n = 300;
      const listener = procs.start(...ns.argv('h2', NODE, ['-e', LISTENER, '192.0.2.2', '5000', String(n)]));
      await listener.waitFor(/ready/, 10_000);
      ns.exec('h1', NODE, ['-e', SENDER, '192.0.2.2', '5000', String(n)]);
      const m = await listener.waitFor(/got (\d+) bad (\d+)/, 15_000);
      expect(Number(m[1])).toBe(n);
      expect(Number(m[2])).toBe(0);
    }),
  );

  it(
    'a TCP transfer between the hosts arrives complete (inner checksums intact, MTU respected)',
    withLogs(async () => {
      const bytes = 20 << 20;
      const server = procs.start(...ns.argv('h2', NODE, ['-e', TCP_SERVER, '192.0.2.2', '5001']));
      await server.waitFor(/ready/, 10_000);
      const out = ns.exec('h1', NODE, ['-e', TCP_CLIENT, '192.0.2.2', '5001', String(bytes)], 60_000);
      const m = await server.waitFor(/received (\d+) sha256 ([0-9a-f]+)/, 30_000);
      expect(Number(m[1])).toBe(bytes);
      expect(out.trim()).toBe(`sent ${bytes} sha256 ${m[2]}`);
      expect(sw.stats().ports.vx1.rx_oversize + sw.stats().ports.vx2.rx_oversize).toBe(0);
    }),
  );

  it(
    'counts malformed VXLAN datagrams by kind and keeps forwarding',
    withLogs(async () => {
      const before = sw.stats().ports;
      ns.exec('ul', NODE, ['-e', GARBAGE, swAddr]);
      const sum = (s: typeof before, k: string) => s.vx1[k] + s.vx2[k];
      const deadline = Date.now() + 5000;
      while (sum(sw.stats().ports, 'rx_vxlan_unknown_vni') - sum(before, 'rx_vxlan_unknown_vni') < 1 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const after = sw.stats().ports;
      expect(sum(after, 'rx_vxlan_short') - sum(before, 'rx_vxlan_short')).toBe(1);
      expect(sum(after, 'rx_vxlan_bad_flags') - sum(before, 'rx_vxlan_bad_flags')).toBe(1);
      expect(sum(after, 'rx_vxlan_unknown_vni') - sum(before, 'rx_vxlan_unknown_vni')).toBe(1);
      expect(sum(after, 'rx_runt') - sum(before, 'rx_runt')).toBe(1);
      await until(() => sum(sw.stats().ports, 'rx_oversize') - sum(before, 'rx_oversize') === 1, 'the over-long datagram counted rx_oversize');
      expect(ns.exec('h2', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '192.0.2.1'])).toMatch(/2 received/);
    }),
  );

  it('stops with every packet accounted for', async () => {
    await procs.stopAll();
    const summary = await sw.stop();
    sw = undefined as unknown as Switch;
    expect(checkAccounted(summary)).toEqual([]);
  });
});

/**
 * Datagram i: "xswitch <i> " then bytes (i·31 + k·7) mod 256, 200 bytes in all. Sender and
 * listener each build it from i, so the listener compares every byte it received.
 */
const DATAGRAM = `
function datagram(i) {
  const b = Buffer.alloc(200);
  for (let k = 0; k < 200; k++) b[k] = (i * 31 + k * 7) & 255;
  b.write('xswitch ' + i + ' ', 'latin1');
  return b;
}
`;

/** argv: host port count. Counts datagrams equal byte for byte to datagram(i), each i once. */
const LISTENER = DATAGRAM + `
const [host, port, n] = process.argv.slice(1);
// A receive buffer for every datagram: the test is about the switch's losses, not this listener's.
const s = require('dgram').createSocket({ type: 'udp4', recvBufferSize: 1 << 22 });
const seen = new Set();
let got = 0, bad = 0;
s.on('message', (m) => {
  const i = Number(/^xswitch (\\d+) /.exec(m.toString('latin1', 0, 20))?.[1] ?? -1);
  if (i >= 0 && i < Number(n) && !seen.has(i) && m.equals(datagram(i))) { seen.add(i); got++; } else bad++;
  if (got + bad >= Number(n)) { console.log('got ' + got + ' bad ' + bad); process.exit(0); }
});
s.bind(Number(port), host, () => console.log('ready'));
setTimeout(() => { console.log('got ' + got + ' bad ' + bad); process.exit(0); }, 12000);
`;

/** argv: host port count. Sends datagram(0…count−1) in paced bursts of 20 so no socket buffer overflows. */
const SENDER = DATAGRAM + `
const [host, port, n] = process.argv.slice(1);
const s = require('dgram').createSocket('udp4');
let i = 0;
function burst() {
  // 10 every 5 ms: UDP has no flow control, and on a loaded machine a receiver that gets no
  // CPU for tens of ms overflows its socket buffer (the node:dgram path cannot force a bigger one).
  for (let k = 0; k < 10 && i < Number(n); k++, i++) s.send(datagram(i), Number(port), host);
  if (i < Number(n)) setTimeout(burst, 5); else setTimeout(() => s.close(), 50);
}
burst();
`;

/** argv: host port. Accepts one connection, prints how much arrived and its SHA-256. */
const TCP_SERVER = `
const [host, port] = process.argv.slice(1);
const h = require('crypto').createHash('sha256');
let n = 0;
const srv = require('net').createServer((c) => {
  c.on('data', (d) => { n += d.length; h.update(d); });
  c.on('end', () => { console.log('received ' + n + ' sha256 ' + h.digest('hex')); srv.close(); });
});
srv.listen(Number(port), host, () => console.log('ready'));
`;

/** argv: host port bytes. Sends pseudo-random bytes, prints their SHA-256. */
const TCP_CLIENT = `
const [host, port, total] = process.argv.slice(1);
const crypto = require('crypto');
const data = crypto.randomBytes(Number(total));
const c = require('net').connect(Number(port), host, () => c.end(data));
c.on('close', () => console.log('sent ' + data.length + ' sha256 ' + crypto.createHash('sha256').update(data).digest('hex')));
`;

/** argv: switch address. One datagram of each malformed kind to 4789. */
const GARBAGE = `
const host = process.argv[1];
const s = require('dgram').createSocket('udp4');
const hdr = (flags, vni) => Buffer.from([flags, 0, 0, 0, vni >> 16, (vni >> 8) & 255, vni & 255, 0]);
const frame = Buffer.alloc(60, 0xab);
const msgs = [
  Buffer.from([8, 0, 0]),                       // shorter than a VXLAN header
  Buffer.concat([hdr(0x00, 1), frame]),         // I flag clear
  Buffer.concat([hdr(0x08, 77), frame]),        // a VNI no port has
  Buffer.concat([hdr(0x08, 2), Buffer.alloc(6)]), // inner frame shorter than an Ethernet header
  Buffer.concat([hdr(0x08, 2), Buffer.alloc(4000, 0xcd)]), // longer than a frame (recvmmsg: truncated)
];
let left = msgs.length;
for (const m of msgs) s.send(m, 4789, host, () => { if (--left === 0) s.close(); });
`;
