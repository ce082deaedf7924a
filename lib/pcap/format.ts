/**
 * Numbers from the capture file formats (libpcap `pcap-savefile(5)`, the pcapng
 * specification draft-ietf-opsawg-pcapng, and libpcap `sf-pcapng.c` for limits).
 */

// Classic pcap: the magic as a little-endian reader sees the first four bytes.
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_MAGIC_US_SWAPPED = 0xd4c3b2a1;
export const PCAP_MAGIC_NS_SWAPPED = 0x4d3cb2a1;
export const PCAP_FILE_HEADER = 24;
export const PCAP_RECORD_HEADER = 16;

// pcapng block types and the section header's byte-order magic.
export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 0x00000001;
export const BT_OPB = 0x00000002; // obsolete Packet Block (still written by old tools)
export const BT_SPB = 0x00000003;
export const BT_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const BYTE_ORDER_MAGIC_SWAPPED = 0x4d3c2b1a;

// Option codes.
export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_TSRESOL = 9;
export const IF_TSOFFSET = 14;
export const EPB_FLAGS = 2;
export const EPB_VERDICT = 7;
/** epb_verdict type octet: the value that follows is a Linux XDP action (u64). */
export const VERDICT_TYPE_XDP = 2;

// Minimum block lengths (header, fixed body, trailing length).
export const SHB_MIN = 28;
export const IDB_MIN = 20;
export const EPB_MIN = 32;
export const SPB_MIN = 16;
export const OPB_MIN = 32;

/** Ethernet (LINKTYPE_ETHERNET): the only link type the switch carries. */
export const LINKTYPE_ETHERNET = 1;

/**
 * libpcap's largest snapshot length (MAXIMUM_SNAPLEN): a record claiming more is corrupt,
 * whatever the switch's frame size. tcpdump writes this as the file's snaplen.
 */
export const MAX_SNAPLEN = 262144;
/** libpcap refuses pcapng blocks beyond 16 MiB (MAX_BLOCKSIZE); so do we. */
export const MAX_BLOCK = 16 * 1024 * 1024;

const LINKTYPE_NAMES: Record<number, string> = {
  0: 'NULL',
  1: 'ETHERNET',
  101: 'RAW',
  105: 'IEEE802_11',
  113: 'LINUX_SLL',
  127: 'IEEE802_11_RADIOTAP',
  228: 'IPV4',
  229: 'IPV6',
  276: 'LINUX_SLL2',
};

export function linkTypeName(t: number): string {
  const n = LINKTYPE_NAMES[t];
  return n === undefined ? String(t) : `${t} (${n})`;
}

export function hex32(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}
