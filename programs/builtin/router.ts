/**
 * router — IPv4/IPv6 forwarding by longest-prefix match (the XDP paper's use case #2,
 * as the kernel's bpf_fib_lookup sample does it).
 *
 * Per packet: Ethernet → IPv4/IPv6; longest-prefix match on the destination:
 *   - no route                   → DROP (counted drop_no_route)
 *   - a local route (own address) → PASS to the switch's local stack
 *   - TTL / hop limit ≤ 1        → DROP (counted drop_ttl_expired; the kernel would send
 *                                   ICMP time exceeded)
 *   - otherwise: TTL − 1 with the RFC 1624 incremental checksum update (IPv6 has no header
 *     checksum), destination MAC = the route's next hop, source MAC = `mac`, REDIRECT
 *     out of the route's port.
 * Non-IP frames (ARP) pass to the local stack.
 *
 * There is no neighbour table: a route names its next hop's MAC address itself.
 *
 * Parameters:
 *   routes      `PREFIX via NEXTHOP-MAC dev PORT` (PORT: a port name or ifindex), e.g.
 *               `10.1.0.0/16 via 02:00:00:00:01:01 dev p1`, `::/0 via 02:… dev 2`
 *   addresses   the switch's own addresses (local routes: PASS)
 *   mac         source MAC of forwarded frames (02:00:00:00:00:fe)
 *   maxRoutes   IPv4 table capacity (131072); maxRoutes6: IPv6 (16384)
 *
 * Maps:
 *   routes_v4  lpm_trie key {prefixlen, 4 bytes}  value { ifindex u32, next-hop MAC[6], 0[2] }
 *   routes_v6  lpm_trie key {prefixlen, 16 bytes} value as above; ifindex 0 = local
 *   stats      percpu_array u64 packets by reason (ROUTER_REASONS), one reason per packet
 */
import type { ArrayMap, LpmTrie } from '../maps/index.js';
import { lpmKey, parseMac, parsePrefix } from '../parse/addr.js';
import { csumReplace16 } from '../../lib/net/checksum.js';
import { Cursor, ETH_P_IP, ETH_P_IPV6, parseEth, parseIPv4, parseIPv6 } from '../parse/cursor.js';
import { resolveIfindex } from '../parse/ports.js';
import { defineProgram } from '../program.js';
import { XDP_DROP, XDP_PASS } from '../verdicts.js';

export const ROUTER_REASONS = ['forward', 'pass_local', 'drop_no_route', 'drop_ttl_expired', 'pass_not_ip', 'drop_malformed'] as const;
// Indices taken from the list (typed: a name not in it does not compile), never written twice.
const R_FORWARD = ROUTER_REASONS.indexOf('forward');
const R_LOCAL = ROUTER_REASONS.indexOf('pass_local');
const R_NO_ROUTE = ROUTER_REASONS.indexOf('drop_no_route');
const R_TTL = ROUTER_REASONS.indexOf('drop_ttl_expired');
const R_NOT_IP = ROUTER_REASONS.indexOf('pass_not_ip');
const R_MALFORMED = ROUTER_REASONS.indexOf('drop_malformed');

/** A route's value bytes. ifindex 0 marks a local address. */
export function routeValue(ifindex: number, mac: Uint8Array): Uint8Array {
  const v = new Uint8Array(12);
  new DataView(v.buffer).setUint32(0, ifindex, true);
  v.set(mac, 4);
  return v;
}

const ROUTE = /^\s*(\S+)\s+via\s+(\S+)\s+dev\s+(\S+)\s*$/;

