/**
 * The match key: what the packet parser extracts and what a rule compares, as 20 Uint32
 * words. A rule is a value and a mask per word (mask bit 1 = compare, the kernel's
 * convention; the CLI's "1 = ignore" is inverted when a rule is parsed). A packet matches
 * when (key[w] & mask[w]) === value[w] for every word.
 *
 *   word  content
 *   0     class: bits 0-7 L4 protocol, bits 8-15 IP version (4, 6; 0 = not IP),
 *         bit 16 = L4 header present (not a fragment, long enough)
 *   1-4   source IP (IPv4 in word 1, words 2-4 zero)
 *   5-8   destination IP
 *   9     TOS / traffic class (bits 0-7)
 *   10    first 4 bytes after the IP header(s) (ports for TCP/UDP/SCTP; ip4/ip6 l4data)
 *   11    SPI (AH: bytes 4-7, ESP: bytes 0-3 of the IPsec header)
 *   12    bits 0-15 EtherType after any VLAN tags, bits 16-31 outer VLAN TPID (0 untagged)
 *   13    outer VLAN TCI (bits 0-15)
 *   14-15 destination MAC (upper 16 bits, lower 32 bits)
 *   16-17 source MAC
 *   18-19 user-def (xswitch carries no per-packet user data: always 0; see grammar.ts)
 */
/**
 * Word indices as a const enum: tsc writes the numbers into the per-packet code, where an
 * imported `const` would cost a module-binding load (and its TDZ check) on every use.
 */
export const enum K {
  Class = 0, Src = 1, Dst = 5, Tos = 9, L4 = 10, Spi = 11, Etype = 12, Tci = 13, Dmac = 14, Smac = 16, Udef = 18,
  Words = 20,
  /** Class-word bit: the L4 header is present. */
  HasL4 = 0x10000,
}
export const enum Proto { TCP = 6, UDP = 17, SCTP = 132, AH = 51, ESP = 50 }

export const W_CLASS = K.Class;
export const W_SRC = K.Src;
export const W_DST = K.Dst;
export const W_TOS = K.Tos;
export const W_L4 = K.L4;
export const W_SPI = K.Spi;
export const W_ETYPE = K.Etype;
export const W_TCI = K.Tci;
export const W_DMAC = K.Dmac;
export const W_SMAC = K.Smac;
export const W_UDEF = K.Udef;
export const KEY_WORDS = K.Words;
export const CLASS_HAS_L4 = K.HasL4;
export const IPPROTO_TCP = Proto.TCP;
export const IPPROTO_UDP = Proto.UDP;
export const IPPROTO_SCTP = Proto.SCTP;
export const IPPROTO_AH = Proto.AH;
export const IPPROTO_ESP = Proto.ESP;

/** ethtool flow types (uapi/linux/ethtool.h) and the flag bits ORed into them. */
export const FlowType = {
  tcp4: 0x01,
  udp4: 0x02,
  sctp4: 0x03,
  ah4: 0x09,
  esp4: 0x0a,
  ip4: 0x0d,
  tcp6: 0x05,
  udp6: 0x06,
  sctp6: 0x07,
  ah6: 0x0b,
  esp6: 0x0c,
  ip6: 0x0e,
  ether: 0x12,
} as const;
export type FlowTypeName = keyof typeof FlowType;
export const FLOW_EXT = 0x80000000;
export const FLOW_MAC_EXT = 0x40000000;
export const FLOW_RSS = 0x20000000;

/** The class-word value and mask a flow type implies (before l4proto of ip4/ip6). */
export function classFor(ft: FlowTypeName): { value: number; mask: number } {
  const v4 = 4 << 8;
  const v6 = 6 << 8;
  const l4 = (ver: number, proto: number) => ({ value: CLASS_HAS_L4 | ver | proto, mask: 0x1ffff });
  switch (ft) {
    case 'tcp4': return l4(v4, IPPROTO_TCP);
    case 'udp4': return l4(v4, IPPROTO_UDP);
    case 'sctp4': return l4(v4, IPPROTO_SCTP);
    case 'ah4': return l4(v4, IPPROTO_AH);
    case 'esp4': return l4(v4, IPPROTO_ESP);
    case 'tcp6': return l4(v6, IPPROTO_TCP);
    case 'udp6': return l4(v6, IPPROTO_UDP);
    case 'sctp6': return l4(v6, IPPROTO_SCTP);
    case 'ah6': return l4(v6, IPPROTO_AH);
    case 'esp6': return l4(v6, IPPROTO_ESP);
    case 'ip4': return { value: v4, mask: 0xff00 };
    case 'ip6': return { value: v6, mask: 0xff00 };
    case 'ether': return { value: 0, mask: 0 };
  }
}
