/**
 * port-filter — a worked example of a program module (docs/programs.md walks through it).
 *
 * Drops TCP and UDP packets to the listed destination ports, passes everything else,
 * and counts both in a per-queue array. The blocked ports live in a hash map, so they can
 * change while traffic flows (`xswitch map update`).
 *
 * Parameters:  ports   destination ports to drop (e.g. [23, 445])
 * Maps:        blocked  hash          key u32 port (host order, little-endian)  value u32 (unused)
 *              stats    percpu_array  [0] packets passed, [1] packets dropped (u64)
 *
 * Run it over a capture:
 *   npm run build
 *   node dist/bin/xswitch.js prog run dist/examples/programs/port-filter.js \
 *        --pcap in.pcap --param ports=23,445 --out out.pcapng
 */
import { defineProgram } from '../../programs/program.js';
import { XDP_DROP, XDP_PASS } from '../../programs/verdicts.js';
import type { ArrayMap, HashMap } from '../../programs/maps/index.js';
import { Cursor, ETH_P_IP, ETH_P_IPV6, IPPROTO_TCP, IPPROTO_UDP, parseEth, parseIPv4, parseIPv6, parseTcp, parseUdp, readBe16 } from '../../programs/parse/cursor.js';

const PASSED = 0;
const DROPPED = 1;

export default defineProgram({
  name: 'port-filter',
  description: 'Drop TCP/UDP packets to the listed destination ports',
  params: {
    ports: { type: 'number[]', default: [], description: 'destination ports to drop' },
  },
  // Maps are created once, in shared memory, before any queue runs the program.
  maps: () => ({
    blocked: { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1024 },
    stats: { type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 2 },
  }),
  // Runs once in the main thread: fill the maps from the parameters.
  setup({ params, maps }) {
    for (const port of params.ports as number[]) {
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`ports: ${port} is not a port number`);
      maps.blocked.update(new Uint8Array(Uint32Array.of(port).buffer), Uint8Array.of(1, 0, 0, 0));
    }
  },
  // Runs in every queue's thread: allocate here, never in the returned function.
  create(env) {
    const blocked = env.maps.blocked as HashMap;
    const stats = env.maps.stats as ArrayMap;
    const c = new Cursor();

    return (ctx) => {
      const p = ctx.packet;
      c.start(ctx);
      const eth = parseEth(p, c);
      let proto = -1;
      if (eth === ETH_P_IP) proto = parseIPv4(p, c);
      else if (eth === ETH_P_IPV6) proto = parseIPv6(p, c);
      let port = -1;
      if (proto === IPPROTO_UDP && parseUdp(p, c) >= 0) port = readBe16(p, c.l4 + 2);
      else if (proto === IPPROTO_TCP && parseTcp(p, c) >= 0) port = readBe16(p, c.l4 + 2);
      if (port >= 0) {
        blocked.keyWords[0] = port; // the scratch key: no allocation
        if (blocked.findScratch() >= 0) {
          stats.addU64(DROPPED, 0, 1);
          return XDP_DROP;
        }
      }
      stats.addU64(PASSED, 0, 1);
      return XDP_PASS;
    };
  },
});
