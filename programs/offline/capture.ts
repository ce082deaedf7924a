/**
 * A capture in shared memory, so piscina workers read the packets without a copy:
 * every frame's bytes in one SharedArrayBuffer (4-byte aligned offsets), with lengths
 * and timestamps (relative to the first packet: ns since the epoch would not fit a double
 * exactly) beside it.
 */
import { PcapReader } from '../../lib/pcap/reader.js';
import { preloadCapture } from '../../lib/pcap/preload.js';

export interface SharedCapture {
  file: string;
  count: number;
  data: SharedArrayBuffer;
  offsets: SharedArrayBuffer; // Uint32
  lengths: SharedArrayBuffer; // Uint32
  /** Float64: nanoseconds since the first packet (exact; a program's clock reads these). */
  tsNs: SharedArrayBuffer;
  /** The first packet's timestamp. */
  t0Sec: number;
  t0Nsec: number;
}

function share<T extends Uint32Array | Float64Array>(a: T): SharedArrayBuffer {
  const s = new SharedArrayBuffer(Math.max(8, a.byteLength));
  new Uint8Array(s).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return s;
}

/** Reads a pcap or pcapng file (PcapError on anything malformed, naming file and offset). */
export function loadCapture(file: string, maxFrameLength: number): SharedCapture {
  const cap = preloadCapture(file, { maxFrameLength, oversize: 'error' });
  // preloadCapture keeps times relative to the first packet; read that one's own time.
  let t0Sec = 0;
  let t0Nsec = 0;
  const r = PcapReader.open(file, { maxFrameLength });
  try {
    if (r.next()) {
      t0Sec = r.record.tsSec;
      t0Nsec = r.record.tsNsec;
    }
  } finally {
    r.close();
  }
  const data = new SharedArrayBuffer(Math.max(4, cap.data.length));
  new Uint8Array(data).set(cap.data);
  return { file, count: cap.count, data, offsets: share(cap.offsets), lengths: share(cap.lengths), tsNs: share(cap.relNs), t0Sec, t0Nsec };
}
