/**
 * l2switch — a MAC-learning bridge (what Linux's bridge does in its forwarding database).
 *
 * Per frame: learn the source MAC on the ingress port (moving it if it came from another
 * port; refreshing its age at most once a second); then forward by destination MAC:
 *   - known, fresh, on another port    → REDIRECT to that port
 *   - known on the ingress port        → DROP (filtered: never sent back where it came from)
 *   - unknown, aged, broadcast, multicast → flood: REDIRECT to every port in `flood` but
 *     the ingress port (devmap broadcast with BPF_F_EXCLUDE_INGRESS)
 * Frames with a multicast source MAC are not learned (they are invalid as sources).
 *
 * VLAN-aware (`vlan: true`): the table is keyed by (VLAN ID, MAC) — independent learning
 * per VLAN, as a bridge with vlan_filtering — and untagged frames are VLAN 0; frames keep
 * their tags and flood to every port (all ports are trunks). Without it, tags are ignored.
 *
 * Parameters:
 *   ageing   seconds a learned MAC stays valid without being seen (300, as the bridge)
 *   vlan     learn per VLAN (false)
 *   maxMacs  table capacity (16384); when full the least recently seen MAC is forgotten
 *
 * Maps:
 *   fdb    lru_hash  key { MAC[6], VLAN ID be16 }  value { ifindex u32, last seen ms u32 (ktime) }
 *   flood  devmap    port index → ifindex: the ports flooding reaches (all, by default)
 *   stats  percpu_array u64 frames by exit (L2_REASONS), plus learned/moved events
 *   ktime  the clock (programs/parse/ktime.ts)
 */
import { ArrayMap, Devmap, HashMap } from '../maps/index.js';
import { Cursor, parseEth } from '../parse/cursor.js';
import { KTIME_MAP, Ktime, startKtime } from '../parse/ktime.js';
import { defineProgram, type PortInfo } from '../program.js';
import { BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS, XDP_DROP } from '../verdicts.js';
import type { XdpMap } from '../maps/index.js';

/** Exit reasons first (each frame counted in exactly one), then events. */
export const L2_REASONS = ['forward', 'flood', 'drop_same_port', 'drop_malformed', 'drop_no_port', 'learned', 'moved'] as const;
const R_FORWARD = 0;
const R_FLOOD = 1;
const R_SAME_PORT = 2;
const R_MALFORMED = 3;
const R_NO_PORT = 4; // a flood with no port to go to
const R_LEARNED = 5;
const R_MOVED = 6;
export const L2_EXIT_REASONS = 5;

const FLOOD_PORTS = 256;
/** How often a known address's last-seen time is rewritten (ms). */
const REFRESH_MS = 1000;

function fillFlood(flood: XdpMap, ports: PortInfo[]): void {
  for (const p of ports) {
    if (p.ifindex > FLOOD_PORTS) continue;
    flood.update(new Uint8Array(Uint32Array.of(p.ifindex - 1).buffer), new Uint8Array(Uint32Array.of(p.ifindex).buffer));
  }
}

export default defineProgram({
  name: 'l2switch',
  description: 'MAC-learning switch: learn sources per port, forward by destination, flood unknown/broadcast, with ageing',
  // Reads the Ethernet header only: a super-frame crosses whole (BPF_F_XDP_HAS_FRAGS).
  frags: true,
  params: {
    ageing: { type: 'number', default: 300, description: 'seconds a learned MAC address stays valid' },
    vlan: { type: 'boolean', default: false, description: 'learn per VLAN ID (independent VLAN learning)' },
    maxMacs: { type: 'number', default: 16384, description: 'forwarding table capacity' },
  },
  maps: (p) => ({
    fdb: { type: 'lru_hash', keySize: 8, valueSize: 8, maxEntries: p.maxMacs as number },
    flood: { type: 'devmap', keySize: 4, valueSize: 4, maxEntries: FLOOD_PORTS },
    stats: { type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: L2_REASONS.length },
    ktime: KTIME_MAP,
  }),
  setup({ params, maps, ports }) {
    if (!((params.ageing as number) > 0)) throw new Error('ageing must be a positive number of seconds');
    fillFlood(maps.flood, ports);
    startKtime(maps.ktime);
  },
  create(env) {
    const fdb = env.maps.fdb as HashMap;
    const flood = env.maps.flood as Devmap;
    const stats = env.maps.stats as ArrayMap;
    const clock = new Ktime(env.maps.ktime, env.now);
    const vlanAware = env.params.vlan as boolean;
    const ageingMs = (env.params.ageing as number) * 1000;
    // A loader that did not run setup() with the ports: fill the flood map here (idempotent).
    let empty = true;
    for (let i = 0; i < FLOOD_PORTS && empty; i++) empty = flood.get(i) < 0;
    if (empty) fillFlood(flood, env.ports);

    const c = new Cursor();
    const key = fdb.keyBytes;
    const val = new Int32Array(2);
    const FLOOD = BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS | XDP_DROP;

    const setKey = (p: Uint8Array, at: number, vlan: number) => {
      key[0] = p[at];
      key[1] = p[at + 1];
      key[2] = p[at + 2];
      key[3] = p[at + 3];
      key[4] = p[at + 4];
      key[5] = p[at + 5];
      key[6] = vlan >> 8;
      key[7] = vlan & 0xff;
    };

    return (ctx) => {
      const p = ctx.packet;
      c.start(ctx);
      if (parseEth(p, c) < 0) {
        stats.addU64(R_MALFORMED, 0, 1);
        return XDP_DROP;
      }
      const vlan = vlanAware ? c.vlan : 0;
      const l2 = c.l2;
      const ingress = ctx.ingressIfindex;
      const now = clock.ms();

      // Learn the source (not a multicast source: bit 0 of the first byte). The age is
      // refreshed at most every REFRESH_MS, so a busy address does not write per packet.
      if ((p[l2 + 6] & 1) === 0) {
        setKey(p, l2 + 6, vlan);
        if (!fdb.lookupScratch(val)) {
          fdb.valueWords[0] = ingress;
          fdb.valueWords[1] = now;
          fdb.updateScratch(0);
          stats.addU64(R_LEARNED, 0, 1);
        } else if (val[0] !== ingress || ((now - val[1]) >>> 0) >= REFRESH_MS) {
          const e = fdb.acquire();
          if (e >= 0) {
            const at = fdb.valueWord(e);
            if (fdb.words[at] !== ingress) stats.addU64(R_MOVED, 0, 1);
            fdb.words[at] = ingress;
            fdb.words[at + 1] = now;
            fdb.release(e);
          }
        }
      }

      // Forward by destination: unicast only when known and fresh.
      if ((p[l2] & 1) === 0) {
        setKey(p, l2, vlan);
        if (fdb.lookupScratch(val) && ((now - val[1]) >>> 0) <= ageingMs) {
          if (val[0] === ingress) {
            stats.addU64(R_SAME_PORT, 0, 1);
            return XDP_DROP;
          }
          stats.addU64(R_FORWARD, 0, 1);
          return ctx.redirect(val[0]);
        }
      }
      const verdict = ctx.redirectMap(flood, 0, FLOOD);
      stats.addU64(verdict === XDP_DROP ? R_NO_PORT : R_FLOOD, 0, 1);
      return verdict;
    };
  },
});
