/**
 * Opens a capture of either format and reads it one record at a time.
 *
 *   const r = PcapReader.open('in.pcapng', { maxFrameLength: 1792 });
 *   while (r.next()) use(r.record.data, r.record.dataOffset, r.record.capLen);
 *   r.close();
 *
 * The format is recognised by its first four bytes. Every problem is a PcapError naming the
 * file and byte offset; nothing else is thrown for any input. next() allocates nothing
 * (except for pcapng timestamps finer than 2^-37 s).
 */
import { ClassicReader, isClassicMagic } from './classic-reader.js';
import { PcapError } from './error.js';
import { BT_SHB, MAX_SNAPLEN, hex32 } from './format.js';
import { PcapngReader } from './pcapng-reader.js';
import { PcapRecord, type ReaderLimits } from './record.js';
import { ByteWindow } from './window.js';

export interface ReaderOptions {
  /** Largest frame accepted (default: libpcap's 262144). */
  maxFrameLength?: number;
  /** What to do with a longer record: 'error' (default) or 'skip' (counted in skippedOversize). */
  oversize?: 'error' | 'skip';
  /** Name used in error messages for an in-memory capture (default '<buffer>'). */
  name?: string;
  /** Bytes read from a file at a time (default 1 MiB; grows for a larger block). */
  windowSize?: number;
}

export type CaptureFormat = 'pcap' | 'pcapng';

export class PcapReader {
  readonly record = new PcapRecord();
  readonly format: CaptureFormat;
  private readonly limits: ReaderLimits;
  private parser: ClassicReader | PcapngReader;

  private constructor(
    private readonly w: ByteWindow,
    opts: ReaderOptions,
  ) {
    const max = opts.maxFrameLength ?? MAX_SNAPLEN;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxFrameLength ${max} is not a positive integer`);
    this.limits = { maxFrameLength: max, oversize: opts.oversize ?? 'error' };
    try {
      this.format = PcapReader.detect(w);
      this.parser = this.makeParser();
    } catch (e) {
      w.close();
      throw e;
    }
  }

  static open(file: string, opts: ReaderOptions = {}): PcapReader {
    return new PcapReader(ByteWindow.fromFile(file, opts.windowSize), opts);
  }

  static fromBuffer(bytes: Uint8Array, opts: ReaderOptions = {}): PcapReader {
    return new PcapReader(ByteWindow.fromBuffer(bytes, opts.name ?? '<buffer>'), opts);
  }

  private static detect(w: ByteWindow): CaptureFormat {
    if (!w.ensure(4)) {
      throw new PcapError(
        w.available() === 0 ? 'truncated' : 'bad-magic',
        w.name,
        0,
        w.available() === 0 ? 'empty file: not a pcap or pcapng capture' : `not a pcap or pcapng file: only ${w.available()} bytes`,
      );
    }
    const magic = w.buf.readUInt32LE(w.pos);
    if (isClassicMagic(magic)) return 'pcap';
    if (magic === BT_SHB) return 'pcapng';
    throw new PcapError('bad-magic', w.name, 0, `not a pcap or pcapng file: bad magic ${hex32(w.buf.readUInt32BE(w.pos))} at byte 0`);
  }

  private makeParser(): ClassicReader | PcapngReader {
    return this.format === 'pcap' ? new ClassicReader(this.w, this.limits) : new PcapngReader(this.w, this.limits);
  }

  get name(): string {
    return this.w.name;
  }

  /** The classic pcap parser (byte order, µs/ns, snaplen), or null for pcapng. */
  get classic(): ClassicReader | null {
    return this.parser instanceof ClassicReader ? this.parser : null;
  }

  /** The pcapng parser (sections, interfaces with their resolutions), or null for pcap. */
  get pcapng(): PcapngReader | null {
    return this.parser instanceof PcapngReader ? this.parser : null;
  }

  /** Records skipped as larger than maxFrameLength (oversize: 'skip'). */
  get skippedOversize(): number {
    return this.parser.skippedOversize;
  }

  /** Moves to the next packet; false at the end. The record is valid until the next call. */
  next(): boolean {
    return this.parser.next(this.record);
  }

  /** Starts again from the first packet (for looping replays). */
  rewind(): void {
    this.w.rewind();
    const skipped = this.parser.skippedOversize;
    this.parser = this.makeParser();
    this.parser.skippedOversize = skipped;
    this.record.index = -1;
  }

  close(): void {
    this.w.close();
  }

  /** Reads a whole capture into memory as an array of copies (for tests and tools; allocates). */
  static readAll(file: string | Uint8Array, opts: ReaderOptions = {}): CapturedPacket[] {
    const r = typeof file === 'string' ? PcapReader.open(file, opts) : PcapReader.fromBuffer(file, opts);
    const out: CapturedPacket[] = [];
    try {
      const rec = r.record;
      while (r.next()) {
        out.push({
          data: Buffer.from(rec.bytes()),
          origLen: rec.origLen,
          tsSec: rec.tsSec,
          tsNsec: rec.tsNsec,
          interfaceId: rec.interfaceId,
          comment: rec.comment(),
          verdict: rec.verdict,
          flags: rec.flags,
        });
      }
    } finally {
      r.close();
    }
    return out;
  }
}

export interface CapturedPacket {
  data: Buffer;
  origLen: number;
  tsSec: number;
  tsNsec: number;
  interfaceId: number;
  comment: string | null;
  verdict: number;
  flags: number;
}
