/**
 * ethtool's command grammar for flow steering, word for word (ethtool.c, rxclass.c):
 *   -N|-U DEV flow-type T [field value [m mask | field-mask mask]]… [action N | queue N [vf N]]
 *             [context N] [loc N]
 *   -N|-U DEV delete N
 *   -N|-U DEV rx-flow-hash T FIELDS [context N]
 *   -X DEV [hkey xx:…] [start N] [equal N | weight W… | default] [hfunc F] [context N|new] [delete]
 *   -L DEV [rx N] [tx N] [other N] [combined N]
 * Parsing only: the messages are ethtool's own for what ethtool itself rejects. What the
 * kernel would reject (queue out of range, occupied table…) is checked by state.ts.
 *
 * Deviations, on purpose: a field name with no value after it ends the rule silently in
 * ethtool; here it is `Add rule, invalid syntax`. `user-def` is accepted and printed, but
 * xswitch carries no per-packet user data, so it compares against 0.
 */
import {
  FLOW_EXT, FLOW_MAC_EXT, FLOW_RSS, FlowType, classFor, CLASS_HAS_L4,
  W_CLASS, W_DMAC, W_DST, W_ETYPE, W_L4, W_SMAC, W_SPI, W_SRC, W_TCI, W_TOS, W_UDEF,
  type FlowTypeName,
} from './key.js';
import { newRule, RING_QUEUE_MASK, RING_VF_MASK, RING_VF_SHIFT, type Rule } from './rule.js';
import { getUlong, parseIPv4, parseIPv6, parseMac, strtoll, strtoull } from './values.js';

/** An error as ethtool prints it; `arg` is the index of the word it is about (columns). */
export class EthtoolError extends Error {
  constructor(message: string, readonly arg = -1) {
    super(message);
  }
}

export const BAD_ARGS = 'ethtool: bad command line argument(s)';

export type FieldType = 'ip4' | 'ip6' | 'u8' | 'be16' | 'be32' | 'be64' | 'mac' | 'action' | 'vf' | 'queue' | 'loc';

export interface FieldDef {
  name: string;
  type: FieldType;
  /** rxclass.c's NFC_FLAG_*: a field whose bits are already taken is "Invalid … value". */
  flag: number;
  /** First key word and bit shift inside it (for ≤ 32-bit fields). */
  word: number;
  shift: number;
}

const F_RING = 0x0001, F_LOC = 0x0002, F_SADDR = 0x0004, F_DADDR = 0x0008, F_SPORT = 0x0010,
  F_DPORT = 0x0020, F_SPI = 0x0030, F_TOS = 0x0040, F_PROTO = 0x0080, F_VLAN = 0x0100,
  F_UDEF = 0x0200, F_VETH = 0x0400, F_MAC = 0x0800, F_VF = 0x1000, F_QUEUE = 0x2000;

const f = (name: string, type: FieldType, flag: number, word = 0, shift = 0): FieldDef => ({ name, type, flag, word, shift });

const tail: FieldDef[] = [
  f('action', 'action', F_RING), f('vf', 'vf', F_VF), f('queue', 'queue', F_QUEUE), f('loc', 'loc', F_LOC),
  f('vlan-etype', 'be16', F_VETH, W_ETYPE, 16), f('vlan', 'be16', F_VLAN, W_TCI, 0),
  f('user-def', 'be64', F_UDEF, W_UDEF, 0),
];
const dstMac = f('dst-mac', 'mac', F_MAC, W_DMAC);

function ipFields(v6: boolean, kind: 'ports' | 'spi' | 'user'): FieldDef[] {
  const ip = v6 ? 'ip6' : 'ip4';
  const out = [f('src-ip', ip, F_SADDR, W_SRC), f('dst-ip', ip, F_DADDR, W_DST), f(v6 ? 'tclass' : 'tos', 'u8', F_TOS, W_TOS, 0)];
  if (kind === 'ports') out.push(f('src-port', 'be16', F_SPORT, W_L4, 16), f('dst-port', 'be16', F_DPORT, W_L4, 0));
  if (kind === 'spi') out.push(f('spi', 'be32', F_SPI, W_SPI, 0));
  if (kind === 'user') {
    out.push(f('l4proto', 'u8', F_PROTO, W_CLASS, 0), f('l4data', 'be32', F_SPI, W_L4, 0), f('spi', 'be32', F_SPI, W_L4, 0),
      f('src-port', 'be16', F_SPORT, W_L4, 16), f('dst-port', 'be16', F_DPORT, W_L4, 0));
  }
  return [...out, ...tail, dstMac];
}

