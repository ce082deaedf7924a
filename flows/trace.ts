/**
 * `xswitch trace`: what the steering hook does with one packet, step by step — how it
 * parsed, which rule matched (lowest location) or the RSS hash, the indirection index and
 * context, and the queue. The packet is hex bytes, or a tuple in ethtool's words
 * (`udp4 src-ip 10.0.0.1 dst-port 53`), built into a frame here. It runs the very steerer
 * the device thread runs, on the published table.
 */
import { EthtoolError, parseRule } from './grammar.js';
import { K } from './key.js';
import { C, PARSE_REASONS, ParsedPacket } from './packet.js';
import { formatRule } from './print.js';
import { FlowSteerer } from './steerer.js';
import type { SteeringControl } from './control.js';
import { formatIPv4, formatIPv6 } from './values.js';

/** Hex bytes, with or without separators (spaces, colons, a 0x prefix). */
export function parseHex(text: string): Uint8Array {
  const clean = text.replace(/^0x/i, '').replace(/[\s:.-]/g, '');
  if (clean.length === 0 || clean.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(clean)) {
    throw new Error('--hex wants an even number of hex digits (spaces and colons allowed)');
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const PROTO: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, ah: 51, esp: 50 };

/**
 * A frame for a tuple in ethtool's words: the flow type, then fields as `-N` takes them
 * (src-ip, dst-ip, tos/tclass, src-port, dst-port, spi, l4proto, l4data, vlan,
 * vlan-etype, dst-mac; for ether: src, dst, proto). Masks, actions and loc are refused.
 */
export function frameFromTuple(words: string[]): Uint8Array {
  for (const w of words) if (['m', 'action', 'queue', 'vf', 'loc', 'context'].includes(w) || w.endsWith('-mask')) {
    throw new EthtoolError(`a packet has no '${w}': give field values only`);
  }
  const r = parseRule(words, 0);
  const v = r.value;
  const ft = r.flowType;
  const b: number[] = [];
  const mac = (w: number, dflt: number[]) => (r.mask[w] || r.mask[w + 1] ? [v[w] >> 8, v[w] & 255, v[w + 1] >>> 24, (v[w + 1] >>> 16) & 255, (v[w + 1] >>> 8) & 255, v[w + 1] & 255] : dflt);
  const be32 = (x: number) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];
  b.push(...mac(K.Dmac, [2, 0, 0, 0, 0, 2]), ...mac(K.Smac, [2, 0, 0, 0, 0, 1]));
  if (r.mask[K.Tci] || r.mask[K.Etype] >>> 16) {
    const tpid = r.mask[K.Etype] >>> 16 ? v[K.Etype] >>> 16 : 0x8100;
    b.push(tpid >> 8, tpid & 255, (v[K.Tci] >> 8) & 255, v[K.Tci] & 255);
  }
  if (ft === 'ether') {
    const t = r.mask[K.Etype] & 0xffff ? v[K.Etype] & 0xffff : 0x88b5;
    b.push(t >> 8, t & 255, ...new Array<number>(46).fill(0));
    return Uint8Array.from(b);
  }
  const v6 = ft.endsWith('6');
  const kind = ft.slice(0, -1);
  const proto = kind === 'ip' ? (r.mask[K.Class] & 0xff ? v[K.Class] & 0xff : 253) : PROTO[kind];
  let l4: number[];
  if (kind === 'ah') l4 = [59, 4, 0, 0, ...be32(v[K.Spi]), 0, 0, 0, 1, 0, 0, 0, 0];
  else if (kind === 'esp') l4 = [...be32(v[K.Spi]), 0, 0, 0, 1];
  else {
    l4 = [...be32(v[K.L4]), ...new Array<number>(kind === 'tcp' ? 16 : kind === 'sctp' ? 8 : 4).fill(0)];
    if (kind === 'tcp') l4[12] = 0x50;
    if (kind === 'udp') l4[5] = 8;
  }
  if (!v6) {
    const total = 20 + l4.length;
    b.push(0x08, 0x00, 0x45, v[K.Tos], total >> 8, total & 255, 0, 0, 0, 0, 64, proto, 0, 0, ...be32(v[K.Src]), ...be32(v[K.Dst]), ...l4);
  } else {
    const tc = v[K.Tos];
    b.push(0x86, 0xdd, 0x60 | (tc >> 4), (tc & 15) << 4, 0, 0, l4.length >> 8, l4.length & 255, proto, 64);
    for (let i = 0; i < 4; i++) b.push(...be32(v[K.Src + i]));
    for (let i = 0; i < 4; i++) b.push(...be32(v[K.Dst + i]));
    b.push(...l4);
  }
  while (b.length < 60) b.push(0);
  return Uint8Array.from(b);
}

