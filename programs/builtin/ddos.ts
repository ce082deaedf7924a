/**
 * ddos — drop by source prefix, rate-limit every other source (the XDP paper's use case #1).
 *
 * Per packet: Ethernet (VLAN tags skipped) → IPv4/IPv6 header; a source inside a
 * blocklisted prefix is dropped; otherwise the source's token bucket (`rate` packets/s,
 * depth `burst`) pays one token or the packet is dropped. Everything else passes, so a
 * forwarding program can follow in the chain. Non-IP frames (ARP, LLDP) pass untouched.
 *
 * Parameters:
 *   blocklist    prefixes to drop, IPv4 and IPv6 (`198.51.100.0/24`, `2001:db8::/32`)
 *   rate         packets per second each source may send (0: no rate limit)
 *   burst        bucket depth in packets (0: one second's worth, at least 1)
 *   maxPrefixes  capacity of each blocklist trie (16384)
 *   maxSources   sources tracked at once (65536); the least recently seen are forgotten
 *
 * Maps (all changeable while traffic flows, e.g. `xswitch map update`):
 *   blocklist_v4  lpm_trie  key {prefixlen, 4 bytes}   value u32 (any; presence blocks)
 *   blocklist_v6  lpm_trie  key {prefixlen, 16 bytes}  value u32
 *   limits        array[1]  value { rate f64, burst f64 }  — re-read every 64 packets
 *   sources       lru_hash  key: source as IPv6 (IPv4 mapped ::ffff:a.b.c.d)
 *                           value { tokens f64, last refill ms f64 (ktime, 32-bit wrapping) }
 *   stats         percpu_array, u64 packets by reason (DDOS_REASONS): every packet the
 *                 program sees is counted under exactly one reason
 *   ktime         the clock (programs/parse/ktime.ts)
 */
import { ArrayMap, HashMap, LpmTrie } from '../maps/index.js';
import { lpmKey, parsePrefix } from '../parse/addr.js';
import { Cursor, ETH_P_IP, ETH_P_IPV6, parseEth, parseIPv4, parseIPv6 } from '../parse/cursor.js';
import { KTIME_MAP, Ktime, startKtime } from '../parse/ktime.js';
import { defineProgram } from '../program.js';
import { XDP_DROP, XDP_PASS } from '../verdicts.js';

export const DDOS_REASONS = ['pass', 'drop_blocklist', 'drop_ratelimit', 'pass_not_ip', 'drop_malformed'] as const;
// Indices taken from the list (typed: a name not in it does not compile), never written twice.
const R_PASS = DDOS_REASONS.indexOf('pass');
const R_BLOCKLIST = DDOS_REASONS.indexOf('drop_blocklist');
const R_RATELIMIT = DDOS_REASONS.indexOf('drop_ratelimit');
const R_NOT_IP = DDOS_REASONS.indexOf('pass_not_ip');
const R_MALFORMED = DDOS_REASONS.indexOf('drop_malformed');
/** Packets between two reads of the limits map (each read is an Atomics call). */
const LIMITS_EVERY = 64;

/** The limits value as bytes: { rate f64, burst f64 } (for `map update`). */
export function limitsValue(rate: number, burst: number): Uint8Array {
  return new Uint8Array(Float64Array.of(rate, burst > 0 ? burst : Math.max(1, rate)).buffer);
}

