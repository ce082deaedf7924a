/**
 * Two real Linux guests (Debian's cloud kernel, a busybox initramfs; QEMU with TCG) talk
 * through the switch: once with QEMU's `-netdev dgram` on udp ports, once with `-netdev
 * stream` on stream ports (one guest connecting over TCP, one listening on a UNIX socket
 * the switch connects to). Each guest's /init pings its peer until it answers, pings with
 * full-size frames (1472-byte ICMP payload: 1514-byte frames both ways), then one guest
 * sends the other TCP_BYTES random bytes with busybox nc; the SHA-256 each guest's own
 * sha256sum printed must match. Then they power off.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Switch } from '../../../switch/switch.js';
import { buildGuest, MARK_BIG, MARK_OK, MARK_TCP_RX, MARK_TCP_TX, MARK_UP, type Guest } from '../../support/guest.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { Procs } from '../../support/procs.js';
import { startGuest } from '../../support/qemu.js';
import { checkAccounted, startBetween } from '../../support/switch.js';

const describePeer = describeNeeding(
  missing({ tools: ['qemu-system-x86_64', 'apt-get', 'apt-cache', 'dpkg-deb', 'cpio', 'gzip'] }),
  'QEMU guests through the switch',
);

const BOOT_MS = 150_000; // two TCG guests on two cores: boot ≈ 5 s each, far more on a loaded CI host
/** A few MB: enough for thousands of full-size segments, short enough for TCG guests. */
const TCP_BYTES = 3 << 20;

async function freeUdpPorts(n: number): Promise<number[]> {
  const socks = await Promise.all(
    Array.from({ length: n }, () => new Promise<dgram.Socket>((r) => {
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => r(s));
    })),
  );
  const ports = socks.map((s) => s.address().port);
  await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

async function freeTcpPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const p = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return p;
}