function describe(p: ParsedPacket, b: Uint8Array): string {
  const k = p.key;
  const ver = (k[K.Class] >> 8) & 0xff;
  if (ver === 0) return `Ethernet, EtherType 0x${(k[K.Etype] & 0xffff).toString(16).padStart(4, '0')}`;
  const proto = k[K.Class] & 0xff;
  const names: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP', 51: 'AH', 50: 'ESP' };
  const addr = (w: number) => (ver === 4 ? formatIPv4(k[w]) : formatIPv6(k.subarray(w, w + 4)));
  const l4 = p.l4Off >= 0;
  const ports = l4 && (proto === 6 || proto === 17 || proto === 132);
  const sp = ports ? `:${(b[p.l4Off] << 8) | b[p.l4Off + 1]}` : '';
  const dp = ports ? `:${(b[p.l4Off + 2] << 8) | b[p.l4Off + 3]}` : '';
  const spi = l4 && (proto === 50 || proto === 51) ? `, SPI ${k[K.Spi]}` : '';
  const frag = !l4 && (p.cls === C.Ip4 || p.cls === C.Ip6) && (proto === 6 || proto === 17 || proto === 132) ? ' (fragment: no L4 fields)' : '';
  const vlan = k[K.Etype] >>> 16 ? `, VLAN 0x${(k[K.Etype] >>> 16).toString(16)} TCI 0x${k[K.Tci].toString(16)}` : '';
  return `${names[proto] ?? `protocol ${proto}`} over IPv${ver} ${addr(K.Src)}${sp} → ${addr(K.Dst)}${dp}${spi}${vlan}${frag}`;
}

/** The trace of one packet through `control`'s published steering, as lines of text. */
export function traceSteering(control: SteeringControl, bytes: Uint8Array): string[] {
  const s = new FlowSteerer(control.shared, { counts: false }); // the device thread owns the counters
  const q = s.steer(bytes, 0, bytes.length);
  const t = s.table!;
  const out = [`port ${control.port}: ${t.queues} RX ring(s), ${t.matcher.size} rule(s)`];
  out.push(`packet: ${bytes.length} bytes, ${describe(s.packet, bytes)}`);
  if (s.lastReason !== 0) out.push(`parse: fell back to L2 (${PARSE_REASONS[s.lastReason]}), counted as rx_steer_${PARSE_REASONS[s.lastReason]}`);
  if (s.lastRule >= 0) {
    const loc = t.matcher.loc[s.lastRule];
    out.push(`matched rule ${loc} (the lowest matching location):`);
    for (const l of formatRule(control.state.rules.get(loc)!).trimEnd().split('\n')) out.push('  ' + l);
  } else {
    out.push('matched no rule');
  }
  out.push(`RSS hash: 0x${(s.hash >>> 0).toString(16).padStart(8, '0')}`);
  if (q < 0) {
    out.push(s.lastRule >= 0 ? 'queue: none (dropped by the rule)' : 'queue: none (dropped: rx-flow-hash discards this flow type)');
  } else {
    if (s.lastRule < 0 || t.context[s.lastRule] >= 0) {
      out.push(`indirection: context ${s.lastContext}, index ${s.lastIndex} (hash & ${t.indirMask}) → ${t.indir[s.lastContext * t.indirSize + s.lastIndex]}` +
        (s.lastRule >= 0 ? ` + action offset ${t.queue[s.lastRule]}` : ''));
    }
    out.push(`queue: ${q}`);
  }
  return out;
}
