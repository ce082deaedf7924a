/**
 * A tap port whose kernel side is moved into a namespace (the switch holds the descriptor,
 * with a virtio_net_hdr on every packet) and an afpacket port to a second namespace over a
 * veth: the two hosts' kernels ping and move 20 MB over TCP with the SHA-256 compared.
 * The tap is gone once the switch stops.
 *
 *   <p>-h1: tap <p>t (10.96.N.1) ═ tap fd ═ switch ═ afpacket ═ <p>s2 ══ veth ══ <p>-h2: eth0 (10.96.N.2)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomInt } from 'node:crypto';
import type { Switch } from '../../../switch/switch.js';
import { Netns, ip } from '../../support/netns.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { Procs } from '../../support/procs.js';
import { checkAccounted, startBetween } from '../../support/switch.js';
import { tcpTransfer } from '../../support/transfer.js';
import { vethHost } from '../../support/veth.js';

const describePeer = describeNeeding(missing({ tools: ['ip', 'ping', 'ethtool', 'sysctl'], root: true, netns: true }), 'a namespace host on a tap port');

describePeer('a namespace on a tap port and one on an afpacket port', () => {
  const ns = new Netns();
  const procs = new Procs();
  const logs: string[] = [];
  const net = randomInt(1, 255);
  const a1 = `10.96.${net}.1`;
  const a2 = `10.96.${net}.2`;
  const tap = `${ns.prefix}t`;
  const s2 = `${ns.prefix}s2`;
  let sw: Switch;

  beforeAll(async () => {
    ns.add('h1', 'h2');
    vethHost(ns, s2, 'h2', `${a2}/24`);
    sw = await startBetween(
      [
        { name: 't1', type: 'tap', ifname: tap, netns: ns.name('h1') },
        { name: 'p2', type: 'afpacket', interface: s2 },
      ],
      logs,
    );
    ip('-n', ns.name('h1'), 'addr', 'add', `${a1}/24`, 'dev', tap);
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

  it('the switch created the tap, in the namespace, up', () => {
    const link = JSON.parse(ip('-j', '-d', '-n', ns.name('h1'), 'link', 'show', tap))[0];
    expect(link.linkinfo.info_kind).toBe('tun');
    expect(link.linkinfo.info_data.type).toBe('tap');
    expect(link.linkinfo.info_data.vnet_hdr).toBe(true);
    expect(link.flags).toContain('UP');
  });

  it(
    'ping both ways, ARP resolved across the switch',
    withLogs(() => {
      expect(ns.exec('h1', 'ping', ['-c', '3', '-i', '0.2', '-W', '3', a2])).toMatch(/3 received/);
      expect(ns.exec('h2', 'ping', ['-c', '3', '-i', '0.2', '-W', '3', a1])).toMatch(/3 received/);
    }),
  );

  it(
    'a 20 MB TCP transfer each way arrives with the SHA-256 it left with',
    withLogs(async () => {
      await tcpTransfer(ns, procs, 'h1', 'h2', a2, 5001, 20 << 20);
      await tcpTransfer(ns, procs, 'h2', 'h1', a1, 5002, 20 << 20);
      const s = sw.stats().ports;
      expect(s.t1.rx_gso + s.t1.rx_runt + s.t1.tx_errors).toBe(0);
    }),
  );

  it('stops with every packet accounted for, and the tap is gone', async () => {
    await procs.stopAll();
    const summary = await sw.stop();
    sw = undefined as unknown as Switch;
    expect(checkAccounted(summary)).toEqual([]);
    expect(() => ip('-n', ns.name('h1'), 'link', 'show', tap)).toThrow(/does not exist/);
  });
});
