/**
 * The record a reader is positioned on: one packet and where it came from. Readers refill
 * the same object for every record (no allocation per packet); the bytes are
 * data[dataOffset, dataOffset + capLen) and stay valid until the next call to next().
 */
export class PcapRecord {
  /** Buffer holding the packet bytes (the reader's window). */
  data: Buffer = Buffer.alloc(0);
  dataOffset = 0;
  /** Bytes captured (incl_len / caplen). */
  capLen = 0;
  /** Length on the wire (orig_len / len). */
  origLen = 0;
  /** Timestamp: seconds since the epoch and nanoseconds within the second. */
  tsSec = 0;
  tsNsec = 0;
  /** pcapng interface the packet was captured on (0 for classic pcap). */
  interfaceId = 0;
  /** File offset of the record (pcap record header or pcapng block). */
  offset = 0;
  /** 0-based number of the packet in the file. */
  index = -1;
  /** epb_flags, or -1 when absent. */
  flags = -1;
  /** XDP action from an epb_verdict option of type Linux XDP, or -1 when absent. */
  verdict = -1;
  /** opt_comment bytes (UTF-8) in `data`, length 0 when absent. */
  commentOffset = 0;
  commentLength = 0;

  /** The packet's bytes as a view (allocates a view; for tests and tools, not the data path). */
  bytes(): Buffer {
    return this.data.subarray(this.dataOffset, this.dataOffset + this.capLen);
  }

  /** The first opt_comment, decoded (allocates), or null. */
  comment(): string | null {
    return this.commentLength === 0 ? null : this.data.toString('utf8', this.commentOffset, this.commentOffset + this.commentLength);
  }

  /** Clears the per-record options before a parser fills the record. */
  resetOptions(): void {
    this.flags = -1;
    this.verdict = -1;
    this.commentOffset = 0;
    this.commentLength = 0;
  }
}

/** What every reader checks records against. */
export interface ReaderLimits {
  /** Largest frame accepted; longer records are an error or skipped (see `oversize`). */
  maxFrameLength: number;
  /** 'error' (default) stops with a PcapError; 'skip' counts the record in skippedOversize. */
  oversize: 'error' | 'skip';
}
