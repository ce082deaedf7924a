/**
 * Tap ports with offloads (TUNSETOFFLOAD CSUM | TSO4 | TSO6) between namespace hosts: the
 * hosts' kernels send 64 KB TCP super-frames with partial checksums into their taps, as
 * they would to a VM's vhost-net, and take them back.
 *
 *   h1: tap (offloads) ═ switch (l2switch: takes super-frames whole) ═ tap (offloads) :h3
 *                                  ║
 *                       afpacket ══ veth ══ h2: eth0 (no offloads)
 *
 * The oracles: ethtool -k in h1 (the kernel turned TSO and checksum offload on for the tap),
 * SHA-256 of each TCP transfer computed at both ends in the hosts' own processes, h2's
 * kernel (it drops a segment with a bad checksum), and tshark validating the IPv4 and TCP
 * checksum of every packet captured on h2's eth0, all no larger than an MTU.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Switch } from '../../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../../switch/config-types.js';
import type { LogEvent } from '../../../switch/switch.js';
import { Netns, ip } from '../../support/netns.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { Procs } from '../../support/procs.js';
import { checkAccounted } from '../../support/switch.js';
import { tcpTransfer } from '../../support/transfer.js';
import { vethHost } from '../../support/veth.js';
import { execFileSync } from 'node:child_process';

const describePeer = describeNeeding(missing({ tools: ['ip', 'ethtool', 'sysctl', 'tshark'], root: true, netns: true }), 'namespace hosts on offloading tap ports');
const MB = 1 << 20;

/** argv: addr port total. Receives UDP datagrams until `total` bytes came (or 15 s of silence); prints count, bytes, SHA-256. */
const UDP_RECV = `
import hashlib, socket, sys
addr, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
s.bind((addr, port)); s.settimeout(15)
print('ready', flush=True)
h = hashlib.sha256(); n = 0; got = 0
try:
    while got < total:
        d = s.recv(65536); n += 1; got += len(d); h.update(d)
except socket.timeout:
    pass
print('udp received', n, got, h.hexdigest(), flush=True)
`;

/** argv: addr port sends size gso. UDP_SEGMENT sends: each send() one super-frame of \`size\` bytes cut by the NIC (the tap) into gso-byte datagrams. */
const UDP_GSO_SEND = `
import hashlib, socket, sys, time, random
addr, port, sends, size, gso = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, gso)  # UDP_SEGMENT
rnd = random.Random(14); h = hashlib.sha256()
for i in range(sends):
    d = bytes(rnd.getrandbits(8) for _ in range(size))
    s.sendto(d, (addr, port)); h.update(d)
    time.sleep(0.01)
print('udp sent', sends * size, h.hexdigest(), flush=True)
`;

