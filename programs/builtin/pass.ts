/**
 * pass — XDP_PASS every packet to the switch's local stack.
 * Parameters: none. Maps: none.
 */
import { defineProgram } from '../program.js';
import { XDP_PASS } from '../verdicts.js';

export default defineProgram({
  name: 'pass',
  description: 'Pass every packet to the local stack',
  // Reads nothing of the packet (BPF_F_XDP_HAS_FRAGS).
  frags: true,
  create: () => () => XDP_PASS,
});
