import { describe, expect, it } from 'vitest';
import { DDOS_REASONS, limitsValue } from '../../../programs/builtin/ddos.js';
import { formatIPv4, formatIPv6, lpmKey, maskTo, parsePrefix } from '../../../programs/parse/addr.js';
import { XDP_DROP, XDP_PASS } from '../../../programs/verdicts.js';
import { testProgram } from '../harness.js';
import { arpFrame, udpFrame } from '../packets.js';
import { randBytes, randInt, rng } from '../rng.js';

const R = Object.fromEntries(DDOS_REASONS.map((n, i) => [n, i])) as Record<(typeof DDOS_REASONS)[number], number>;

function covered(list: { addr: Uint8Array; len: number }[], a: Uint8Array): boolean {
  return list.some((p) => p.addr.length === a.length && maskTo(a.slice(), p.len).every((b, i) => b === p.addr[i]));
}

describe('ddos', () => {
  it('drops exactly the sources inside 3000 blocklisted prefixes (IPv4 and IPv6), passes the rest', async () => {
    const r = rng(5);
    const prefixes: { addr: Uint8Array; len: number }[] = [];
    for (let i = 0; i < 2500; i++) {
      const len = 8 + randInt(r, 25);
      prefixes.push({ addr: maskTo(randBytes(r, 4), len), len });
    }
    for (let i = 0; i < 500; i++) {
      const len = 16 + randInt(r, 113);
      prefixes.push({ addr: maskTo(randBytes(r, 16), len), len });
    }
    const text = prefixes.map((p) => `${p.addr.length === 4 ? formatIPv4(p.addr) : formatIPv6(p.addr)}/${p.len}`);
    const t = await testProgram('ddos', { blocklist: text });
    let blocked = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const v6 = i % 4 === 0;
      let a = randBytes(r, v6 ? 16 : 4);
      if (i & 1) {
        // Inside (or next to) a listed prefix.
        const p = prefixes.filter((x) => x.addr.length === a.length)[randInt(r, v6 ? 500 : 2500)];
        a = a.map((b, k) => {
          const keep = Math.max(0, Math.min(8, p.len - 8 * k));
          const m = (0xff00 >> keep) & 0xff;
          return (p.addr[k] & m) | (b & ~m);
        });
      }
      const src = v6 ? formatIPv6(a) : formatIPv4(a);
      const want = covered(prefixes, a);
      if (want) blocked++;
      expect(t.run(udpFrame({ srcIp: src, dstIp: v6 ? '2001:db8::1' : '198.51.100.1' })), src).toBe(want ? XDP_DROP : XDP_PASS);
    }
    expect(blocked).toBeGreaterThan(n / 4);
    expect([t.stat(R.drop_blocklist), t.stat(R.pass)]).toEqual([blocked, n - blocked]);
  });

  it('rate limit: a source at 5× its rate passes rate × time + burst (within 1%), a conforming one passes all', async () => {
    const rate = 1000;
    const burst = 50;
    const t = await testProgram('ddos', { rate, burst });
    const hot = udpFrame({ srcIp: '203.0.113.1' });
    const calm = udpFrame({ srcIp: '203.0.113.2' });
    let hotPass = 0;
    let calmPass = 0;
    const seconds = 4;
    for (let i = 0; i < 5 * rate * seconds; i++) {
      t.clock.ns += 1e9 / (5 * rate);
      if (t.run(hot) === XDP_PASS) hotPass++;
      if (i % 10 === 0 && t.run(calm) === XDP_PASS) calmPass++; // 500 pps
    }
    const want = rate * seconds + burst;
    expect(Math.abs(hotPass - want) / want).toBeLessThan(0.01);
    expect(calmPass).toBe((5 * rate * seconds) / 10);
    expect(t.stat(R.drop_ratelimit)).toBe(5 * rate * seconds - hotPass);
  });

  it('limits and the blocklist change while traffic flows', async () => {
    const t = await testProgram('ddos', { rate: 0 });
    const f = udpFrame({ srcIp: '203.0.113.9' });
    for (let i = 0; i < 100; i++) expect(t.run(f)).toBe(XDP_PASS);
    // Rate 10/s, burst 5: a fresh source gets its burst, then one per 100 ms.
    t.maps.limits.update(Uint8Array.of(0, 0, 0, 0), limitsValue(10, 5));
    // The program re-reads its limits every 64 packets: let 64 from elsewhere go by.
    const other = udpFrame({ srcIp: '198.51.100.200' });
    for (let i = 0; i < 64; i++) t.run(other);
    let pass = 0;
    for (let i = 0; i < 150; i++) {
      t.clock.ns += 1e6;
      if (t.run(f) === XDP_PASS) pass++;
    }
    expect(pass).toBe(5 + 1); // 5 from the bucket, 1 refilled over the next 149 ms
    t.maps.blocklist_v4.update(lpmKey(parsePrefix('203.0.113.0/24')), Uint8Array.of(1, 0, 0, 0));
    expect(t.run(f)).toBe(XDP_DROP);
    expect(t.stat(R.drop_blocklist)).toBe(1);
    t.maps.blocklist_v4.delete(lpmKey(parsePrefix('203.0.113.0/24')));
    t.clock.ns += 1e9;
    expect(t.run(f)).toBe(XDP_PASS);
  });

  it('counters add up: every packet under exactly one reason', async () => {
    const t = await testProgram('ddos', { blocklist: ['10.0.0.0/8'], rate: 100, burst: 10 });
    const frames = [udpFrame({ srcIp: '10.1.1.1' }), udpFrame({ srcIp: '192.0.2.7' }), arpFrame(), udpFrame().subarray(0, 20), udpFrame({ srcIp: '2001:db8::7', dstIp: '2001:db8::1' })];
    const r = rng(9);
    const n = 5000;
    for (let i = 0; i < n; i++) t.run(frames[randInt(r, frames.length)]);
    const sum = DDOS_REASONS.reduce((s, _, i) => s + t.stat(i), 0);
    expect(sum).toBe(n);
    for (const reason of DDOS_REASONS) expect(t.stat(R[reason]), reason).toBeGreaterThan(0);
  });
});