/** The options each flow type takes, in rxclass.c's order. */
export const FLOW_FIELDS: Record<FlowTypeName, FieldDef[]> = {
  tcp4: ipFields(false, 'ports'), udp4: ipFields(false, 'ports'), sctp4: ipFields(false, 'ports'),
  ah4: ipFields(false, 'spi'), esp4: ipFields(false, 'spi'), ip4: ipFields(false, 'user'),
  tcp6: ipFields(true, 'ports'), udp6: ipFields(true, 'ports'), sctp6: ipFields(true, 'ports'),
  ah6: ipFields(true, 'spi'), esp6: ipFields(true, 'spi'), ip6: ipFields(true, 'user'),
  ether: [f('src', 'mac', F_SADDR, W_SMAC), f('dst', 'mac', F_DADDR, W_DMAC), f('proto', 'be16', F_PROTO, W_ETYPE, 0), ...tail],
};

const BITS: Record<string, number> = { u8: 8, be16: 16, be32: 32 };

/** Writes `value` under kernel mask `mask` (1 = compare) into the rule's key words. */
function place(r: Rule, d: FieldDef, value: bigint | Uint32Array | number[], mask: bigint | Uint32Array | number[]): void {
  const set = (w: number, shift: number, bits: number, v: number, m: number) => {
    const fm = (bits === 32 ? 0xffffffff : ((1 << bits) - 1) << shift) >>> 0;
    r.value[w] = ((r.value[w] & ~fm) | ((v << shift) & fm)) >>> 0;
    r.mask[w] = ((r.mask[w] & ~fm) | ((m << shift) & fm)) >>> 0;
  };
  if (d.type === 'ip4') set(d.word, 0, 32, Number(value as bigint), Number(mask as bigint));
  else if (d.type === 'ip6') for (let i = 0; i < 4; i++) set(d.word + i, 0, 32, (value as Uint32Array)[i], (mask as Uint32Array)[i]);
  else if (d.type === 'mac') {
    const v = value as number[];
    const m = mask as number[];
    set(d.word, 0, 16, (v[0] << 8) | v[1], (m[0] << 8) | m[1]);
    set(d.word + 1, 0, 32, (v[2] << 24) | (v[3] << 16) | (v[4] << 8) | v[5], (m[2] << 24) | (m[3] << 16) | (m[4] << 8) | m[5]);
  } else if (d.type === 'be64') {
    const v = value as bigint;
    const m = mask as bigint;
    set(d.word, 0, 32, Number(v >> 32n), Number(m >> 32n));
    set(d.word + 1, 0, 32, Number(v & 0xffffffffn), Number(m & 0xffffffffn));
  } else {
    set(d.word, d.shift, BITS[d.type], Number(value as bigint), Number(mask as bigint));
  }
}

/** Parses a value word of field `d`; null if ethtool would say "Invalid … value". */
function parseValue(d: FieldDef, s: string): bigint | Uint32Array | number[] | null {
  switch (d.type) {
    case 'ip4': { const v = parseIPv4(s); return v === null ? null : BigInt(v); }
    case 'ip6': return parseIPv6(s);
    case 'mac': return parseMac(s);
    case 'u8': return getUlong(s, 8);
    case 'be16': return getUlong(s, 16);
    case 'be32': return getUlong(s, 32);
    case 'be64': return getUlong(s, 64);
    case 'action': return getUlong(s, 64);
    case 'vf': return getUlong(s, 8);
    case 'queue': return getUlong(s, 32);
    case 'loc': return getUlong(s, 32);
  }
}

