/**
 * What `ethtool -n`, `-n … rule N`, `-n … rx-flow-hash T`, `-x` and `-l` print, byte for
 * byte (rxclass.c rxclass_print_nfc_rule, ethtool.c print_indir_table / do_grxfh /
 * dump_channels / dump_rxfhash), for one port's state. Printed masks use the CLI
 * convention (1 = ignore), so an unspecified IPv4 address prints `0.0.0.0 mask:
 * 255.255.255.255` — except the `dst-mac` of an IP rule, which ethtool prints without
 * inverting (it reads m_ext.h_dest directly); that quirk is kept.
 */
import { EthtoolError, RXH_DISCARD, RXH_IP_DST, RXH_IP_SRC, RXH_L2DA, RXH_L3_PROTO, RXH_L4_B_0_1, RXH_L4_B_2_3, RXH_VLAN } from './grammar.js';
import { FLOW_EXT, FLOW_MAC_EXT, FLOW_RSS, W_CLASS, W_DMAC, W_DST, W_ETYPE, W_L4, W_SMAC, W_SPI, W_SRC, W_TCI, W_TOS, W_UDEF } from './key.js';
import { actionOf, A_DROP, A_WAKE, type Rule } from './rule.js';
import { HFUNCS, RXFH_CLASS, type PortSteering } from './state.js';
import { formatIPv4, formatIPv6, formatMacUpper } from './values.js';

const hex = (v: number) => '0x' + (v >>> 0).toString(16);

/** A field's value and CLI mask (1 = ignore) from a word: bits [shift, shift + width). */
function field(r: Rule, w: number, shift: number, width: number): [number, number] {
  const m = width === 32 ? 0xffffffff : (1 << width) - 1;
  return [((r.value[w] >>> shift) & m) >>> 0, (~(r.mask[w] >>> shift) & m) >>> 0];
}

function mac(words: Uint32Array, w: number, invert: boolean): string {
  const hi = invert ? ~words[w] & 0xffff : words[w];
  const lo = invert ? ~words[w + 1] >>> 0 : words[w + 1];
  return formatMacUpper([(hi >> 8) & 255, hi & 255, lo >>> 24, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255]);
}

function ip4Lines(r: Rule): string {
  const [s, sm] = field(r, W_SRC, 0, 32);
  const [d, dm] = field(r, W_DST, 0, 32);
  const [t, tm] = field(r, W_TOS, 0, 8);
  return `\tSrc IP addr: ${formatIPv4(s)} mask: ${formatIPv4(sm)}\n` +
    `\tDest IP addr: ${formatIPv4(d)} mask: ${formatIPv4(dm)}\n` +
    `\tTOS: ${hex(t)} mask: ${hex(tm)}\n`;
}

function ip6Lines(r: Rule): string {
  const words = (arr: Uint32Array, w: number, inv: boolean) => Array.from(arr.subarray(w, w + 4), (x) => (inv ? ~x >>> 0 : x));
  const [t, tm] = field(r, W_TOS, 0, 8);
  return `\tSrc IP addr: ${formatIPv6(words(r.value, W_SRC, false))} mask: ${formatIPv6(words(r.mask, W_SRC, true))}\n` +
    `\tDest IP addr: ${formatIPv6(words(r.value, W_DST, false))} mask: ${formatIPv6(words(r.mask, W_DST, true))}\n` +
    `\tTraffic Class: ${hex(t)} mask: ${hex(tm)}\n`;
}

function portLines(r: Rule): string {
  const [s, sm] = field(r, W_L4, 16, 16);
  const [d, dm] = field(r, W_L4, 0, 16);
  return `\tSrc port: ${s} mask: ${hex(sm)}\n\tDest port: ${d} mask: ${hex(dm)}\n`;
}

function userLines(r: Rule): string {
  const [p, pm] = field(r, W_CLASS, 0, 8);
  const [l, lm] = field(r, W_L4, 0, 32);
  return `\tProtocol: ${p} mask: ${hex(pm)}\n\tL4 bytes: ${hex(l)} mask: ${hex(lm)}\n`;
}

/** SPI prints with %d in ethtool: a value ≥ 2^31 prints negative. */
function spiLine(r: Rule): string {
  const [s, sm] = field(r, W_SPI, 0, 32);
  return `\tSPI: ${s | 0} mask: ${hex(sm)}\n`;
}

const TITLES: Record<string, string> = {
  tcp4: 'TCP over IPv4', udp4: 'UDP over IPv4', sctp4: 'SCTP over IPv4', ah4: 'IPSEC AH over IPv4',
  esp4: 'IPSEC ESP over IPv4', ip4: 'Raw IPv4', tcp6: 'TCP over IPv6', udp6: 'UDP over IPv6',
  sctp6: 'SCTP over IPv6', ah6: 'IPSEC AH over IPv6', esp6: 'IPSEC ESP over IPv6', ip6: 'Raw IPv6',
};