describePeer('real QEMU guests through the switch', () => {
  let guest: Guest;
  const procs = new Procs();
  let sw: Switch | null = null;
  const logs: string[] = [];
  const dirs: string[] = [];

  beforeAll(() => {
    guest = buildGuest();
  }, 300_000);

  afterEach(async () => {
    await procs.stopAll();
    if (sw) await sw.stop().catch(() => {});
    sw = null;
    logs.length = 0;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function talkThrough(g1: string, g2: string): Promise<void> {
    const a = startGuest(procs, guest, { netdev: g1, mac: '52:54:00:00:00:11', ip: '192.0.2.11/24', peer: '192.0.2.12', tcp: 'client', bytes: TCP_BYTES });
    const b = startGuest(procs, guest, { netdev: g2, mac: '52:54:00:00:00:12', ip: '192.0.2.12/24', peer: '192.0.2.11', tcp: 'server' });
    try {
      await Promise.all([a.waitFor(new RegExp(MARK_UP), BOOT_MS), b.waitFor(new RegExp(MARK_UP), BOOT_MS)]);
      const [ma, mb] = await Promise.all([a.waitFor(new RegExp(`${MARK_OK} ([^\r\n]*)\r?\n`), 120_000), b.waitFor(new RegExp(`${MARK_OK} ([^\r\n]*)\r?\n`), 120_000)]);
      expect(ma[1]).toMatch(/time=[0-9.]+ ms/);
      expect(mb[1]).toMatch(/time=[0-9.]+ ms/);
      // The follow-up pings (3 each) all answered, small and full-size.
      await Promise.all([a.waitFor(/3 packets transmitted, 3 packets received/, 30_000), b.waitFor(/3 packets transmitted, 3 packets received/, 30_000)]);
      const big = new RegExp(`${MARK_BIG} (\\d+) packets received`);
      const [ba, bb] = await Promise.all([a.waitFor(big, 30_000), b.waitFor(big, 30_000)]);
      expect([ba[1], bb[1]]).toEqual(['3', '3']);
      // The TCP transfer: what the client's sha256sum saw going out, the server's coming in.
      const [tx, rx] = await Promise.all([a.waitFor(new RegExp(`${MARK_TCP_TX} (\\d+) ([0-9a-f]{64})`), 60_000), b.waitFor(new RegExp(`${MARK_TCP_RX} (\\d+) ([0-9a-f]{64})`), 240_000)]);
      expect(Number(tx[1])).toBe(TCP_BYTES);
      expect(Number(rx[1])).toBe(TCP_BYTES);
      expect(rx[2]).toBe(tx[2]);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nswitch log:\n${logs.join('\n')}\nstats: ${JSON.stringify(sw?.stats().ports)}`);
    }
  }

  function expectTraffic(names: string[]): void {
    const s = sw!.stats();
    for (const n of names) {
      const c = s.ports[n];
      // ARP both ways, echo requests and replies each way, and the transfer's segments.
      expect(c.rx_packets, `${n}.rx_packets`).toBeGreaterThanOrEqual(5);
      expect(c.tx_packets, `${n}.tx_packets`).toBeGreaterThanOrEqual(5);
      expect(c.rx_dropped, `${n}.rx_dropped`).toBe(0);
    }
    // The client's port read the data: at least the payload, in mostly full-size frames
    // (MSS-sized segments are 1514-byte frames; ACKs the other way are small).
    const client = s.ports[names[0]];
    expect(client.rx_bytes).toBeGreaterThan(TCP_BYTES);
    expect(client.rx_bytes / client.rx_packets).toBeGreaterThan(1400);
  }

  it('ping, full-size ping and a TCP transfer with SHA-256 over udp ports (QEMU -netdev dgram)', async () => {
    const [s1, g1, s2, g2] = await freeUdpPorts(4);
    sw = await startBetween(
      [
        { name: 'vm1', type: 'udp', local: `127.0.0.1:${s1}`, remote: `127.0.0.1:${g1}` },
        { name: 'vm2', type: 'udp', local: `127.0.0.1:${s2}` }, // learns its peer from the first datagram
      ],
      logs,
    );
    const dg = (local: number, remote: number) =>
      `dgram,local.type=inet,local.host=127.0.0.1,local.port=${local},remote.type=inet,remote.host=127.0.0.1,remote.port=${remote}`;
    await talkThrough(dg(g1, s1), dg(g2, s2));
    expectTraffic(['vm1', 'vm2']);
    expect((await sw.portStatus('vm2')).peer).toBe(`127.0.0.1:${g2}`);
    await procs.stopAll();
    const summary = await sw.stop();
    sw = null;
    expect(checkAccounted(summary)).toEqual([]);
  }, 400_000);

  it('ping, full-size ping and a TCP transfer with SHA-256 over stream ports (QEMU -netdev stream: the switch listens on TCP, and connects over UNIX to a QEMU that listens)', async () => {
    const tcp = await freeTcpPort();
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-qemu-'));
    dirs.push(dir);
    const sock = path.join(dir, 'vm2.sock');
    sw = await startBetween(
      [
        { name: 'vm1', type: 'stream', listen: `127.0.0.1:${tcp}` },
        // Started before QEMU listens: the port retries with backoff until it connects.
        { name: 'vm2', type: 'stream', connect: sock },
      ],
      logs,
    );
    await talkThrough(
      `stream,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=${tcp}`,
      `stream,server=on,addr.type=unix,addr.path=${sock}`,
    );
    expectTraffic(['vm1', 'vm2']);
    expect(sw.stats().ports.vm1.conn_accepted).toBe(1);
    expect(sw.stats().ports.vm2.conn_accepted).toBe(1);
    expect(sw.stats().ports.vm2.connect_failed).toBeGreaterThan(0);
    await procs.stopAll();
    const summary = await sw.stop();
    sw = null;
    expect(checkAccounted(summary)).toEqual([]);
  }, 400_000);
});