describePeer('namespace hosts on tap ports with TSO and checksum offload', () => {
  const ns = new Netns();
  const procs = new Procs();
  const logs: string[] = [];
  const net = randomInt(1, 255);
  const a1 = `10.97.${net}.1`;
  const a2 = `10.97.${net}.2`;
  const a3 = `10.97.${net}.3`;
  const t1 = `${ns.prefix}t1`;
  const t3 = `${ns.prefix}t3`;
  const s2 = `${ns.prefix}s2`;
  let sw: Switch;
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'xs-tap-offload-'));
    ns.add('h1', 'h2', 'h3');
    vethHost(ns, s2, 'h2', `${a2}/24`);
    const config: SwitchConfig = {
      ...CONFIG_DEFAULTS,
      queues: 1,
      poolFrames: 8192,
      superFrames: 64,
      ports: [
        { name: 't1', type: 'tap', ifname: t1, netns: ns.name('h1'), offloads: true },
        { name: 'p2', type: 'afpacket', interface: s2 },
        { name: 't3', type: 'tap', ifname: t3, netns: ns.name('h3'), offloads: true },
      ],
      programs: [{ queues: [0], chain: [{ name: 'l2switch', params: {}, continueOn: [] }] }],
    };
    sw = await Switch.start(config);
    sw.on('log', (e: LogEvent) => logs.push(`${e.level}: ${e.message}`));
    ip('-n', ns.name('h1'), 'addr', 'add', `${a1}/24`, 'dev', t1);
    ip('-n', ns.name('h3'), 'addr', 'add', `${a3}/24`, 'dev', t3);
  }, 60_000);

  afterAll(async () => {
    await procs.stopAll();
    if (sw) await sw.stop().catch(() => {});
    ns.cleanup();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  const withLogs = (f: () => void | Promise<void>) => async () => {
    try {
      await f();
    } catch (e) {
      throw new Error(`${(e as Error).message}\nswitch log:\n${logs.join('\n')}\nports: ${JSON.stringify(sw.stats().ports)}`);
    }
  };

  it('the kernel turned TSO and checksum offload on for the taps (ethtool -k)', () => {
    for (const [h, t] of [['h1', t1], ['h3', t3]]) {
      const k = ns.exec(h, 'ethtool', ['-k', t]);
      expect(k, `${h} ${t}`).toMatch(/^tcp-segmentation-offload: on/m);
      expect(k, `${h} ${t}`).toMatch(/^tx-checksumming: on/m);
    }
  });

  it(
    'h1 → h2 (no offloads): super-frames from h1\'s kernel are cut for the afpacket port, every segment\'s checksums good (tshark); SHA-256 equal',
    withLogs(async () => {
      expect(ns.exec('h1', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', a2])).toMatch(/2 received/);
      const file = path.join(dir, 'h2.pcap');
      const cap = procs.start(...ns.argv('h2', 'tshark', ['-i', 'eth0', '-w', file, '-f', 'tcp port 5101']));
      await cap.waitFor(/Capturing on/, 20_000);
      const before = sw.stats().ports;
      await tcpTransfer(ns, procs, 'h1', 'h2', a2, 5101, 8 * MB);
      await new Promise((r) => setTimeout(r, 500));
      cap.child.kill('SIGINT');
      await cap.exited;
      const p = sw.stats().ports;
      const superFrames = p.t1.rx_gso_whole + p.t1.rx_gso_packets - before.t1.rx_gso_whole - before.t1.rx_gso_packets;
      console.log(`h1 → h2: ${superFrames} super-frames from h1's tap; p2 cut ${p.p2.tx_gso_packets - before.p2.tx_gso_packets} into ${p.p2.tx_gso_segments - before.p2.tx_gso_segments}, ${p.p2.tx_csum_sw - before.p2.tx_csum_sw} checksums completed`);
      expect(superFrames).toBeGreaterThan(0);
      expect(p.p2.tx_gso_segments - before.p2.tx_gso_segments).toBeGreaterThan(p.p2.tx_gso_packets - before.p2.tx_gso_packets);
      const rows = execFileSync('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', `ip.src == ${a1}`, '-T', 'fields', '-E', 'separator=|', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'frame.len'], { encoding: 'utf8', maxBuffer: 64 * MB })
        .trim()
        .split('\n')
        .map((l) => l.split('|'));
      expect(rows.length).toBeGreaterThan((8 * MB) / 1448);
      const bad = rows.filter(([ipc, tcpc, len]) => ipc !== '1' || tcpc !== '1' || Number(len) > 1514);
      expect(bad.slice(0, 5), `${bad.length} of ${rows.length} packets with a bad checksum or over an MTU`).toEqual([]);
    }),
    120_000,
  );

  it(
    'h1 → h2 UDP with UDP_SEGMENT (USO on the tap): the UDP super-frames are cut for the afpacket port, checksums good (tshark); SHA-256 equal',
    withLogs(async () => {
      const SENDS = 30;
      const SIZE = 14_000; // 10 datagrams of 1400 bytes each
      const file = path.join(dir, 'h2-udp.pcap');
      const cap = procs.start(...ns.argv('h2', 'tshark', ['-i', 'eth0', '-w', file, '-f', 'udp port 5201']));
      await cap.waitFor(/Capturing on/, 20_000);
      const rx = procs.start(...ns.argv('h2', 'python3', ['-c', UDP_RECV, a2, '5201', String(SENDS * SIZE)]));
      await rx.waitFor(/ready/, 10_000);
      const before = sw.stats().ports;
      const sent = /udp sent (\d+) ([0-9a-f]{64})/.exec(ns.exec('h1', 'python3', ['-c', UDP_GSO_SEND, a2, '5201', String(SENDS), String(SIZE), '1400'], 60_000));
      const got = await rx.waitFor(/udp received (\d+) (\d+) ([0-9a-f]{64})/, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      cap.child.kill('SIGINT');
      await cap.exited;
      expect(sent).not.toBeNull();
      expect(Number(got[1])).toBe((SENDS * SIZE) / 1400);
      expect(got[3]).toBe(sent![2]);
      const p = sw.stats().ports;
      const superFrames = p.t1.rx_gso_whole + p.t1.rx_gso_packets - before.t1.rx_gso_whole - before.t1.rx_gso_packets;
      console.log(`UDP: ${superFrames} super-frames from h1's tap, p2 cut ${p.p2.tx_gso_packets - before.p2.tx_gso_packets}`);
      expect(superFrames).toBe(SENDS);
      const rows = execFileSync('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-Y', `ip.src == ${a1}`, '-T', 'fields', '-E', 'separator=|', '-e', 'ip.checksum.status', '-e', 'udp.checksum.status', '-e', 'frame.len'], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((l) => l.split('|'));
      expect(rows.length).toBe((SENDS * SIZE) / 1400);
      const bad = rows.filter(([ipc, udpc, len]) => ipc !== '1' || udpc !== '1' || Number(len) > 1514);
      expect(bad.slice(0, 5), `${bad.length} of ${rows.length} datagrams with a bad checksum or over an MTU`).toEqual([]);
    }),
    120_000,
  );

  it(
    'h1 ↔ h3 (both offloads): super-frames cross whole, tap to tap, each way; SHA-256 equal',
    withLogs(async () => {
      expect(ns.exec('h1', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', a3])).toMatch(/2 received/);
      const before = sw.stats().ports;
      await tcpTransfer(ns, procs, 'h1', 'h3', a3, 5102, 16 * MB);
      await tcpTransfer(ns, procs, 'h3', 'h1', a1, 5103, 16 * MB);
      const p = sw.stats().ports;
      const d = (port: string, c: string) => p[port][c] - before[port][c];
      console.log(`t1 rx ${d('t1', 'rx_gso_whole')} whole, ${d('t1', 'rx_gso_packets')} cut; t3 tx ${d('t3', 'tx_packets')} frames, ${d('t3', 'tx_bytes')} bytes; t3 rx ${d('t3', 'rx_gso_whole')} whole`);
      expect(d('t1', 'rx_gso_whole')).toBeGreaterThan(0);
      expect(d('t3', 'rx_gso_whole')).toBeGreaterThan(0);
      // Frames far larger than an MTU went into the receiving taps: the kernel took them whole.
      expect(d('t3', 'tx_bytes') / d('t3', 'tx_packets')).toBeGreaterThan(1514);
      expect(d('t1', 'tx_bytes') / d('t1', 'tx_packets')).toBeGreaterThan(1514);
      expect(p.t1.tx_oversize + p.t3.tx_oversize + p.t1.tx_errors + p.t3.tx_errors + p.t1.rx_runt + p.t3.rx_runt).toBe(0);
    }),
    120_000,
  );

  it('stops with every packet accounted for', async () => {
    await procs.stopAll();
    const summary = await sw.stop();
    sw = undefined as unknown as Switch;
    expect(checkAccounted(summary)).toEqual([]);
  });
});
