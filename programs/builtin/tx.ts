/**
 * tx — bounce every packet back out of the port it came in on (XDP_TX), with source and
 * destination MAC addresses swapped (xdp-bench `tx` with `swap-macs`).
 * Parameters: `swapMacs` (default true). Maps: none.
 */
import { defineProgram } from '../program.js';
import { Verdict } from '../verdicts.js';

export default defineProgram({
  name: 'tx',
  description: 'Hairpin every packet out of its ingress port, MAC addresses swapped',
  // Rewrites the Ethernet header only: a super-frame goes back whole (BPF_F_XDP_HAS_FRAGS).
  frags: true,
  params: { swapMacs: { type: 'boolean', default: true, description: 'swap source and destination MAC addresses' } },
  create(env) {
    if (env.params.swapMacs === false) return () => Verdict.TX;
    return (ctx) => {
      const v = ctx.view;
      const d = ctx.data;
      if (ctx.dataEnd - d < 14) return Verdict.DROP;
      // Each address as a 4-byte and a 2-byte word (byte order does not matter for a swap):
      // eight accesses instead of twenty-four byte accesses.
      const dHi = v.getUint32(d);
      const dLo = v.getUint16(d + 4);
      v.setUint32(d, v.getUint32(d + 6));
      v.setUint16(d + 4, v.getUint16(d + 10));
      v.setUint32(d + 6, dHi);
      v.setUint16(d + 10, dLo);
      return Verdict.TX;
    };
  },
});
