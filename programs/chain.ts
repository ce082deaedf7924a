/**
 * Program chains, as libxdp's dispatcher runs them: programs in order; a program's verdict
 * continues to the next one only if its bit is set in that program's continue-mask
 * (`if (!((1 << ret) & chain_call_actions)) return ret`). A one-program chain is the
 * program itself, with no dispatcher in between.
 */
import type { XdpContext } from './context.js';
import type { XdpProgram } from './program.js';

export const MAX_CHAIN = 10; // libxdp's dispatcher limit

export function makeChain(programs: XdpProgram[], masks: number[], onSlot?: (slot: number) => void): XdpProgram {
  if (programs.length === 0) throw new RangeError('a chain needs at least one program');
  if (programs.length > MAX_CHAIN) throw new RangeError(`a chain holds at most ${MAX_CHAIN} programs, got ${programs.length}`);
  if (programs.length === 1) return programs[0];
  const progs = programs.slice();
  const mk = Int32Array.from(masks);
  const n = progs.length;
  return (ctx: XdpContext): number => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      if (onSlot !== undefined) onSlot(i);
      v = progs[i](ctx);
      // Only a real verdict (an integer 0…4) can continue; anything else ends the chain and
      // the queue engine counts it xdp_invalid.
      if ((v | 0) !== v || v < 0 || v > 4 || ((1 << v) & mk[i]) === 0) return v;
    }
    return v;
  };
}
