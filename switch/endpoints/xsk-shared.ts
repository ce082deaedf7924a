/**
 * The shared state of an AF_XDP-style socket: a frame area (the UMEM) and four SPSC
 * rings, exactly as af_xdp.rst lays them out, over SharedArrayBuffers so the application
 * (any thread) and the switch's queue worker share them.
 *
 *   application                                   queue worker q (switch side)
 *   ┌──────────────┐  FILL  (u64 addr)     ──────▶ ┌──────────────────────────────┐
 *   │ owns free    │  RX    (xdp_desc)     ◀────── │ deliver(): take a FILL addr,  │
 *   │ UMEM frames  │  TX    (xdp_desc)     ──────▶ │ copy, post xdp_desc on RX     │
 *   │              │  COMPLETION (u64)     ◀────── │ pollTx(): TX → emit → COMP    │
 *   └──────────────┘                               └──────────────────────────────┘
 *
 * Ring entries are Int32 words in queues/ring.ts rings: a u64 address is two words (low,
 * high; the high word must be 0 — a UMEM is a SharedArrayBuffer, < 4 GiB); an xdp_desc
 * is four words {addr lo, addr hi, len u32, options u32}. `options` carries a port index
 * in its low 16 bits: on RX the port the packet came in on; on TX the port to send out of,
 * when the socket is bound to the local stack (a socket bound to a port always sends out
 * of that port).
 *
 * need_wakeup: FILL and TX carry the ring's NEEDS_WAKEUP flag, set by the switch side (the
 * consumer) when it goes idle; the application's submit then rings the queue worker's
 * doorbell, once bound (bindXsk returns it; XskSocket.attachSwitchBell), else
 * `wake[kSwitchBell]`.
 * RX and COMPLETION: the application sets NEEDS_WAKEUP before it sleeps on `wake[kAppBell]`,
 * which the switch side's submit rings.
 */
import { Ring } from '../../queues/ring.js';

export const XSK_DESC_WORDS = 4;
export const XSK_ADDR_WORDS = 2;
/**
 * An RX/TX descriptor's words, as a const enum for the per-packet paths (see Desc in
 * queues/frames.ts: an imported `const` costs a module-cell load and a hole check per use).
 */
export const enum XskDesc {
  ADDR_LO = 0,
  ADDR_HI = 1,
  LEN = 2,
  OPTIONS = 3,
}
export const DESC_ADDR_LO: number = XskDesc.ADDR_LO;
export const DESC_ADDR_HI: number = XskDesc.ADDR_HI;
export const DESC_LEN: number = XskDesc.LEN;
export const DESC_OPTIONS: number = XskDesc.OPTIONS;

export const kAppBell = 0;
export const kSwitchBell = 1;
/**
 * 1 once the application rings the queue worker's own doorbell (XskSocket.attachSwitchBell,
 * with the handle bindXsk returns): the worker may then sleep long, since a submit on FILL
 * or TX wakes it. 0: it rings kSwitchBell, which no thread sleeps on, so the worker polls.
 */
export const kRingsWorker = 2;

/** XDP_STATISTICS (struct xdp_statistics) first, then packet and byte counts. */
export const XSK_COUNTERS = [
  'rx_dropped',
  'rx_invalid_descs',
  'tx_invalid_descs',
  'rx_ring_full',
  'rx_fill_ring_empty_descs',
  'tx_ring_empty_descs',
  'rx_packets',
  'rx_bytes',
  'tx_packets',
  'tx_bytes',
  'tx_dropped',
] as const;
export const enum X {
  rx_dropped,
  rx_invalid_descs,
  tx_invalid_descs,
  rx_ring_full,
  rx_fill_ring_empty_descs,
  tx_ring_empty_descs,
  rx_packets,
  rx_bytes,
  tx_packets,
  tx_bytes,
  tx_dropped,
}

/** Everything a socket is, structured-cloneable: what the app hands to sw.bindXsk(). */
export interface XskShared {
  umem: SharedArrayBuffer;
  frameSize: number;
  /** Bytes the switch leaves before packet data in each RX frame (XDP_UMEM headroom). */
  headroom: number;
  fill: SharedArrayBuffer;
  completion: SharedArrayBuffer;
  rx: SharedArrayBuffer;
  tx: SharedArrayBuffer;
  /** Counters, written by the switch side only. */
  stats: SharedArrayBuffer;
  /** [kAppBell, kSwitchBell, kRingsWorker] doorbell words. */
  wake: SharedArrayBuffer;
}

export interface XskOptions {
  /** UMEM frames (default 4096). */
  frames?: number;
  /** 2048 or 4096 (default 2048). */
  frameSize?: number;
  /** Entries per ring, a power of two (default 2048). */
  ringSize?: number;
  /** Headroom before packet data in RX frames (default 0; < frameSize − 256). */
  headroom?: number;
  /** First ring index (tests: start near 2^32 to cross the wrap-around). */
  startIndex?: number;
}

export function createXskShared(o: XskOptions = {}): XskShared {
  const frames = o.frames ?? 4096;
  const frameSize = o.frameSize ?? 2048;
  const ringSize = o.ringSize ?? 2048;
  const headroom = o.headroom ?? 0;
  if (frameSize !== 2048 && frameSize !== 4096) throw new RangeError(`xsk frame size ${frameSize} is not 2048 or 4096`);
  if (!Number.isInteger(frames) || frames < 1 || frames * frameSize > 2 ** 31) throw new RangeError(`xsk frame count ${frames} out of range`);
  if (!Number.isInteger(headroom) || headroom < 0 || headroom >= frameSize - 256) throw new RangeError(`xsk headroom ${headroom} must be below ${frameSize - 256}`);
  return {
    umem: new SharedArrayBuffer(frames * frameSize),
    frameSize,
    headroom,
    fill: Ring.create(ringSize, XSK_ADDR_WORDS, o.startIndex).sab,
    completion: Ring.create(ringSize, XSK_ADDR_WORDS, o.startIndex).sab,
    rx: Ring.create(ringSize, XSK_DESC_WORDS, o.startIndex).sab,
    tx: Ring.create(ringSize, XSK_DESC_WORDS, o.startIndex).sab,
    stats: new SharedArrayBuffer(XSK_COUNTERS.length * 8),
    wake: new SharedArrayBuffer(12),
  };
}

export function xskStats(shared: XskShared): Record<string, number> {
  const v = new Float64Array(shared.stats);
  const out: Record<string, number> = {};
  XSK_COUNTERS.forEach((n, i) => (out[n] = v[i]));
  return out;
}
