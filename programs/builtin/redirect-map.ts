/**
 * redirect-map — forward by destination address through a devmap (bpf_redirect_map):
 * a static forwarding table for destination MAC addresses (`by: mac`) or IPv4/IPv6
 * addresses (`by: ip`, longest-prefix: a host or a whole prefix per entry). Unlike
 * l2switch it learns nothing; unlike router it rewrites nothing.
 *
 * Per packet: look the destination up in `dests` → a devmap slot; redirect through
 * `tx_ports` (slot = port index, value = ifindex). A miss, or a slot taken out of
 * tx_ports, gives the `miss` verdict.
 *
 * Parameters:
 *   by       'mac' | 'ip'  (mac)
 *   entries  `ADDRESS dev PORT`: `02:00:00:00:00:02 dev p2`, `10.0.2.0/24 dev p2`
 *   miss     verdict on a miss: 'pass' | 'drop' (pass)
 *
 * Maps:
 *   dests_mac  hash     key MAC[6] + 0[2]                 value u32 devmap slot
 *   dests_v4   lpm_trie key {prefixlen, 4 bytes}          value u32 devmap slot
 *   dests_v6   lpm_trie key {prefixlen, 16 bytes}         value u32 devmap slot
 *   tx_ports   devmap   slot (port index) → ifindex; filled with every port
 */
import type { Devmap, HashMap, LpmTrie, XdpMap } from '../maps/index.js';
import { lpmKey, parseMac, parsePrefix } from '../parse/addr.js';
import { Cursor, ETH_P_IP, ETH_P_IPV6, parseEth, parseIPv4, parseIPv6 } from '../parse/cursor.js';
import { resolveIfindex } from '../parse/ports.js';
import { defineProgram, type PortInfo } from '../program.js';
import { XDP_DROP, XDP_PASS } from '../verdicts.js';

const MAX_PORTS = 256;
const ENTRY = /^\s*(\S+)\s+dev\s+(\S+)\s*$/;
const u32 = (v: number) => new Uint8Array(Uint32Array.of(v).buffer);

function fillPorts(tx: XdpMap, ports: PortInfo[]): void {
  for (const p of ports) if (p.ifindex <= MAX_PORTS) tx.update(u32(p.ifindex - 1), u32(p.ifindex));
}

export default defineProgram({
  name: 'redirect-map',
  description: 'Forward by destination MAC or IP address through a devmap (static forwarding table)',
  params: {
    by: { type: 'string', default: 'mac', description: "'mac' or 'ip'" },
    entries: { type: 'string[]', default: [], description: "'ADDRESS dev PORT' (MAC, IP address or prefix)" },
    miss: { type: 'string', default: 'pass', description: "verdict on a miss: 'pass' or 'drop'" },
    maxEntries: { type: 'number', default: 4096, description: 'forwarding table capacity' },
  },
  maps: (p) => ({
    dests_mac: { type: 'hash', keySize: 8, valueSize: 4, maxEntries: p.maxEntries as number },
    dests_v4: { type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: p.maxEntries as number },
    dests_v6: { type: 'lpm_trie', keySize: 20, valueSize: 4, maxEntries: Math.min(p.maxEntries as number, 1024) },
    tx_ports: { type: 'devmap', keySize: 4, valueSize: 4, maxEntries: MAX_PORTS },
  }),
  setup({ params, maps, ports }) {
    if (params.by !== 'mac' && params.by !== 'ip') throw new Error(`by must be 'mac' or 'ip', got '${params.by}'`);
    if (params.miss !== 'pass' && params.miss !== 'drop') throw new Error(`miss must be 'pass' or 'drop', got '${params.miss}'`);
    for (const text of params.entries as string[]) {
      const m = ENTRY.exec(text);
      if (!m) throw new Error(`entry '${text}': expected 'ADDRESS dev PORT'`);
      const slot = u32(resolveIfindex(ports, `entry '${text}'`, m[2]) - 1);
      if (params.by === 'mac') {
        const k = new Uint8Array(8);
        k.set(parseMac(m[1]));
        maps.dests_mac.update(k, slot);
      } else {
        const p = parsePrefix(m[1]);
        (p.addr.length === 4 ? maps.dests_v4 : maps.dests_v6).update(lpmKey(p), slot);
      }
    }
    fillPorts(maps.tx_ports, ports);
  },
  create(env) {
    const macs = env.maps.dests_mac as HashMap;
    const v4 = env.maps.dests_v4 as LpmTrie;
    const v6 = env.maps.dests_v6 as LpmTrie;
    const tx = env.maps.tx_ports as Devmap;
    let empty = true;
    for (let i = 0; i < MAX_PORTS && empty; i++) empty = tx.get(i) < 0;
    if (empty) fillPorts(tx, env.ports);
    const byMac = env.params.by === 'mac';
    const miss = env.params.miss === 'drop' ? XDP_DROP : XDP_PASS;
    const c = new Cursor();
    const key = macs.keyBytes;
    const slot = new Int32Array(1);

    return (ctx) => {
      const p = ctx.packet;
      c.start(ctx);
      const proto = parseEth(p, c);
      if (proto < 0) return XDP_DROP;
      if (byMac) {
        const l2 = c.l2;
        for (let i = 0; i < 6; i++) key[i] = p[l2 + i];
        if (!macs.lookupScratch(slot)) return miss;
      } else if (proto === ETH_P_IP) {
        if (parseIPv4(p, c) < 0 || v4.lookupAt(p, c.l3 + 16, slot) < 0) return miss;
      } else if (proto === ETH_P_IPV6) {
        if (parseIPv6(p, c) < 0 || v6.lookupAt(p, c.l3 + 24, slot) < 0) return miss;
      } else return miss;
      return ctx.redirectMap(tx, slot[0], miss);
    };
  },
});
