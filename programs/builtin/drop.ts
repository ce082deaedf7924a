/**
 * drop — XDP_DROP every packet (xdp-bench `drop`).
 *
 * Parameters: `readData` (default true): read the Ethernet header first, as xdp-bench's
 * `read-data` mode does, so the cost of touching the packet is part of the figure.
 * Maps: none.
 */
import { defineProgram } from '../program.js';
import { Verdict } from '../verdicts.js';

export default defineProgram({
  name: 'drop',
  description: 'Drop every packet (reads the Ethernet header first unless readData is false)',
  // Reads the Ethernet header only (BPF_F_XDP_HAS_FRAGS).
  frags: true,
  params: { readData: { type: 'boolean', default: true, description: 'read the Ethernet type of each packet before dropping it' } },
  create(env) {
    if (env.params.readData === false) return () => Verdict.DROP;
    let sink = 0;
    return (ctx) => {
      // Read the EtherType so the packet's cache line is really touched.
      sink ^= (ctx.packet[ctx.data + 12] << 8) | ctx.packet[ctx.data + 13];
      return Verdict.DROP | (sink & 0);
    };
  },
});
