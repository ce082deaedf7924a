/**
 * Software GSO against two oracles that share no code with it: a reference segmenter that
 * builds every segment from its description (frames.ts, Linux's skb_segment rules written
 * as object arithmetic), compared byte for byte; and tshark, which checks every segment's
 * IPv4, TCP and UDP checksums.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { GSO_E_HEADERS, GSO_E_SIZE, GSO_E_TYPE, GSO_E_UFO, GsoPlan, gsoErrorText, gsoPrepare, gsoSegmentLength, gsoWriteSegment } from '../../../lib/net/gso.js';
import {
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP,
  VIRTIO_NET_HDR_GSO_UDP_L4,
} from '../../../lib/net/vnet-hdr.js';
import { run, tempDir } from '../pcap/helpers.js';
import { ACK, CWR, ECE, FIN, PSH, build, bytes, headerLength, pcapFile, rng, type Desc } from './frames.js';
import { describeNeeding, missing } from '../../support/prereq.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

const v4 = { saddr: [10, 0, 0, 1], daddr: [10, 0, 0, 2] };
const v6 = { ipv6: true, saddr: [0x20, 1, 0xd, 0xb8, ...Array(11).fill(0), 1], daddr: [0x20, 1, 0xd, 0xb8, ...Array(11).fill(0), 2] };
const ts = [1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]; // NOP NOP timestamps

interface Case {
  name: string;
  d: Desc;
  type: number;
  mss: number;
}

const r = rng(14);
const cases: Case[] = [
  { name: 'TCPv4 64 KB, timestamps, PSH', d: { ...v4, sport: 40000, dport: 5201, seq: 1000, ack: 77, id: 300, flags: ACK | PSH, tcpOptions: ts, payload: bytes(65160, r) }, type: VIRTIO_NET_HDR_GSO_TCPV4, mss: 1448 },
  { name: 'TCPv4 CWR|ECE|PSH|FIN, odd tail, seq and id wrap', d: { ...v4, sport: 1, dport: 2, seq: 0xffffff00, id: 0xfffe, flags: ACK | CWR | ECE | PSH | FIN, payload: bytes(10001, r) }, type: VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, mss: 1000 },
  { name: 'TCPv4 IP options, two VLAN tags, exact multiple', d: { ...v4, vlan: [0x0064, 0x2005], ipOptions: [0x94, 4, 0, 0], sport: 7, dport: 8, seq: 5, id: 9, tos: 0xb8, payload: bytes(1460 * 6, r) }, type: VIRTIO_NET_HDR_GSO_TCPV4, mss: 1460 },
  { name: 'TCPv4 payload under one mss', d: { ...v4, sport: 7, dport: 8, seq: 5, flags: ACK | PSH, payload: bytes(333, r) }, type: VIRTIO_NET_HDR_GSO_TCPV4, mss: 1448 },
  { name: 'TCPv6 64 KB, flow label, hop limit', d: { ...v6, flowLabel: 0x12345, tos: 0x20, ttl: 3, sport: 443, dport: 50000, seq: 123456789, ack: 1, flags: ACK | PSH, tcpOptions: ts, payload: bytes(64000, r) }, type: VIRTIO_NET_HDR_GSO_TCPV6, mss: 1428 },
  { name: 'UDP_L4 over IPv4', d: { ...v4, udp: true, sport: 4433, dport: 4434, id: 40, payload: bytes(1472 * 20 + 17, r) }, type: VIRTIO_NET_HDR_GSO_UDP_L4, mss: 1472 },
  { name: 'UDP_L4 over IPv6', d: { ...v6, udp: true, sport: 4433, dport: 4434, payload: bytes(1200 * 9 + 1, r) }, type: VIRTIO_NET_HDR_GSO_UDP_L4, mss: 1200 },
];

/** Linux's rules, from the description: lengths by construction, id + i, seq + i·mss, CWR first, PSH/FIN last. */
function reference(c: Case): Uint8Array[] {
  const n = Math.max(1, Math.ceil(c.d.payload.length / c.mss));
  return Array.from({ length: n }, (_, i) => {
    let flags = c.d.flags ?? ACK;
    if (i > 0) flags &= ~CWR;
    if (i < n - 1) flags &= ~(PSH | FIN);
    return build({
      ...c.d,
      id: ((c.d.id ?? 0) + i) & 0xffff,
      seq: ((c.d.seq ?? 0) + i * c.mss) >>> 0,
      flags,
      payload: c.d.payload.subarray(i * c.mss, (i + 1) * c.mss),
    });
  });
}

/** Segments through the API under test: the super-frame at offset 256 of a frame area, segments after it. */
function segment(c: Case, sameBuffer: boolean): Uint8Array[] {
  const superFrame = build({ ...c.d, csumField: 0x1234 }); // a guest's partial checksum: GSO must not trust it
  const area = new Uint8Array(new SharedArrayBuffer(256 + 65536 + 200 * 2048));
  area.set(superFrame, 256);
  const out = sameBuffer ? area : new Uint8Array(200 * 2048);
  const base = sameBuffer ? 256 + 65536 : 0;
  const plan = new GsoPlan();
  const n = gsoPrepare(plan, area, 256, superFrame.length, c.type, c.mss);
  expect(n, gsoErrorText(n)).toBeGreaterThan(0);
  const segs: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const at = base + i * 2048 + 256;
    const len = gsoWriteSegment(plan, i, out, at);
    expect(len).toBe(gsoSegmentLength(plan, i));
    segs.push(out.slice(at, at + len));
  }
  return segs;
}