export default defineProgram({
  name: 'router',
  description: 'IPv4/IPv6 router: LPM route lookup, TTL/hop-limit decrement with incremental checksum, next-hop MAC rewrite',
  params: {
    routes: { type: 'string[]', default: [], description: "routes: 'PREFIX via NEXTHOP-MAC dev PORT'" },
    addresses: { type: 'string[]', default: [], description: "the switch's own addresses (delivered to the local stack)" },
    mac: { type: 'string', default: '02:00:00:00:00:fe', description: 'source MAC address of forwarded frames' },
    maxRoutes: { type: 'number', default: 131072, description: 'IPv4 route table capacity' },
    maxRoutes6: { type: 'number', default: 16384, description: 'IPv6 route table capacity' },
  },
  maps: (p) => ({
    routes_v4: { type: 'lpm_trie', keySize: 8, valueSize: 12, maxEntries: p.maxRoutes as number },
    routes_v6: { type: 'lpm_trie', keySize: 20, valueSize: 12, maxEntries: p.maxRoutes6 as number },
    stats: { type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: ROUTER_REASONS.length },
  }),
  setup({ params, maps, ports }) {
    parseMac(params.mac as string);
    for (const text of params.routes as string[]) {
      const m = ROUTE.exec(text);
      if (!m) throw new Error(`route '${text}': expected 'PREFIX via NEXTHOP-MAC dev PORT'`);
      const p = parsePrefix(m[1]);
      const ifindex = resolveIfindex(ports, `route '${text}'`, m[3]);
      (p.addr.length === 4 ? maps.routes_v4 : maps.routes_v6).update(lpmKey(p), routeValue(ifindex, parseMac(m[2])));
    }
    for (const text of params.addresses as string[]) {
      const p = parsePrefix(text.split('/')[0]);
      (p.addr.length === 4 ? maps.routes_v4 : maps.routes_v6).update(lpmKey(p), routeValue(0, new Uint8Array(6)));
    }
  },
  create(env) {
    const v4 = env.maps.routes_v4 as LpmTrie;
    const v6 = env.maps.routes_v6 as LpmTrie;
    const stats = env.maps.stats as ArrayMap;
    const mac = parseMac(env.params.mac as string);
    const m0 = mac[0], m1 = mac[1], m2 = mac[2], m3 = mac[3], m4 = mac[4], m5 = mac[5];
    const c = new Cursor();
    const route = new Int32Array(3);

    const count = (reason: number, verdict: number) => {
      stats.addU64(reason, 0, 1);
      return verdict;
    };

    return (ctx) => {
      const p = ctx.packet;
      c.start(ctx);
      const proto = parseEth(p, c);
      let ttlAt: number;
      if (proto === ETH_P_IP) {
        if (parseIPv4(p, c) < 0) return count(R_MALFORMED, XDP_DROP);
        if (v4.lookupAt(p, c.l3 + 16, route) < 0) return count(R_NO_ROUTE, XDP_DROP);
        ttlAt = c.l3 + 8;
      } else if (proto === ETH_P_IPV6) {
        if (parseIPv6(p, c) < 0) return count(R_MALFORMED, XDP_DROP);
        if (v6.lookupAt(p, c.l3 + 24, route) < 0) return count(R_NO_ROUTE, XDP_DROP);
        ttlAt = c.l3 + 7;
      } else if (proto < 0) {
        return count(R_MALFORMED, XDP_DROP);
      } else {
        return count(R_NOT_IP, XDP_PASS);
      }
      const ifindex = route[0];
      if (ifindex === 0) return count(R_LOCAL, XDP_PASS);
      const ttl = p[ttlAt];
      if (ttl <= 1) return count(R_TTL, XDP_DROP);
      p[ttlAt] = ttl - 1;
      if (proto === ETH_P_IP) {
        // The TTL shares a 16-bit word with the protocol: RFC 1624 eqn. 3 on that word.
        const protoByte = p[ttlAt + 1];
        const check = (p[c.l3 + 10] << 8) | p[c.l3 + 11];
        const sum = csumReplace16(check, (ttl << 8) | protoByte, ((ttl - 1) << 8) | protoByte);
        p[c.l3 + 10] = sum >> 8;
        p[c.l3 + 11] = sum & 0xff;
      }
      const l2 = c.l2;
      const a = route[1];
      const b = route[2];
      p[l2] = a & 0xff;
      p[l2 + 1] = (a >> 8) & 0xff;
      p[l2 + 2] = (a >> 16) & 0xff;
      p[l2 + 3] = (a >>> 24) & 0xff;
      p[l2 + 4] = b & 0xff;
      p[l2 + 5] = (b >> 8) & 0xff;
      p[l2 + 6] = m0;
      p[l2 + 7] = m1;
      p[l2 + 8] = m2;
      p[l2 + 9] = m3;
      p[l2 + 10] = m4;
      p[l2 + 11] = m5;
      stats.addU64(R_FORWARD, 0, 1);
      return ctx.redirect(ifindex);
    };
  },
});
