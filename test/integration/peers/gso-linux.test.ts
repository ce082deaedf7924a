/**
 * Linux's TCP checks the segments the switch cuts from a guest's TSO super-frames: a JS
 * guest with TSO on sends a TCP-shaped stream (64 KB super-frames, partial checksums)
 * through the switch, out of a vxlan port (no offloads: each segment's checksum completed
 * by the switch) to a kernel VXLAN host in a network namespace. The kernel's own counters
 * are the oracle: every segment in Tcp InSegs, none in Tcp InCsumErrors or Ip InHdrErrors
 * (it answers each with a RST, having no socket: the RSTs are counted too).
 *
 *   guest (TSO) ─ virtio vm0 ─ switch ─ vxlan vx1 10.99.N.1:4789 ── veth ── ul: vx1 ─▶ h1: 10.9.0.2
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomInt } from 'node:crypto';
import type { Switch } from '../../../switch/switch.js';
import { startVm, type Vm } from '../../../guest/runner.js';
import { Netns, ip } from '../../support/netns.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { startBetween } from '../../support/switch.js';

const describePeer = describeNeeding(missing({ tools: ['ip', 'ethtool'], root: true, netns: true }), 'a Linux VXLAN host in a network namespace');

function snmp(ns: Netns, host: string): Record<string, number> {
  const text = ns.exec(host, 'cat', ['/proc/net/snmp']);
  const out: Record<string, number> = {};
  const lines = text.trim().split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i].split(/\s+/);
    const values = lines[i + 1].split(/\s+/);
    const proto = names[0].replace(':', '');
    for (let k = 1; k < names.length; k++) out[`${proto}.${names[k]}`] = Number(values[k]);
  }
  return out;
}

describePeer('TSO from a guest to a Linux host that takes no GSO', () => {
  const ns = new Netns();
  const logs: string[] = [];
  const net = randomInt(1, 255);
  const swAddr = `10.99.${net}.1`;
  const ulAddr = `10.99.${net}.2`;
  const veth = `${ns.prefix}g`;
  let sw: Switch;
  let vm: Vm | null = null;
  let mac = '';

  beforeAll(async () => {
    ns.add('ul', 'h1');
    ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'ul0', 'netns', ns.name('ul'));
    ip('addr', 'add', `${swAddr}/24`, 'dev', veth);
    ip('link', 'set', veth, 'up');
    ip('-n', ns.name('ul'), 'addr', 'add', `${ulAddr}/24`, 'dev', 'ul0');
    ip('-n', ns.name('ul'), 'link', 'set', 'ul0', 'up');
    ip('-n', ns.name('ul'), 'link', 'add', 'vx1', 'type', 'vxlan', 'id', '1', 'local', ulAddr, 'remote', swAddr, 'dstport', '4789', 'nolearning');
    ip('-n', ns.name('ul'), 'link', 'set', 'vx1', 'mtu', '1450', 'netns', ns.name('h1'));
    ip('-n', ns.name('h1'), 'addr', 'add', '10.9.0.2/24', 'dev', 'vx1');
    ip('-n', ns.name('h1'), 'link', 'set', 'vx1', 'up');
    mac = /link\/ether ([0-9a-f:]+)/.exec(ns.exec('h1', 'ip', ['link', 'show', 'vx1']))![1];
    sw = await startBetween(
      [
        { name: 'vm0', type: 'virtio', mac: '52:54:00:00:00:01' },
        { name: 'vx1', type: 'vxlan', local: `${swAddr}:4789`, remote: ulAddr, vni: 1 },
      ],
      logs,
      { queues: 1, programs: [{ queues: [0], chain: [{ name: 'l2switch', params: {}, continueOn: [] }] }] },
    );
  }, 60_000);

  afterAll(async () => {
    if (vm) await vm.stop().catch(() => {});
    if (sw) await sw.stop().catch(() => {});
    ns.cleanup();
  });

  it('every segment reaches the kernel TCP with good IPv4 and TCP checksums', async () => {
    const BYTES = 1398 * 600; // segments of 1398 bytes: IP 1438 ≤ the vxlan device's MTU 1450
    const before = snmp(ns, 'h1');
    vm = await startVm({
      program: 'examples/vm/tcp-stream',
      memoryBytes: 64 << 20,
      params: { role: 'send', bytes: BYTES, tso: true, mss: 1398, dstMac: mac, window: BYTES, rtoMs: 0 },
      driver: { offloads: true, txBufferBytes: 65548 },
      attach: (m) => sw.portControl('vm0', m),
      detach: () => sw.portControl('vm0', { op: 'detach' }),
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && snmp(ns, 'h1')['Tcp.InSegs'] - before['Tcp.InSegs'] < 600) await new Promise((r) => setTimeout(r, 100));
    const after = snmp(ns, 'h1');
    const ports = sw.stats().ports;
    const why = `\nswitch log:\n${logs.join('\n')}\nports: ${JSON.stringify(ports)}`;
    expect(ports.vm0.rx_gso_packets, why).toBeGreaterThan(0);
    expect(ports.vx1.tx_csum_sw, why).toBe(600);
    expect(after['Tcp.InSegs'] - before['Tcp.InSegs'], why).toBe(600);
    expect(after['Tcp.InCsumErrors'] - before['Tcp.InCsumErrors']).toBe(0);
    expect(after['Ip.InHdrErrors'] - before['Ip.InHdrErrors']).toBe(0);
    expect(after['Tcp.OutRsts'] - before['Tcp.OutRsts']).toBeGreaterThan(0);
  }, 60_000);
});
