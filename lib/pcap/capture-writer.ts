/**
 * What both capture writers (classic pcap, pcapng) offer: the contract, apart from the
 * factory (writer.ts) so that the writers can implement it without importing the factory.
 */
import type { CaptureFormat } from './reader.js';

/** Per-packet annotations (pcapng only; the classic format has nowhere to put them). */
export class PacketMeta {
  /** pcapng interface id (index into the writer's `interfaces`). */
  interfaceId = 0;
  /** XDP action stored as epb_verdict (type Linux XDP), or -1 for none. */
  verdict = -1;
  /** epb_flags word, or -1 for none. */
  flags = -1;
  /** opt_comment bytes (UTF-8, see encodeComment), or null. */
  comment: Uint8Array | null = null;
}

/** Encodes a comment once, off the data path (e.g. one per verdict name). */
export function encodeComment(text: string): Uint8Array {
  const b = Buffer.from(text, 'utf8');
  if (b.length > 0xffff) throw new RangeError(`comment of ${b.length} bytes is longer than a pcapng option can hold (65535)`);
  return b;
}

export interface CaptureWriter {
  readonly format: CaptureFormat;
  readonly file: string;
  /** Packets written. */
  readonly packets: number;
  /** Bytes of the file so far, including what is buffered. */
  readonly bytes: number;
  write(src: Uint8Array, offset: number, length: number, tsSec: number, tsNsec: number, origLen?: number, meta?: PacketMeta | null): void;
  /**
   * Tells the writer that `src` arrays passed to write() will be a frame area of
   * `frameSize`-byte frames with packets at `headroom` (faster copies of long frames).
   */
  sourceFrames(frameSize: number, headroom: number): void;
  /** Sends buffered records to the file. */
  flush(): void;
  /** Flushes and closes the file; idempotent. */
  close(): void;
}
