/**
 * The frame area (the switch's UMEM) and the packet descriptor.
 *
 *   frame area (one SharedArrayBuffer)
 *   ┌───────────── frame 0 ─────────────┬───────────── frame 1 ─────────────┬── …
 *   │ headroom (256) │ meta │ data …    │ headroom (256) │ data …           │
 *   └───────────────────────────────────┴───────────────────────────────────┴── …
 *     frame f starts at byte f × frameSize
 *
 * Frames are fixed-size (2048 bytes by default, 4096 or 16384 for jumbo). Packet data starts after
 * XDP_PACKET_HEADROOM bytes so programs can push headers in place.
 *
 * A descriptor is DESC_WORDS Int32 words in a ring slot — never packet bytes:
 *   word 0  frame index
 *   word 1  data offset in the frame (low 16 bits) | data length (high 16 bits)
 *   word 2  RSS hash (u32)
 *   word 3  ingress port index (bits 0–7) | metadata length (bits 8–15) | flags (16–31)
 */
export const XDP_PACKET_HEADROOM = 256;
export const DEFAULT_FRAME_SIZE = 2048;

export const DESC_WORDS = 4;
/**
 * The descriptor's words, for the hot paths. A const enum because TypeScript writes its
 * numbers into the code that uses them: an imported `const` is, in V8's optimised code, a
 * load from the exporting module's cell and a hole (TDZ) check at every use, a handful of
 * instructions per packet per constant. The D_* names below are the same numbers for code
 * off the hot path.
 */
export const enum Desc {
  FRAME = 0,
  OFFLEN = 1,
  HASH = 2,
  META = 3,
}
export const D_FRAME: number = Desc.FRAME;
export const D_OFFLEN: number = Desc.OFFLEN;
export const D_HASH: number = Desc.HASH;
export const D_META: number = Desc.META;

export function packOffLen(offset: number, length: number): number {
  return (offset & 0xffff) | (length << 16);
}
export function descOffset(offLen: number): number {
  return offLen & 0xffff;
}
export function descLength(offLen: number): number {
  return offLen >>> 16;
}
export function packMeta(port: number, metaLen: number, flags: number): number {
  return (port & 0xff) | ((metaLen & 0xff) << 8) | (flags << 16);
}
export function metaPort(meta: number): number {
  return meta & 0xff;
}
export function metaLen(meta: number): number {
  return (meta >>> 8) & 0xff;
}

/**
 * A super-frame (GSO/GRO): up to SUPER_FRAME_MAX bytes after the headroom, in superFrameSpan
 * consecutive frame slots named by the first (queues/pool.ts). 65535: the descriptor's
 * 16-bit length.
 */
export const SUPER_FRAME_MAX = 65535;
/**
 * Where a super-frame's data starts in its first slot: 4 bytes past the headroom, so that
 * it has the offset modulo 8 of a frame in a virtio buffer behind the 12-byte
 * virtio_net_hdr (buffers are 8-aligned). The engine's memcpy over shared memory moves
 * 8-byte words only between ends that agree modulo 8, bytes otherwise: a 64 KB super-frame
 * copied from a guest's TX buffer or into its RX buffer takes ≈ 3 µs this way, ≈ 11 µs in
 * 4-byte words (queues/copy.ts).
 */
export const SUPER_FRAME_HEADROOM = XDP_PACKET_HEADROOM + 4;
export function superFrameSpan(frameSize: number): number {
  return Math.ceil((SUPER_FRAME_HEADROOM + SUPER_FRAME_MAX) / frameSize);
}

/** Maximum L2 frame length a frame of `frameSize` bytes can carry. */
export function maxPacketLength(frameSize: number): number {
  return frameSize - XDP_PACKET_HEADROOM;
}

export class FrameArea {
  readonly sab: SharedArrayBuffer;
  readonly frameSize: number;
  readonly frameCount: number;
  /** The whole area, for copies inside it (copyWithin) and bulk I/O. */
  readonly bytes: Uint8Array;
  private views: Uint8Array[] | null = null;
  private dataViews: DataView[] | null = null;

  static create(frameCount: number, frameSize = DEFAULT_FRAME_SIZE): FrameArea {
    if (frameSize !== 2048 && frameSize !== 4096 && frameSize !== 16384) throw new RangeError(`frame size ${frameSize} is not 2048, 4096 or 16384`);
    if (frameCount < 1 || frameCount > 1 << 22) throw new RangeError(`frame count ${frameCount} is out of range 1..${1 << 22}`);
    return new FrameArea(new SharedArrayBuffer(frameCount * frameSize), frameSize);
  }

  constructor(sab: SharedArrayBuffer, frameSize: number) {
    this.sab = sab;
    this.frameSize = frameSize;
    this.frameCount = Math.floor(sab.byteLength / frameSize);
    this.bytes = new Uint8Array(sab);
  }

  /** Byte offset of frame f in the area. */
  base(frame: number): number {
    return frame * this.frameSize;
  }

  /**
   * One Uint8Array per frame, bounded to that frame, created once (allocates frameCount
   * views at first call, never on the data path). Programs get these so a write cannot
   * reach a neighbouring frame.
   */
  frameViews(): Uint8Array[] {
    if (this.views === null) {
      const v: Uint8Array[] = new Array(this.frameCount);
      for (let f = 0; f < this.frameCount; f++) v[f] = new Uint8Array(this.sab, f * this.frameSize, this.frameSize);
      this.views = v;
    }
    return this.views;
  }

  /** One DataView per frame, bounded like frameViews(). */
  frameDataViews(): DataView[] {
    if (this.dataViews === null) {
      const v: DataView[] = new Array(this.frameCount);
      for (let f = 0; f < this.frameCount; f++) v[f] = new DataView(this.sab, f * this.frameSize, this.frameSize);
      this.dataViews = v;
    }
    return this.dataViews;
  }
}
