/**
 * Writes classic pcap (libpcap savefile): a 24-byte file header, then a 16-byte record
 * header and the packet bytes per packet. Nanosecond timestamps (magic 0xa1b23c4d) by
 * default; tcpdump, tshark and Wireshark read both.
 */
import { LINKTYPE_ETHERNET, MAX_SNAPLEN, PCAP_FILE_HEADER, PCAP_MAGIC_NS, PCAP_MAGIC_US, PCAP_RECORD_HEADER } from './format.js';
import { FileSink } from './file-sink.js';
import type { CaptureWriter, PacketMeta } from './capture-writer.js';

export interface ClassicWriterOptions {
  /** Timestamp unit: 'ns' (default) or 'us'. */
  precision?: 'ns' | 'us';
  /** Byte order of the file (default little-endian, as written by x86 tcpdump). */
  byteOrder?: 'le' | 'be';
  /** Snapshot length in the file header (default 262144, as tcpdump). */
  snapLen?: number;
  /** Bytes buffered before a write(2) (default 1 MiB). */
  bufferSize?: number;
}

export class ClassicWriter implements CaptureWriter {
  readonly format = 'pcap' as const;
  packets = 0;
  private readonly sink: FileSink;
  private readonly le: boolean;
  private readonly ns: boolean;

  /**
   * `sink`: add records to a capture another writer began (its file header already there),
   * through this sink; the writer then writes no file header.
   */
  constructor(
    readonly file: string,
    opts: ClassicWriterOptions = {},
    sink?: FileSink,
  ) {
    this.le = (opts.byteOrder ?? 'le') === 'le';
    this.ns = (opts.precision ?? 'ns') === 'ns';
    this.sink = sink ?? new FileSink(file, opts.bufferSize);
    if (sink !== undefined) return;
    const at = this.sink.reserve(PCAP_FILE_HEADER);
    const dv = this.sink.dv;
    const le = this.le;
    dv.setUint32(at, this.ns ? PCAP_MAGIC_NS : PCAP_MAGIC_US, le);
    dv.setUint16(at + 4, 2, le);
    dv.setUint16(at + 6, 4, le);
    dv.setUint32(at + 8, 0, le); // thiszone: timestamps are UTC
    dv.setUint32(at + 12, 0, le); // sigfigs
    dv.setUint32(at + 16, opts.snapLen ?? MAX_SNAPLEN, le);
    dv.setUint32(at + 20, LINKTYPE_ETHERNET, le);
    this.sink.used += PCAP_FILE_HEADER;
  }

  get bytes(): number {
    return this.sink.written + this.sink.used;
  }

  write(src: Uint8Array, offset: number, length: number, tsSec: number, tsNsec: number, origLen = length, _meta?: PacketMeta | null): void {
    const sink = this.sink;
    let at = sink.reserve(PCAP_RECORD_HEADER + length);
    const direct = at < 0;
    if (direct) at = sink.reserve(PCAP_RECORD_HEADER);
    const dv = sink.dv;
    const le = this.le;
    dv.setUint32(at, tsSec, le);
    dv.setUint32(at + 4, this.ns ? tsNsec : Math.floor(tsNsec / 1000), le);
    dv.setUint32(at + 8, length, le);
    dv.setUint32(at + 12, origLen, le);
    sink.used += PCAP_RECORD_HEADER;
    if (direct) sink.writeDirect(src, offset, length);
    else {
      sink.copier.copy(src, offset, length, at + PCAP_RECORD_HEADER);
      sink.used += length;
    }
    this.packets++;
  }

  sourceFrames(frameSize: number, headroom: number): void {
    this.sink.copier.useFrames(frameSize, headroom);
  }

  flush(): void {
    this.sink.flush();
  }

  close(): void {
    this.sink.close();
  }
}
