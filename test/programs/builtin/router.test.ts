import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REDIRECT_PORT } from '../../../programs/context.js';
import { ROUTER_REASONS, routeValue } from '../../../programs/builtin/router.js';
import { lpmKey, parseMac, parsePrefix } from '../../../programs/parse/addr.js';
import { XDP_DROP, XDP_PASS, XDP_REDIRECT } from '../../../programs/verdicts.js';
import { createWriter } from '../../../lib/pcap/writer.js';
import { testProgram } from '../harness.js';
import { arpFrame, inetChecksum, udpFrame } from '../packets.js';
import { randInt, rng } from '../rng.js';
import { itNeeding, missing } from '../../support/prereq.js';

const R = Object.fromEntries(ROUTER_REASONS.map((n, i) => [n, i])) as Record<(typeof ROUTER_REASONS)[number], number>;

// Outside CI a missing tshark skips (and says so) the check that needs it; under CI it fails.
const itTshark = itNeeding(missing({ tools: ['tshark'] }), 'router: the Wireshark checksum validation');
/** Forwarded packets the first test keeps for tshark to check. */
const sample: Uint8Array[] = [];

const params = {
  routes: ['10.0.0.0/8 via 02:00:00:00:0a:0a dev p2', '10.1.0.0/16 via 02:00:00:00:0b:0b dev p3', '2001:db8::/32 via 02:00:00:00:0c:0c dev p4'],
  addresses: ['192.0.2.254', '2001:db8::fe'],
  mac: '02:00:00:00:00:fe',
};

describe('router', () => {
  it('forwards with TTL − 1, a correct checksum (full recomputation) and rewritten MACs', async () => {
    const t = await testProgram('router', params);
    const r = rng(3);
    let forwarded = 0;
    const out: Uint8Array[] = [];
    for (let i = 0; i < 5000; i++) {
      const ttl = 2 + randInt(r, 254);
      const f = udpFrame({ srcIp: '192.0.2.1', dstIp: `10.${randInt(r, 3)}.${randInt(r, 256)}.${randInt(r, 256)}`, ttl, payload: randInt(r, 100) });
      // Vary the other header words so the checksum takes many values.
      f[15] = randInt(r, 256);
      f[18] = randInt(r, 256);
      f[19] = randInt(r, 256);
      f.set([0, 0], 24);
      const ck = inetChecksum(f, 14, 34);
      f[24] = ck >> 8;
      f[25] = ck & 0xff;
      expect(t.run(f)).toBe(XDP_REDIRECT);
      const p = t.slot.bytes();
      expect(t.slot.ctx.redirectKind).toBe(REDIRECT_PORT);
      expect(t.slot.ctx.redirectIndex).toBe(f[31] === 1 ? 2 : 1);
      expect(p[22]).toBe(ttl - 1);
      expect(inetChecksum(p, 14, 34), `packet ${i}`).toBe(0); // a valid header sums to 0xffff
      expect([...p.subarray(0, 6)]).toEqual([...parseMac(f[31] === 1 ? '02:00:00:00:0b:0b' : '02:00:00:00:0a:0a')]);
      expect([...p.subarray(6, 12)]).toEqual([...parseMac('02:00:00:00:00:fe')]);
      expect([...p.subarray(34)]).toEqual([...f.subarray(34)]);
      forwarded++;
      if (i < 200) out.push(p);
    }
    expect(t.stat(R.forward)).toBe(forwarded);
    sample.push(...out);
  });

  itTshark('tshark finds every forwarded IPv4 checksum good and the TTL as written', () => {
    const out = sample;
    expect(out.length).toBe(200);
    const dir = mkdtempSync(path.join(tmpdir(), 'router-'));
    try {
      const file = path.join(dir, 'fwd.pcap');
      const w = createWriter(file, { format: 'pcap' });
      for (const p of out) w.write(p, 0, p.length, 1700000000, 0);
      w.close();
      const fields = execFileSync('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-e', 'ip.ttl', '-e', 'ip.checksum.status'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const rows = fields.trim().split('\n').map((l) => l.split('\t'));
      expect(rows.length).toBe(out.length);
      // ip.checksum.status: 1 = Good (0 Bad, 2 Unverified).
      for (const [i, [ttl, status]] of rows.entries()) {
        expect(status, `packet ${i + 1}`).toBe('1');
        expect(Number(ttl)).toBe(out[i][22]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('IPv6: hop limit − 1, longest prefix, local addresses pass', async () => {
    const t = await testProgram('router', params);
    const f = udpFrame({ srcIp: '2001:db8:1::1', dstIp: '2001:db8:2::2', ttl: 9 });
    expect(t.run(f)).toBe(XDP_REDIRECT);
    expect(t.slot.ctx.redirectIndex).toBe(3);
    expect(t.slot.bytes()[21]).toBe(8);
    expect(t.run(udpFrame({ srcIp: '2001:db8:1::1', dstIp: '2001:db8::fe' }))).toBe(XDP_PASS);
    expect(t.run(udpFrame({ srcIp: '2001:db8:1::1', dstIp: '2001:db9::1' }))).toBe(XDP_DROP);
  });

  it('drops expired TTL and unrouted packets, passes local and non-IP, and counts each once', async () => {
    const t = await testProgram('router', params);
    const cases: [Uint8Array, number][] = [
      [udpFrame({ dstIp: '10.1.2.3', ttl: 1 }), XDP_DROP],
      [udpFrame({ dstIp: '10.1.2.3', ttl: 0 }), XDP_DROP],
      [udpFrame({ dstIp: '172.16.0.1' }), XDP_DROP],
      [udpFrame({ dstIp: '192.0.2.254', ttl: 1 }), XDP_PASS],
      [arpFrame(), XDP_PASS],
      [udpFrame({ dstIp: '10.1.2.3' }).subarray(0, 30), XDP_DROP], // truncated IPv4 header
      [udpFrame({ dstIp: '10.1.2.3', vlan: 7 }), XDP_REDIRECT],
    ];
    for (const [f, v] of cases) expect(t.run(f)).toBe(v);
    expect([R.drop_ttl_expired, R.drop_no_route, R.pass_local, R.pass_not_ip, R.drop_malformed, R.forward].map((i) => t.stat(i))).toEqual([2, 1, 1, 1, 1, 1]);
    const total = ROUTER_REASONS.reduce((s, _, i) => s + t.stat(i), 0);
    expect(total).toBe(cases.length);
  });

  it('routes change while it runs: a more specific route wins at once, a deleted one falls back', async () => {
    const t = await testProgram('router', params);
    const f = udpFrame({ dstIp: '10.1.5.5' });
    t.run(f);
    expect(t.slot.ctx.redirectIndex).toBe(2);
    const key = lpmKey(parsePrefix('10.1.5.0/24'));
    t.maps.routes_v4.update(key, routeValue(1, parseMac('02:00:00:00:01:01')));
    t.run(f);
    expect(t.slot.ctx.redirectIndex).toBe(0);
    t.maps.routes_v4.delete(key);
    t.maps.routes_v4.delete(lpmKey(parsePrefix('10.1.0.0/16')));
    t.run(f);
    expect(t.slot.ctx.redirectIndex).toBe(1);
  });

  it('rejects bad routes with the route quoted', async () => {
    await expect(testProgram('router', { routes: ['10.0.0.0/8 dev p2'] })).rejects.toThrow(/route '10.0.0.0\/8 dev p2'/);
    await expect(testProgram('router', { routes: ['10.0.0.0/8 via 02:00:00:00:00:01 dev nosuch'] })).rejects.toThrow(/no port named 'nosuch'/);
  });
});
