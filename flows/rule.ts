/**
 * One ntuple rule as the kernel holds it (struct ethtool_rx_flow_spec), in the match-key
 * layout of key.ts: a value and a mask per key word, mask bit 1 = compare (the kernel's
 * convention; ethtool's CLI "1 = ignore" is inverted by the grammar).
 */
import { KEY_WORDS, type FlowTypeName } from './key.js';

/** ring_cookie values with a meaning of their own (uapi/linux/ethtool.h). */
export const RX_CLS_FLOW_DISC = 0xffffffffffffffffn;
export const RX_CLS_FLOW_WAKE = 0xfffffffffffffffen;
/** ring_cookie bits 32-39: VF + 1 (0 = the main function); bits 0-31: the queue. */
export const RING_VF_SHIFT = 32n;
export const RING_VF_MASK = 0x000000ff00000000n;
export const RING_QUEUE_MASK = 0x00000000ffffffffn;

export interface Rule {
  flowType: FlowTypeName;
  /** FLOW_EXT | FLOW_MAC_EXT | FLOW_RSS bits (key.ts). */
  flags: number;
  value: Uint32Array;
  mask: Uint32Array;
  ringCookie: bigint;
  /** RSS context (meaningful with FLOW_RSS). */
  context: number;
  /** Slot in the rule table; undefined = let the rule manager choose (RX_CLS_LOC_ANY). */
  loc: number | undefined;
}

export function newRule(flowType: FlowTypeName): Rule {
  return {
    flowType,
    flags: 0,
    value: new Uint32Array(KEY_WORDS),
    mask: new Uint32Array(KEY_WORDS),
    ringCookie: 0n,
    context: 0,
    loc: undefined,
  };
}

/** What a rule does with a packet, decoded from ring_cookie. */
export const enum Action { Queue = 0, Drop = 1, Wake = 2 }
export const A_QUEUE = Action.Queue;
export const A_DROP = Action.Drop;
export const A_WAKE = Action.Wake;

export function actionOf(r: Rule): { kind: number; queue: number; vf: number } {
  if (r.ringCookie === RX_CLS_FLOW_DISC) return { kind: A_DROP, queue: 0, vf: 0 };
  if (r.ringCookie === RX_CLS_FLOW_WAKE) return { kind: A_WAKE, queue: 0, vf: 0 };
  return {
    kind: A_QUEUE,
    queue: Number(r.ringCookie & RING_QUEUE_MASK),
    vf: Number((r.ringCookie & RING_VF_MASK) >> RING_VF_SHIFT),
  };
}
