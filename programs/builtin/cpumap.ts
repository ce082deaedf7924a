/**
 * cpumap — re-steer packets to other queues (Linux's cpumap redirect), e.g. to spread
 * traffic that the device's RSS cannot (one big flow's tunnel, a NIC that hashes only
 * on addresses) or to gather a class of traffic onto dedicated queues.
 *
 * Per packet: a hash picks one of the target queues — the device's RSS hash (`by: hash`),
 * or the IPv4/IPv6 source or destination address (`by: src` / `dst`, so all of one
 * host's packets meet on one queue). A packet already on its queue PASSes (the chain
 * goes on there); the others are redirected through the cpumap and run the target
 * queue's chain — where the same choice yields PASS, so nothing loops.
 *
 * Parameters:
 *   queues  target queues (default: every queue)
 *   by      'hash' | 'src' | 'dst'  (hash)
 *
 * Maps:
 *   cpus     cpumap   queue → qsize; a queue taken out of it is a miss (PASS here)
 *   targets  array[65] u32: [0] = number of targets n, [1..n] = the target queues
 */
import type { ArrayMap, Cpumap } from '../maps/index.js';
import { Cursor, ETH_P_IP, ETH_P_IPV6, parseEth, parseIPv4, parseIPv6 } from '../parse/cursor.js';
import { defineProgram } from '../program.js';
import { XDP_PASS } from '../verdicts.js';

const MAX_TARGETS = 64;
const QSIZE = 1024;

const u32 = (v: number) => new Uint8Array(Uint32Array.of(v).buffer);

export default defineProgram({
  name: 'cpumap',
  description: 'Re-steer packets to other queues by RSS hash or address (cpumap redirect)',
  params: {
    queues: { type: 'number[]', description: 'target queues (default: all)' },
    by: { type: 'string', default: 'hash', description: "what picks the queue: 'hash' (RSS), 'src' or 'dst' address" },
  },
  maps: () => ({
    cpus: { type: 'cpumap', keySize: 4, valueSize: 4, maxEntries: MAX_TARGETS },
    targets: { type: 'array', keySize: 4, valueSize: 4, maxEntries: MAX_TARGETS + 1 },
  }),
  setup({ params, maps }) {
    if (!['hash', 'src', 'dst'].includes(params.by as string)) throw new Error(`by must be 'hash', 'src' or 'dst', got '${params.by}'`);
    const cpus = maps.cpus as Cpumap;
    const list = (params.queues as number[] | undefined) ?? Array.from({ length: Math.min(cpus.queues, MAX_TARGETS) }, (_, i) => i);
    if (list.length === 0 || list.length > MAX_TARGETS) throw new Error(`queues: give 1..${MAX_TARGETS} target queues`);
    for (const q of list) cpus.update(u32(q), u32(QSIZE)); // throws for a queue the switch lacks
    maps.targets.update(u32(0), u32(list.length));
    list.forEach((q, i) => maps.targets.update(u32(i + 1), u32(q)));
  },
  create(env) {
    const cpus = env.maps.cpus as Cpumap;
    const targets = env.maps.targets as ArrayMap;
    const by = env.params.by === 'src' ? 1 : env.params.by === 'dst' ? 2 : 0;
    const c = new Cursor();

    return (ctx) => {
      const n = targets.readWord(0, 0);
      if (n < 1 || n > MAX_TARGETS) return XDP_PASS;
      let h = ctx.hash;
      if (by !== 0) {
        const p = ctx.packet;
        c.start(ctx);
        const proto = parseEth(p, c);
        let at = -1;
        let len = 0;
        if (proto === ETH_P_IP && parseIPv4(p, c) >= 0) {
          at = c.l3 + (by === 1 ? 12 : 16);
          len = 4;
        } else if (proto === ETH_P_IPV6 && parseIPv6(p, c) >= 0) {
          at = c.l3 + (by === 1 ? 8 : 24);
          len = 16;
        }
        if (at < 0) return XDP_PASS; // not IP: stays on its queue
        h = 0x811c9dc5;
        for (let i = 0; i < len; i++) h = Math.imul(h ^ p[at + i], 0x01000193);
      }
      const q = targets.readWord(1 + ((h >>> 0) % n), 0);
      if (q === ctx.rxQueueIndex) return XDP_PASS;
      return ctx.redirectMap(cpus, q, XDP_PASS);
    };
  },
});