/** One rule, as `ethtool -n DEV rule N` prints it (ends with a blank line). */
export function formatRule(r: Rule): string {
  let s = `Filter: ${r.loc}\n`;
  const ft = r.flowType;
  if (ft === 'ether') {
    const [p, pm] = field(r, W_ETYPE, 0, 16);
    s += '\tFlow Type: Raw Ethernet\n' +
      `\tSrc MAC addr: ${mac(r.value, W_SMAC, false)} mask: ${mac(r.mask, W_SMAC, true)}\n` +
      `\tDest MAC addr: ${mac(r.value, W_DMAC, false)} mask: ${mac(r.mask, W_DMAC, true)}\n` +
      `\tEthertype: 0x${p.toString(16).toUpperCase()} mask: 0x${pm.toString(16).toUpperCase()}\n`;
  } else {
    s += `\tRule Type: ${TITLES[ft]}\n`;
    const v6 = ft.endsWith('6');
    s += v6 ? ip6Lines(r) : ip4Lines(r);
    if (ft.startsWith('tcp') || ft.startsWith('udp') || ft.startsWith('sctp')) s += portLines(r);
    else if (ft.startsWith('ah') || ft.startsWith('esp')) s += spiLine(r);
    else s += userLines(r);
  }
  if (r.flags & FLOW_EXT) {
    const [e, em] = field(r, W_ETYPE, 16, 16);
    const [t, tm] = field(r, W_TCI, 0, 16);
    const udef = (BigInt(r.value[W_UDEF]) << 32n) | BigInt(r.value[W_UDEF + 1]);
    const udefm = ~((BigInt(r.mask[W_UDEF]) << 32n) | BigInt(r.mask[W_UDEF + 1])) & ((1n << 64n) - 1n);
    s += `\tVLAN EtherType: ${hex(e)} mask: ${hex(em)}\n\tVLAN: ${hex(t)} mask: ${hex(tm)}\n` +
      `\tUser-defined: 0x${udef.toString(16)} mask: 0x${udefm.toString(16)}\n`;
  }
  if (r.flags & FLOW_MAC_EXT) s += `\tDest MAC addr: ${mac(r.value, W_DMAC, false)} mask: ${mac(r.mask, W_DMAC, false)}\n`;
  if (r.flags & FLOW_RSS) s += `\tRSS Context ID: ${r.context >>> 0}\n`;
  const a = actionOf(r);
  if (a.kind === A_DROP) s += '\tAction: Drop\n';
  else if (a.kind === A_WAKE) s += '\tAction: Wake-on-LAN\n';
  else if (a.vf) s += `\tAction: Direct to VF ${a.vf - 1} queue ${a.queue}\n`;
  else s += `\tAction: Direct to queue ${a.queue}\n`;
  return s + '\n';
}

/** `ethtool -n DEV`. */
export function formatRules(st: PortSteering): string {
  let s = `${st.queues} RX rings available\nTotal ${st.rules.size} rules\n\n`;
  for (const r of st.sortedRules()) s += formatRule(r);
  return s;
}

/** `ethtool -x DEV [context N]`. */
export function formatRxfh(st: PortSteering, dev: string, context = 0): string {
  const ctx = st.contexts.get(context);
  if (!ctx) throw new EthtoolError('Cannot get RX flow hash indir size and/or key size: No such file or directory');
  let s = `RX flow hash indirection table for ${dev} with ${st.queues} RX ring(s):\n`;
  ctx.indir.forEach((q, i) => {
    if (i % 8 === 0) s += `${String(i).padStart(5)}: `;
    s += ` ${String(q).padStart(5)}`;
    if (i % 8 === 7 || i === ctx.indir.length - 1) s += '\n';
  });
  s += 'RSS hash key:\n' + ctx.key.map((b) => b.toString(16).padStart(2, '0')).join(':') + '\n';
  s += 'RSS hash function:\n';
  HFUNCS.forEach((name, i) => { s += `    ${name}: ${ctx.hfunc === i ? 'on' : 'off'}\n`; });
  return s;
}

/** `ethtool -l DEV`: xswitch has combined channels only; the others print n/a. */
export function formatChannels(st: PortSteering, dev: string): string {
  return `Channel parameters for ${dev}:\nPre-set maximums:\nRX:\t\tn/a\nTX:\t\tn/a\nOther:\t\tn/a\nCombined:\t${st.maxQueues}\n` +
    `Current hardware settings:\nRX:\t\tn/a\nTX:\t\tn/a\nOther:\t\tn/a\nCombined:\t${st.queues}\n\n`;
}

const RXFH_TITLES: Record<string, string> = {
  tcp4: 'TCP over IPV4 flows', udp4: 'UDP over IPV4 flows', sctp4: 'SCTP over IPV4 flows',
  ah4: 'IPSEC AH/ESP over IPV4 flows', esp4: 'IPSEC AH/ESP over IPV4 flows', tcp6: 'TCP over IPV6 flows',
  udp6: 'UDP over IPV6 flows', sctp6: 'SCTP over IPV6 flows', ah6: 'IPSEC AH/ESP over IPV6 flows',
  esp6: 'IPSEC AH/ESP over IPV6 flows', ether: '',
};

/** `ethtool -n DEV rx-flow-hash T [context N]`. */
export function formatRxFlowHash(st: PortSteering, type: string, context?: number): string {
  const ctx = st.contexts.get(context ?? 0);
  if (!ctx) throw new EthtoolError('Cannot get RX network flow hashing options: No such file or directory');
  const v = ctx.fields[RXFH_CLASS[type]];
  let s = context !== undefined ? `For RSS context ${context}:\n` : '';
  s += RXFH_TITLES[type];
  if (v & RXH_DISCARD) return s + ' - All matching flows discarded on RX\n';
  s += ' use these fields for computing Hash flow key:\n';
  let body = '';
  if (v & RXH_L2DA) body += 'L2DA\n';
  if (v & RXH_VLAN) body += 'VLAN tag\n';
  if (v & RXH_L3_PROTO) body += 'L3 proto\n';
  if (v & RXH_IP_SRC) body += 'IP SA\n';
  if (v & RXH_IP_DST) body += 'IP DA\n';
  if (v & RXH_L4_B_0_1) body += 'L4 bytes 0 & 1 [TCP/UDP src port]\n';
  if (v & RXH_L4_B_2_3) body += 'L4 bytes 2 & 3 [TCP/UDP dst port]\n';
  return s + (body || 'None') + '\n';
}