/** The all-ones (compare everything) mask of a field, the default without `m`. */
function fullMask(d: FieldDef): bigint | Uint32Array | number[] {
  if (d.type === 'ip6') return new Uint32Array([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
  if (d.type === 'mac') return [255, 255, 255, 255, 255, 255];
  if (d.type === 'ip4') return 0xffffffffn;
  if (d.type === 'be64') return (1n << 64n) - 1n;
  return (1n << BigInt(BITS[d.type])) - 1n;
}

/** Inverts a CLI mask (1 = ignore) into the kernel's (1 = compare). */
function invertMask(d: FieldDef, m: bigint | Uint32Array | number[]): bigint | Uint32Array | number[] {
  if (d.type === 'ip6') return (m as Uint32Array).map((w) => ~w >>> 0);
  if (d.type === 'mac') return (m as number[]).map((b) => ~b & 0xff);
  return (fullMask(d) as bigint) ^ (m as bigint);
}

export type NtupleCommand =
  | { op: 'add'; rule: Rule }
  | { op: 'delete'; loc: number }
  | { op: 'rx-flow-hash'; flowType: string; fields: number; context: number | undefined };

/** rx-flow-hash letters (uapi RXH_*); a const enum so the data path gets plain numbers. */
export const enum RXH { L2DA = 1 << 1, VLAN = 1 << 2, L3Proto = 1 << 3, IPSrc = 1 << 4, IPDst = 1 << 5, L4B01 = 1 << 6, L4B23 = 1 << 7, Discard = 0x80000000 }
export const RXH_L2DA = RXH.L2DA, RXH_VLAN = RXH.VLAN, RXH_L3_PROTO = RXH.L3Proto, RXH_IP_SRC = RXH.IPSrc,
  RXH_IP_DST = RXH.IPDst, RXH_L4_B_0_1 = RXH.L4B01, RXH_L4_B_2_3 = RXH.L4B23, RXH_DISCARD = RXH.Discard;
const RXH_LETTERS: Record<string, number> = {
  m: RXH_L2DA, v: RXH_VLAN, t: RXH_L3_PROTO, s: RXH_IP_SRC, d: RXH_IP_DST, f: RXH_L4_B_0_1, n: RXH_L4_B_2_3, r: RXH_DISCARD,
};
/** rxflow_str_to_type: the flow types rx-flow-hash names (ah and esp share a setting). */
export const RXFH_TYPES = ['tcp4', 'udp4', 'ah4', 'esp4', 'sctp4', 'tcp6', 'udp6', 'ah6', 'esp6', 'sctp6', 'ether'];

/** get_uint_range / get_u32 / get_int_range: bad input is "bad command line argument(s)". */
function uintArg(args: string[], i: number, min: bigint, max: bigint): number {
  const s = args[i];
  if (s === undefined) throw new EthtoolError(BAD_ARGS, i);
  const v = strtoull(s);
  if (v === null || v < min || v > max) throw new EthtoolError(BAD_ARGS, i);
  return Number(v);
}
function intArg(args: string[], i: number, min: bigint, max: bigint): number {
  const s = args[i];
  if (s === undefined) throw new EthtoolError(BAD_ARGS, i);
  const v = strtoll(s);
  if (v === null || v < min || v > max) throw new EthtoolError(BAD_ARGS, i);
  return Number(v);
}

const INT_MAX = 0x7fffffffn;
const U32_MAX = 0xffffffffn;
const ETH_RXFH_CONTEXT_ALLOC = 0xffffffff;

/** `-N/-U DEV …`: `args` are the words after the device name. */
export function parseNtuple(args: string[]): NtupleCommand {
  if (args.length < 2) throw new EthtoolError(BAD_ARGS, args.length);
  if (args[0] === 'rx-flow-hash') {
    let context: number | undefined;
    if (args.length === 5) {
      if (args[3] !== 'context') throw new EthtoolError(BAD_ARGS, 3);
      context = uintArg(args, 4, 0n, U32_MAX);
    } else if (args.length !== 3) {
      throw new EthtoolError(BAD_ARGS, Math.min(args.length, 3));
    }
    if (!RXFH_TYPES.includes(args[1])) throw new EthtoolError(BAD_ARGS, 1);
    let fields = 0;
    for (const ch of args[2]) {
      const bit = RXH_LETTERS[ch];
      if (bit === undefined) throw new EthtoolError(BAD_ARGS, 2);
      fields = (fields | bit) >>> 0;
    }
    return { op: 'rx-flow-hash', flowType: args[1], fields, context };
  }
  if (args[0] === 'delete') {
    const loc = uintArg(args, 1, 0n, INT_MAX);
    if (args.length > 2) throw new EthtoolError(BAD_ARGS, 2);
    return { op: 'delete', loc };
  }
  if (args[0] === 'flow-type') return { op: 'add', rule: parseRule(args, 1) };
  throw new EthtoolError(BAD_ARGS, 0);
}

/** rxclass_parse_ruleopts: `args[start]` is the flow type. */
export function parseRule(args: string[], start: number): Rule {
  const syntax = (i: number) => new EthtoolError('Add rule, invalid syntax', i);
  if (start >= args.length || !(args[start] in FlowType)) throw syntax(start);
  const ft = args[start] as FlowTypeName;
  const defs = FLOW_FIELDS[ft];
  const rule = newRule(ft);
  const cls = classFor(ft);
  rule.value[W_CLASS] = cls.value;
  rule.mask[W_CLASS] = cls.mask;
  let flags = 0;
  let vf = -1n;
  let queue = -1n;
  let action = -1n;
  for (let i = start + 1; i < args.length; ) {
    if (args[i] === 'context') {
      i++;
      if (i >= args.length) throw new EthtoolError("'context' missing value", i);
      const v = getUlong(args[i], 32);
      if (v === null) throw new EthtoolError(`Invalid context value[${args[i]}]`, i);
      if (Number(v) === ETH_RXFH_CONTEXT_ALLOC) throw new EthtoolError(`Bad context value ${Number(v).toString(16)}`, i);
      rule.context = Number(v);
      rule.flags |= FLOW_RSS;
      i++;
      continue;
    }
    const d = defs.find((x) => x.name === args[i]);
    if (!d) throw new EthtoolError(`Add rule, unrecognized option[${args[i]}]`, i);
    i++;
    if (i >= args.length) throw syntax(i);
    const value = (flags & d.flag) !== 0 ? null : parseValue(d, args[i]);
    if (value === null) throw new EthtoolError(`Invalid ${d.name} value[${args[i]}]`, i);
    flags |= d.flag;
    if (d.type === 'action') action = value as bigint;
    else if (d.type === 'vf') vf = value as bigint;
    else if (d.type === 'queue') queue = value as bigint;
    else if (d.type === 'loc') rule.loc = Number(value as bigint);
    else place(rule, d, value, fullMask(d));
    i++;
    if (i < args.length && (args[i] === 'm' || args[i] === `${d.name}-mask`)) {
      const maskable = !['action', 'vf', 'queue', 'loc'].includes(d.type);
      i++;
      if (i >= args.length) throw syntax(i);
      const m = maskable ? parseValue(d, args[i]) : null;
      if (m === null) throw new EthtoolError(`Invalid ${d.name} mask[${args[i]}]`, i);
      place(rule, d, value, invertMask(d, m));
      i++;
    }
  }
  if ((flags & F_RING) && (flags & F_QUEUE)) throw new EthtoolError('action and queue are not compatible', args.length);
  if ((flags & F_RING) && (flags & F_VF)) throw new EthtoolError('action and vf are not compatible', args.length);
  let cookie = action >= 0n ? action : 0n;
  if (queue >= 0n) cookie = (cookie & ~RING_QUEUE_MASK) | queue;
  if (vf >= 0n) cookie = (cookie & ~RING_VF_MASK) | ((vf + 1n) << RING_VF_SHIFT);
  rule.ringCookie = cookie;
  // An ip4/ip6 rule on L4 bytes needs the L4 header to be there.
  if ((ft === 'ip4' || ft === 'ip6') && rule.mask[W_L4] !== 0) {
    rule.value[W_CLASS] |= CLASS_HAS_L4;
    rule.mask[W_CLASS] |= CLASS_HAS_L4;
  }
  if (flags & (F_VLAN | F_UDEF | F_VETH)) rule.flags |= FLOW_EXT;
  if (flags & F_MAC && ft !== 'ether') rule.flags |= FLOW_MAC_EXT;
  return rule;
}

export interface RxfhCommand {
  equal?: number;
  weights?: number[];
  start?: number;
  default: boolean;
  hkey?: number[];
  hkeyArg?: number;
  hfunc?: string;
  context?: number | 'new';
  delete: boolean;
}

/** `-X DEV …` (do_srxfh). The key's length is checked against the device in state.ts. */
export function parseRxfh(args: string[]): RxfhCommand {
  if (args.length < 1) throw new EthtoolError(BAD_ARGS, 0);
  const c: RxfhCommand = { default: false, delete: false };
  for (let i = 0; i < args.length; ) {
    const w = args[i];
    if (w === 'equal') {
      c.equal = intArg(args, i + 1, 1n, INT_MAX);
      i += 2;
    } else if (w === 'start') {
      c.start = intArg(args, i + 1, 0n, INT_MAX);
      i += 2;
    } else if (w === 'weight') {
      i++;
      const ws: number[] = [];
      while (i < args.length && /^[0-9]/.test(args[i])) ws.push(uintArg(args, i++, 0n, U32_MAX));
      if (ws.length === 0) throw new EthtoolError(BAD_ARGS, i);
      c.weights = ws;
    } else if (w === 'hkey') {
      if (args[i + 1] === undefined) throw new EthtoolError(BAD_ARGS, i + 1);
      c.hkeyArg = i + 1;
      c.hkey = parseHkey(args[i + 1], i + 1);
      i += 2;
    } else if (w === 'default') {
      c.default = true;
      i++;
    } else if (w === 'hfunc') {
      if (args[i + 1] === undefined) throw new EthtoolError(BAD_ARGS, i + 1);
      c.hfunc = args[i + 1];
      i += 2;
    } else if (w === 'context') {
      if (args[i + 1] === 'new') c.context = 'new';
      else c.context = intArg(args, i + 1, 1n, BigInt(ETH_RXFH_CONTEXT_ALLOC - 1));
      i += 2;
    } else if (w === 'delete') {
      c.delete = true;
      i++;
    } else {
      throw new EthtoolError(BAD_ARGS, i);
    }
  }
  const n = args.length;
  const rule = (ok: boolean, msg: string) => { if (ok) throw new EthtoolError(msg, n); };
  rule(c.equal !== undefined && c.weights !== undefined, 'Equal and weight options are mutually exclusive');
  rule(c.equal !== undefined && c.default, 'Equal and default options are mutually exclusive');
  rule(c.weights !== undefined && c.default, 'Weight and default options are mutually exclusive');
  rule(c.start !== undefined && c.default, 'Start and default options are mutually exclusive');
  rule(c.start !== undefined && c.equal === undefined && c.weights === undefined, 'Start must be used with equal or weight options');
  rule(c.default && c.context !== undefined, 'Default and context options are mutually exclusive');
  rule(c.delete && c.context === undefined, 'Delete option requires context option');
  rule(c.delete && c.weights !== undefined, 'Delete and weight options are mutually exclusive');
  rule(c.delete && c.equal !== undefined, 'Delete and equal options are mutually exclusive');
  rule(c.delete && c.default, 'Delete and default options are mutually exclusive');
  rule(c.delete && c.hkey !== undefined, 'Delete and hkey options are mutually exclusive');
  return c;
}

/** convert_string_to_hashkey's format: two hex digits per byte, ':'-separated. */
function parseHkey(s: string, arg: number): number[] {
  const out: number[] = [];
  let i = 0;
  do {
    if (!/^[0-9a-fA-F]{2}$/.test(s.slice(i, i + 2))) throw new EthtoolError('Invalid RSS hash key format', arg);
    out.push(parseInt(s.slice(i, i + 2), 16));
    i += 2;
    if (s[i] === ':') i++;
    else if (i < s.length) throw new EthtoolError('Invalid RSS hash key format', arg);
  } while (i < s.length);
  return out;
}

export interface ChannelsCommand {
  rx?: number;
  tx?: number;
  other?: number;
  combined?: number;
}

/** `-L DEV …` (do_schannels: parse_generic_cmdline with s32 values). */
export function parseChannels(args: string[]): ChannelsCommand {
  const c: ChannelsCommand = {};
  for (let i = 0; i < args.length; i += 2) {
    const w = args[i];
    if (w !== 'rx' && w !== 'tx' && w !== 'other' && w !== 'combined') throw new EthtoolError(BAD_ARGS, i);
    c[w] = intArg(args, i + 1, -(1n << 31n), INT_MAX);
  }
  return c;
}
