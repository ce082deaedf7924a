/**
 * A capture loaded into memory for replay at full speed: every packet copied once, at
 * load time, into one buffer at a 4-byte-aligned offset (so short frames can be copied
 * into the frame area word by word), with its length and its time relative to the first
 * packet. Replaying then touches neither the file system nor the parser.
 *
 *   data:    [frame 0 ··pad][frame 1 ·][frame 2 ········ ·· pad] …
 *   offsets: byte offset of frame i in data (multiple of 4)
 *   lengths: captured length of frame i
 *   relNs:   (timestamp i − timestamp 0) in nanoseconds (exact up to 104 days)
 */
import { statSync } from 'node:fs';
import { PcapError } from './error.js';
import { PcapReader, type CaptureFormat, type ReaderOptions } from './reader.js';

/** Largest capture preload accepts by default (Node 20 reads at most 2 GiB at once). */
export const DEFAULT_PRELOAD_LIMIT = 1 << 30;

export interface PreloadedCapture {
  file: string;
  format: CaptureFormat;
  count: number;
  data: Buffer;
  /** The same bytes as Int32 words (data is 4-byte aligned). */
  words: Int32Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  /** Length on the wire of frame i (larger than lengths[i] when the capture cut it). */
  origLengths: Uint32Array;
  relNs: Float64Array;
  /** Frames captured shorter than they were on the wire (caplen < len). */
  truncated: number;
  /** Records skipped as larger than maxFrameLength (oversize: 'skip'). */
  skippedOversize: number;
  /** Sum of captured lengths. */
  bytes: number;
}

export function preloadCapture(file: string, opts: ReaderOptions & { limit?: number } = {}): PreloadedCapture {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw new PcapError('io', file, -1, `cannot open: ${(e as Error).message}`, { cause: e });
  }
  const limit = opts.limit ?? DEFAULT_PRELOAD_LIMIT;
  if (size > limit) {
    throw new PcapError('io', file, -1, `capture is ${size} bytes, more than the ${limit}-byte preload limit: replay it with preload: false`);
  }
  const r = PcapReader.open(file, opts);
  try {
    return fill(r, file, size);
  } finally {
    r.close();
  }
}

/** Same as preloadCapture, from bytes already in memory. */
export function preloadBuffer(bytes: Uint8Array, opts: ReaderOptions = {}): PreloadedCapture {
  return fill(PcapReader.fromBuffer(bytes, opts), opts.name ?? '<buffer>', bytes.length);
}

function fill(r: PcapReader, file: string, size: number): PreloadedCapture {
  // Packet bytes plus 3 bytes of padding each never exceed the file's size: every record
  // carries at least 12 bytes of header (SPB) that the store leaves out.
  const data = Buffer.alloc((size + 3) & ~3);
  let cap = 1024;
  let offsets = new Uint32Array(cap);
  let lengths = new Uint32Array(cap);
  let origLengths = new Uint32Array(cap);
  let relNs = new Float64Array(cap);
  let n = 0;
  let at = 0;
  let truncated = 0;
  let bytes = 0;
  let sec0 = 0;
  let nsec0 = 0;
  const rec = r.record;
  while (r.next()) {
    if (n === cap) {
      cap *= 2;
      offsets = grow(offsets, new Uint32Array(cap));
      lengths = grow(lengths, new Uint32Array(cap));
      origLengths = grow(origLengths, new Uint32Array(cap));
      relNs = grow(relNs, new Float64Array(cap));
    }
    if (n === 0) {
      sec0 = rec.tsSec;
      nsec0 = rec.tsNsec;
    }
    rec.data.copy(data, at, rec.dataOffset, rec.dataOffset + rec.capLen);
    offsets[n] = at;
    lengths[n] = rec.capLen;
    origLengths[n] = rec.origLen;
    relNs[n] = (rec.tsSec - sec0) * 1e9 + (rec.tsNsec - nsec0);
    if (rec.capLen < rec.origLen) truncated++;
    bytes += rec.capLen;
    at += (rec.capLen + 3) & ~3;
    n++;
  }
  return {
    file,
    format: r.format,
    count: n,
    data,
    words: new Int32Array(data.buffer, data.byteOffset, data.length >> 2),
    offsets: offsets.subarray(0, n),
    lengths: lengths.subarray(0, n),
    origLengths: origLengths.subarray(0, n),
    relNs: relNs.subarray(0, n),
    truncated,
    skippedOversize: r.skippedOversize,
    bytes,
  };
}

function grow<T extends Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
