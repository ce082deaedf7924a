/**
 * tx — bounce every packet back out of the port it came in on (XDP_TX), with source and
 * destination MAC addresses swapped (xdp-bench `tx` with `swap-macs`).
 * Parameters: `swapMacs` (default true). Maps: none.
 */
import { defineProgram } from '../program.js';
import { XDP_DROP, XDP_TX } from '../verdicts.js';

export default defineProgram({
  name: 'tx',
  description: 'Hairpin every packet out of its ingress port, MAC addresses swapped',
  params: { swapMacs: { type: 'boolean', default: true, description: 'swap source and destination MAC addresses' } },
  create(env) {
    if (env.params.swapMacs === false) return () => XDP_TX;
    return (ctx) => {
      const b = ctx.packet;
      const d = ctx.data;
      if (ctx.dataEnd - d < 14) return XDP_DROP;
      for (let i = 0; i < 6; i++) {
        const t = b[d + i];
        b[d + i] = b[d + 6 + i];
        b[d + 6 + i] = t;
      }
      return XDP_TX;
    };
  },
});
