/**
 * The program context: what `struct xdp_md` is to an XDP program.
 *
 * One context object per queue worker, reused for every packet (load() repoints it); the
 * byte views it hands out are the frame's own preallocated views, bounded to that frame,
 * so a program can read and write its packet and its headroom but never a neighbour.
 *
 *   packet (Uint8Array over one frame)
 *   0 ─────────── dataMeta ──── data ─────────────── dataEnd ──────── frameSize
 *   │  headroom   │  metadata  │  packet bytes        │   tailroom     │
 *
 * Offsets are indices into `packet`/`view`. Nothing here allocates.
 */
import { BPF_F_MISS_MASK, XDP_ABORTED, XDP_REDIRECT } from './verdicts.js';

/** The shortest packet the helpers leave (an Ethernet header); the queue engine holds programs to it. */
export const ETH_HLEN = 14;
/** The most metadata adjustMeta() grants (bytes between dataMeta and data). */
export const META_MAX = 32;

/** Where a REDIRECT goes; set by redirect()/redirectMap(), read by the queue worker. */
export const REDIRECT_NONE = 0;
export const REDIRECT_PORT = 1; // redirectIndex = egress port index (ifindex − 1)
export const REDIRECT_XSK = 2; // redirectIndex = socket endpoint id
export const REDIRECT_CPU = 3; // redirectIndex = destination queue
export const REDIRECT_BROADCAST = 4; // every port index p with broadcastPorts[p] === 1 (a devmap sets them)

/** What a map must offer to be a redirect target (devmap, xskmap, cpumap implement it). */
export interface RedirectMap {
  /** Sets ctx's redirect target for `key`; returns false on a miss. */
  redirectLookup(ctx: XdpContext, key: number, flags: number): boolean;
}

export class XdpContext {
  /** Offset of the first packet byte. */
  data = 0;
  /** Offset one past the last packet byte. */
  dataEnd = 0;
  /** Offset of the metadata area; equals `data` when there is none. */
  dataMeta = 0;
  /** The port the packet came in on (Linux-style ifindex: port index + 1). */
  ingressIfindex = 0;
  /** The RX queue running the program. */
  rxQueueIndex = 0;
  /** RSS hash the device computed. */
  hash = 0;
  /** The frame's bytes (bounded to the frame). */
  packet: Uint8Array = new Uint8Array(0);
  /** The frame's bytes as a DataView (bounded to the frame). */
  view: DataView = new DataView(new ArrayBuffer(0));
  /** Frame index in the frame area (for the switch; programs have no use for it). */
  frame = 0;

  redirectKind = REDIRECT_NONE;
  redirectIndex = 0;
  /** For REDIRECT_BROADCAST: 1 for every port index to send to. */
  readonly broadcastPorts: Uint8Array;

  constructor(
    readonly frameSize: number,
    readonly portCount: number,
  ) {
    this.broadcastPorts = new Uint8Array(Math.max(1, portCount));
  }

  /** Length of the packet. */
  get length(): number {
    return this.dataEnd - this.data;
  }

  /** bpf_xdp_adjust_head: moves `data` by delta (negative grows the packet at the front). */
  adjustHead(delta: number): number {
    const metaLen = this.data - this.dataMeta;
    const data = this.data + delta;
    if ((delta | 0) !== delta || data - metaLen < 0 || this.dataEnd - data < ETH_HLEN) return -1;
    if (metaLen !== 0) this.packet.copyWithin(data - metaLen, this.dataMeta, this.data);
    this.data = data;
    this.dataMeta = data - metaLen;
    return 0;
  }

  /** bpf_xdp_adjust_tail: moves `dataEnd` by delta. */
  adjustTail(delta: number): number {
    const end = this.dataEnd + delta;
    if ((delta | 0) !== delta || end > this.frameSize || end - this.data < ETH_HLEN) return -1;
    this.dataEnd = end;
    return 0;
  }

  /** bpf_xdp_adjust_meta: moves `dataMeta` by delta (negative grows the metadata). */
  adjustMeta(delta: number): number {
    const meta = this.dataMeta + delta;
    if ((delta | 0) !== delta || (delta & 3) !== 0 || meta > this.data || this.data - meta > META_MAX || meta < 0) return -1;
    this.dataMeta = meta;
    return 0;
  }

  /** bpf_redirect: send out of port `ifindex`. Returns the verdict to return. */
  redirect(ifindex: number, _flags = 0): number {
    // Integers only: NaN and fractions fail every range test and would name no port.
    if (typeof ifindex !== 'number' || (ifindex | 0) !== ifindex || ifindex < 1 || ifindex > this.portCount) {
      this.redirectKind = REDIRECT_NONE;
      return XDP_ABORTED;
    }
    this.redirectKind = REDIRECT_PORT;
    this.redirectIndex = ifindex - 1;
    return XDP_REDIRECT;
  }

  /** bpf_redirect_map: the map decides the target; on a miss the low flag bits are the verdict. */
  redirectMap(map: RedirectMap, key: number, flags = 0): number {
    if (map.redirectLookup(this, key, flags)) return XDP_REDIRECT;
    this.redirectKind = REDIRECT_NONE;
    return flags & BPF_F_MISS_MASK;
  }
}
