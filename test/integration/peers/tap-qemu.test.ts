/**
 * A real Linux guest (Debian's kernel and virtio_net driver under QEMU TCG) on a tap port,
 * and a namespace host on an afpacket port: they ping each other through the switch, and
 * the host sends the guest 8 MB over TCP whose SHA-256 the guest's busybox computes.
 *
 *   QEMU -netdev tap,ifname=<p>g ═ tap <p>g (guest: true) ─ switch ─ afpacket <p>s1 ══ veth ══ <p>-h1
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomInt } from 'node:crypto';
import type { Switch } from '../../../switch/switch.js';
import { buildGuest, MARK_LISTEN, MARK_OK, MARK_RECV, MARK_UP, type Guest } from '../../support/guest.js';
import { Netns, ip } from '../../support/netns.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { Procs } from '../../support/procs.js';
import { startGuest } from '../../support/qemu.js';
import { checkAccounted, startBetween } from '../../support/switch.js';
import { vethHost } from '../../support/veth.js';

const describePeer = describeNeeding(
  missing({ tools: ['qemu-system-x86_64', 'apt-get', 'apt-cache', 'dpkg-deb', 'cpio', 'gzip', 'ip', 'ethtool', 'sysctl'], root: true, netns: true }),
  'a QEMU guest on a tap port',
);
const NODE = process.execPath;
const BOOT_MS = 150_000;

/** argv: host port bytes. Connects (retrying while the guest starts listening), sends random bytes, prints their SHA-256. */
const CLIENT = `
const [host, port, total] = process.argv.slice(1);
const crypto = require('crypto');
const data = crypto.randomBytes(Number(total));
const deadline = Date.now() + 60000;
function attempt() {
  const c = require('net').connect(Number(port), host, () => c.end(data));
  c.on('error', (e) => { if (Date.now() < deadline) setTimeout(attempt, 300); else { console.log('failed ' + e.message); process.exit(1); } });
  c.on('close', (hadError) => { if (!hadError) console.log('sent ' + data.length + ' sha256 ' + crypto.createHash('sha256').update(data).digest('hex')); });
}
attempt();
`;

describePeer('a QEMU guest on a tap port and a namespace host on an afpacket port', () => {
  let guest: Guest;
  const ns = new Netns();
  const procs = new Procs();
  const logs: string[] = [];
  const net = randomInt(1, 255);
  const hostAddr = `10.95.${net}.1`;
  const guestAddr = `10.95.${net}.11`;
  const tap = `${ns.prefix}g`;
  const s1 = `${ns.prefix}s1`;
  let sw: Switch;

  beforeAll(async () => {
    guest = buildGuest();
    ns.add('h1');
    vethHost(ns, s1, 'h1', `${hostAddr}/24`);
    sw = await startBetween(
      [
        { name: 'vm', type: 'tap', ifname: tap, guest: true },
        { name: 'h1', type: 'afpacket', interface: s1 },
      ],
      logs,
    );
  }, 300_000);

  afterAll(async () => {
    await procs.stopAll();
    if (sw) await sw.stop().catch(() => {});
    ns.cleanup();
  });

  it('ping both ways and 8 MB over TCP into the guest, SHA-256 computed by the guest', async () => {
    const bytes = 8 << 20;
    const vm = startGuest(
      procs,
      guest,
      {
        netdev: `tap,ifname=${tap},script=no,downscript=no`,
        mac: '52:54:00:00:00:21',
        ip: `${guestAddr}/24`,
        peer: hostAddr,
        // No checksum or segmentation offload between guest and tap: the switch does no GSO yet.
        device: 'csum=off,guest_csum=off,gso=off,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off',
        recv: 5001,
      },
      30,
    );
    try {
      await vm.waitFor(new RegExp(MARK_UP), BOOT_MS);
      const ok = await vm.waitFor(new RegExp(`${MARK_OK} ([^\r\n]*)\r?\n`), 120_000);
      expect(ok[1]).toMatch(/time=[0-9.]+ ms/);
      await vm.waitFor(/3 packets transmitted, 3 packets received/, 30_000);
      expect(ns.exec('h1', 'ping', ['-c', '3', '-i', '0.2', '-W', '5', guestAddr])).toMatch(/3 received/);
      await vm.waitFor(new RegExp(MARK_LISTEN), 30_000);
      const out = ns.exec('h1', NODE, ['-e', CLIENT, guestAddr, '5001', String(bytes)], 180_000);
      const sent = /sent (\d+) sha256 ([0-9a-f]+)/.exec(out);
      expect(sent, out).not.toBeNull();
      const got = await vm.waitFor(new RegExp(`${MARK_RECV} +(\\d+) +([0-9a-f]{64})`), 60_000);
      expect(Number(got[1])).toBe(bytes);
      expect(got[2]).toBe(sent![2]);
      const s = sw.stats().ports;
      expect(s.vm.rx_oversize + s.h1.rx_oversize).toBe(0);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nguest console:\n${vm.output().slice(-3000)}\nswitch log:\n${logs.join('\n')}\nports: ${JSON.stringify(sw.stats().ports)}`);
    }
  }, 500_000);

  it('stops with every packet accounted for, and the tap is deleted', async () => {
    await procs.stopAll();
    const summary = await sw.stop();
    sw = undefined as unknown as Switch;
    expect(checkAccounted(summary)).toEqual([]);
    expect(() => ip('link', 'show', tap)).toThrow(/does not exist/);
  });
});