export default defineProgram({
  name: 'ddos',
  description: 'Drop sources in a prefix blocklist (IPv4/IPv6 LPM), rate-limit the rest per source (token bucket)',
  params: {
    blocklist: { type: 'string[]', default: [], description: 'source prefixes to drop' },
    rate: { type: 'number', default: 0, description: 'packets per second per source (0: unlimited)' },
    burst: { type: 'number', default: 0, description: 'token bucket depth in packets (0: one second of rate)' },
    maxPrefixes: { type: 'number', default: 16384, description: 'blocklist capacity per address family' },
    maxSources: { type: 'number', default: 65536, description: 'sources tracked by the rate limiter (LRU)' },
  },
  maps: (p) => ({
    blocklist_v4: { type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: p.maxPrefixes as number },
    blocklist_v6: { type: 'lpm_trie', keySize: 20, valueSize: 4, maxEntries: p.maxPrefixes as number },
    limits: { type: 'array', keySize: 4, valueSize: 16, maxEntries: 1 },
    sources: { type: 'lru_hash', keySize: 16, valueSize: 16, maxEntries: p.maxSources as number },
    stats: { type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: DDOS_REASONS.length },
    ktime: KTIME_MAP,
  }),
  setup({ params, maps }) {
    const one = Uint8Array.of(1, 0, 0, 0);
    for (const text of params.blocklist as string[]) {
      const p = parsePrefix(text);
      (p.addr.length === 4 ? maps.blocklist_v4 : maps.blocklist_v6).update(lpmKey(p), one);
    }
    const rate = params.rate as number;
    if (rate < 0 || (params.burst as number) < 0) throw new Error('rate and burst must not be negative');
    maps.limits.update(Uint8Array.of(0, 0, 0, 0), limitsValue(rate, params.burst as number));
    startKtime(maps.ktime);
  },
  create(env) {
    const v4 = env.maps.blocklist_v4 as LpmTrie;
    const v6 = env.maps.blocklist_v6 as LpmTrie;
    const limits = env.maps.limits as ArrayMap;
    const sources = env.maps.sources as HashMap;
    const stats = env.maps.stats as ArrayMap;
    const clock = new Ktime(env.maps.ktime, env.now);
    const c = new Cursor();
    const lim = new Float64Array(2);
    const limWords = new Int32Array(lim.buffer);
    const key = sources.keyBytes;
    const fresh = new Float64Array(sources.valueWords.buffer, 0, 2);
    const f64 = sources.f64;

    let untilLimits = 0;
    const count = (reason: number, verdict: number) => {
      stats.addU64(reason, 0, 1);
      return verdict;
    };

    return (ctx) => {
      const p = ctx.packet;
      c.start(ctx);
      const proto = parseEth(p, c);
      if (proto === ETH_P_IP) {
        if (parseIPv4(p, c) < 0) return count(R_MALFORMED, XDP_DROP);
        const at = c.l3 + 12;
        if (v4.lookupAt(p, at, null) >= 0) return count(R_BLOCKLIST, XDP_DROP);
        for (let i = 0; i < 10; i++) key[i] = 0;
        key[10] = 0xff;
        key[11] = 0xff;
        key[12] = p[at];
        key[13] = p[at + 1];
        key[14] = p[at + 2];
        key[15] = p[at + 3];
      } else if (proto === ETH_P_IPV6) {
        if (parseIPv6(p, c) < 0) return count(R_MALFORMED, XDP_DROP);
        const at = c.l3 + 8;
        if (v6.lookupAt(p, at, null) >= 0) return count(R_BLOCKLIST, XDP_DROP);
        for (let i = 0; i < 16; i++) key[i] = p[at + i];
      } else if (proto < 0) {
        return count(R_MALFORMED, XDP_DROP);
      } else {
        return count(R_NOT_IP, XDP_PASS);
      }

      // The limits are re-read every LIMITS_EVERY packets: a change applies within that many.
      if (--untilLimits <= 0) {
        limits.lookupIndexWords(0, limWords);
        untilLimits = LIMITS_EVERY;
      }
      const rate = lim[0];
      if (!(rate > 0)) return count(R_PASS, XDP_PASS);
      const burst = lim[1];
      const now = clock.ms();
      const e = sources.acquire();
      if (e >= 0) {
        const at = sources.valueWord(e) >> 1;
        const elapsed = (now - f64[at + 1]) >>> 0; // ms; wraps correctly (ktime.ts)
        let tokens = f64[at] + (elapsed * rate) / 1e3;
        if (tokens > burst) tokens = burst;
        const ok = tokens >= 1;
        f64[at] = ok ? tokens - 1 : tokens;
        if (elapsed !== 0) f64[at + 1] = now;
        sources.release(e);
        return ok ? count(R_PASS, XDP_PASS) : count(R_RATELIMIT, XDP_DROP);
      }
      // First packet from this source: a full bucket, less this packet.
      if (burst < 1) return count(R_RATELIMIT, XDP_DROP);
      fresh[0] = burst - 1;
      fresh[1] = now;
      sources.updateScratch(0); // an LRU map makes room; never fails
      return count(R_PASS, XDP_PASS);
    };
  },
});