describe('software GSO (skb_segment)', () => {
  for (const c of cases) {
    it(`${c.name}: byte for byte as the reference segmenter, in one buffer and across two`, () => {
      const want = reference(c);
      for (const same of [true, false]) {
        const got = segment(c, same);
        expect(got.length).toBe(want.length);
        got.forEach((g, i) => expect(Buffer.from(g).equals(Buffer.from(want[i])), `${c.name} segment ${i}`).toBe(true));
      }
    });
  }

  it('refuses what it cannot segment, with a reason', () => {
    const plan = new GsoPlan();
    const tcp = build({ ...v4, sport: 1, dport: 2, payload: bytes(3000, r) });
    const udp = build({ ...v4, udp: true, sport: 1, dport: 2, payload: bytes(3000, r) });
    expect(gsoPrepare(plan, tcp, 0, tcp.length, VIRTIO_NET_HDR_GSO_TCPV6, 1000)).toBe(GSO_E_TYPE);
    expect(gsoPrepare(plan, tcp, 0, tcp.length, VIRTIO_NET_HDR_GSO_UDP_L4, 1000)).toBe(GSO_E_TYPE);
    expect(gsoPrepare(plan, udp, 0, udp.length, VIRTIO_NET_HDR_GSO_UDP, 1000)).toBe(GSO_E_UFO);
    expect(gsoPrepare(plan, tcp, 0, tcp.length, VIRTIO_NET_HDR_GSO_TCPV4, 0)).toBe(GSO_E_SIZE);
    expect(gsoPrepare(plan, tcp, 0, 40, VIRTIO_NET_HDR_GSO_TCPV4, 1000)).toBe(GSO_E_HEADERS);
    for (const e of [GSO_E_TYPE, GSO_E_UFO, GSO_E_SIZE, GSO_E_HEADERS]) expect(gsoErrorText(e)).toMatch(/gso|super-frame|UFO/);
  });

  it('writes segments without allocating', () => {
    const c = cases[0];
    const superFrame = build(c.d);
    const area = new Uint8Array(new SharedArrayBuffer(256 + 65536 + 64 * 2048));
    area.set(superFrame, 256);
    const plan = new GsoPlan();
    const once = () => {
      const n = gsoPrepare(plan, area, 256, superFrame.length, c.type, c.mss);
      for (let i = 0; i < n; i++) gsoWriteSegment(plan, i, area, 256 + 65536 + i * 2048 + 256);
    };
    for (let k = 0; k < 2000; k++) once(); // warm up: the optimising compiler settles
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const before = process.memoryUsage().heapUsed;
      for (let k = 0; k < 2000; k++) once();
      best = Math.min(best, process.memoryUsage().heapUsed - before);
    }
    // 2000 super-frames = 90 000 segments: even 16 bytes each would be 1.4 MB.
    expect(best).toBeLessThan(64 * 1024);
  });
});

describeNeeding(missing({ tools: ['tshark'] }), 'tests that need tshark (Debian packages tshark, tcpdump)')('tshark checks every segment', () => {
  it('IPv4 header, TCP and UDP checksums are all good, and seq/len chain', () => {
    const segs = cases.flatMap((c) => segment(c, true));
    const file = tmp.file('gso.pcap');
    writeFileSync(file, pcapFile(segs));
    const out = run('tshark', [
      '-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.relative_sequence_numbers:FALSE',
      '-T', 'fields', '-E', 'separator=|', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'udp.checksum.status', '-e', 'tcp.seq', '-e', 'tcp.len', '-e', 'udp.length', '-e', 'ip.len', '-e', 'ipv6.plen', '-e', '_ws.expert',
    ]);
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    expect(rows.length).toBe(segs.length);
    let k = 0;
    for (const c of cases) {
      const { l3 } = headerLength(c.d);
      const n = Math.max(1, Math.ceil(c.d.payload.length / c.mss));
      for (let i = 0; i < n; i++, k++) {
        const [ipSt, tcpSt, udpSt, seq, tcpLen, udpLen, ipLen, ip6Len] = rows[k];
        const pay = Math.min(c.mss, c.d.payload.length - i * c.mss);
        if (!c.d.ipv6) {
          expect(ipSt, `${c.name} #${i} ip checksum`).toBe('1');
          expect(Number(ipLen)).toBe(segs[k].length - l3);
        } else expect(Number(ip6Len)).toBe(segs[k].length - l3 - 40);
        if (c.d.udp) {
          expect(udpSt, `${c.name} #${i} udp checksum`).toBe('1');
          expect(Number(udpLen)).toBe(pay + 8);
        } else {
          expect(tcpSt, `${c.name} #${i} tcp checksum`).toBe('1');
          expect(Number(seq)).toBe(((c.d.seq ?? 0) + i * c.mss) >>> 0);
          expect(Number(tcpLen)).toBe(pay);
        }
      }
    }
  });
});
