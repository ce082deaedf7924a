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
import { BPF_F_MISS_MASK, Verdict } from './verdicts.js';

/**
 * The context's limits and redirect kinds as const enums for the hot paths (the queue engine
 * checks every packet against them; see Desc in queues/frames.ts: an imported `const` costs a
 * module-cell load and a hole check per use); the plain names below are the same numbers.
 */
export const enum Bound {
  /** The shortest packet the helpers leave (an Ethernet header); the queue engine holds programs to it. */
  ETH_HLEN = 14,
  /** The most metadata adjustMeta() grants (bytes between dataMeta and data). */
  META_MAX = 32,
}
/** Where a REDIRECT goes; set by redirect()/redirectMap(), read by the queue worker. */
export const enum Redirect {
  NONE = 0,
  PORT = 1, // redirectIndex = egress port index (ifindex − 1)
  XSK = 2, // redirectIndex = socket endpoint id
  CPU = 3, // redirectIndex = destination queue
  BROADCAST = 4, // every port index p with broadcastPorts[p] === 1 (a devmap sets them)
}
export const ETH_HLEN: number = Bound.ETH_HLEN;
export const META_MAX: number = Bound.META_MAX;
export const REDIRECT_NONE: number = Redirect.NONE;
export const REDIRECT_PORT: number = Redirect.PORT;
export const REDIRECT_XSK: number = Redirect.XSK;
export const REDIRECT_CPU: number = Redirect.CPU;
export const REDIRECT_BROADCAST: number = Redirect.BROADCAST;

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
  /**
   * The frame `packet`, `view` and `frame` show, set only by point(): a program cannot reach
   * it, so whatever it writes into `frame` (or `packet`) it still sees its own frame and no other.
   */
  #slot = 0;
  readonly #views: readonly Uint8Array[];
  readonly #dataViews: readonly DataView[];

  redirectKind: number = Redirect.NONE;
  redirectIndex = 0;
  /** For REDIRECT_BROADCAST: 1 for every port index to send to. */
  readonly broadcastPorts: Uint8Array;

  /**
   * `views`/`dataViews`: every frame's own views (FrameArea.frameViews(), frameDataViews()),
   * made once; the context hands out the one of the frame it points at.
   */
  constructor(
    readonly frameSize: number,
    readonly portCount: number,
    views: readonly Uint8Array[],
    dataViews: readonly DataView[],
  ) {
    this.broadcastPorts = new Uint8Array(Math.max(1, portCount));
    this.#views = views;
    this.#dataViews = dataViews;
  }

  /**
   * Points the context at frame f (the switch, per packet). Only the index is stored: the
   * views are looked up when a program asks for them, so a program that does not touch the
   * bytes (a redirect) costs no lookup, and the switch writes no object pointers per packet.
   */
  point(frame: number): void {
    this.#slot = frame;
  }

  /** Frame index in the frame area (for the switch and a tap; programs have no use for it). */
  get frame(): number {
    return this.#slot;
  }

  /** The frame's bytes (bounded to the frame). */
  get packet(): Uint8Array {
    return this.#views[this.#slot];
  }

  /** The frame's bytes as a DataView (bounded to the frame). */
  get view(): DataView {
    return this.#dataViews[this.#slot];
  }

  /** A program may write anything into its context: a new `packet`, `view` or `frame` is ignored. */
  set packet(_ignored: Uint8Array) {}
  set view(_ignored: DataView) {}
  set frame(_ignored: number) {}

  /** Length of the packet. */
  get length(): number {
    return this.dataEnd - this.data;
  }

  /** bpf_xdp_adjust_head: moves `data` by delta (negative grows the packet at the front). */
  adjustHead(delta: number): number {
    const metaLen = this.data - this.dataMeta;
    const data = this.data + delta;
    if ((delta | 0) !== delta || data - metaLen < 0 || this.dataEnd - data < Bound.ETH_HLEN) return -1;
    if (metaLen !== 0) this.packet.copyWithin(data - metaLen, this.dataMeta, this.data);
    this.data = data;
    this.dataMeta = data - metaLen;
    return 0;
  }

  /** bpf_xdp_adjust_tail: moves `dataEnd` by delta. */
  adjustTail(delta: number): number {
    const end = this.dataEnd + delta;
    if ((delta | 0) !== delta || end > this.frameSize || end - this.data < Bound.ETH_HLEN) return -1;
    this.dataEnd = end;
    return 0;
  }

  /** bpf_xdp_adjust_meta: moves `dataMeta` by delta (negative grows the metadata). */
  adjustMeta(delta: number): number {
    const meta = this.dataMeta + delta;
    if ((delta | 0) !== delta || (delta & 3) !== 0 || meta > this.data || this.data - meta > Bound.META_MAX || meta < 0) return -1;
    this.dataMeta = meta;
    return 0;
  }

  /** bpf_redirect: send out of port `ifindex`. Returns the verdict to return. */
  redirect(ifindex: number, _flags = 0): number {
    // Integers only: NaN and fractions fail every range test and would name no port.
    if (typeof ifindex !== 'number' || (ifindex | 0) !== ifindex || ifindex < 1 || ifindex > this.portCount) {
      this.redirectKind = Redirect.NONE;
      return Verdict.ABORTED;
    }
    this.redirectKind = Redirect.PORT;
    this.redirectIndex = ifindex - 1;
    return Verdict.REDIRECT;
  }

  /** bpf_redirect_map: the map decides the target; on a miss the low flag bits are the verdict. */
  redirectMap(map: RedirectMap, key: number, flags = 0): number {
    if (map.redirectLookup(this, key, flags)) return Verdict.REDIRECT;
    this.redirectKind = Redirect.NONE;
    return flags & BPF_F_MISS_MASK;
  }
}
