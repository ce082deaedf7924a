/**
 * The capture ring: one per armed queue, a single-producer/single-consumer byte ring in a
 * SharedArrayBuffer. The queue worker's tap (tap.ts) appends a record per captured packet;
 * the main thread (capture.ts) drains records into a pcapng file.
 *
 *   word  0 kHead       producer byte index (free-running u32), written by the tap only
 *   word 16 kTail       consumer byte index (free-running u32), written by the drain only
 *   word 33 kDropped    records that did not fit (the drain is behind): counted, never waited for
 *   word 34 kPort       ingress ifindex to keep (0 = every port)
 *   word 35 kVerdicts   bit v set: keep packets whose verdict is v
 *   word 36 kSnap       bytes kept of each packet
 *   word 37 kClock      milliseconds since kBase, rewritten every millisecond by the main
 *                       thread (performance.now() allocates in Node 20: a tap reads this)
 *   bytes 160 kBase     f64, wall time in ms when the capture started (written once)
 *   byte 256 …          records, each 8-byte aligned, never split across the end:
 *
 *     u32 recordBytes | u32 origLen | u32 capLen | u8 verdict | u8 ifindex | u16 queue |
 *     f64 time (ms since the epoch, 1 ms resolution: kBase + kClock) |
 *     capLen bytes of packet
 *
 * A record that would cross the end is preceded by a skip marker: a first word with the
 * top bit (kSkip) set over the bytes left, which sends the reader back to byte 0 (it fits
 * in the 8 bytes that are always left, since every record is a multiple of 8).
 */
export const kHead = 0;
export const kTail = 16;
export const kDropped = 33;
export const kPort = 34;
export const kVerdicts = 35;
export const kSnap = 36;
export const kClock = 37;
/** Byte offset of the f64 start time. */
export const kBaseByte = 160;
export const HEADER_BYTES = 256;
export const RECORD_HEADER = 24;
export const kSkip = 0x80000000;
/** The shared budget word's value when no count was given. */
export const kUnlimited = 0x7fffffff;

export interface SharedCaptureRing {
  sab: SharedArrayBuffer;
  /** Data bytes (a power of two). */
  size: number;
}

export function newCaptureRing(size: number, opts: { port: number; verdicts: number; snap: number }): SharedCaptureRing {
  if ((size & (size - 1)) !== 0 || size < 4096) throw new RangeError(`capture ring size ${size} is not a power of two ≥ 4096`);
  const sab = new SharedArrayBuffer(HEADER_BYTES + size);
  const w = new Int32Array(sab, 0, HEADER_BYTES / 4);
  w[kPort] = opts.port;
  w[kVerdicts] = opts.verdicts;
  w[kSnap] = opts.snap;
  new Float64Array(sab, kBaseByte, 1)[0] = performance.timeOrigin + performance.now();
  return { sab, size };
}

export const align8 = (n: number): number => (n + 7) & ~7;
