/**
 * Writes pcapng: one section header, one interface description per interface (Ethernet,
 * if_tsresol = 9, i.e. nanoseconds), then one enhanced packet block per packet, with
 * optional epb_verdict (the XDP action), epb_flags and a comment.
 *
 *   EPB: 6 │ total │ interface │ ts high │ ts low │ caplen │ len │ data+pad │ options │ total
 */
import {
  BT_EPB,
  BT_IDB,
  BT_SHB,
  BYTE_ORDER_MAGIC,
  EPB_FLAGS,
  EPB_VERDICT,
  IF_NAME,
  IF_TSRESOL,
  LINKTYPE_ETHERNET,
  MAX_SNAPLEN,
  OPT_COMMENT,
  SHB_USERAPPL,
  VERDICT_TYPE_XDP,
} from './format.js';
import { FileSink } from './file-sink.js';
import { secNsecToNanos, type HighLow } from './timestamp.js';
import type { CaptureWriter, PacketMeta } from './capture-writer.js';

export interface PcapngWriterOptions {
  /** Interface names, one IDB each (default one interface, unnamed). */
  interfaces?: string[];
  /** Byte order of the section (default little-endian). */
  byteOrder?: 'le' | 'be';
  /** Snapshot length of every interface (default 262144). */
  snapLen?: number;
  /** shb_userappl (default 'xswitch'). */
  application?: string;
  /** Bytes buffered before a write(2) (default 1 MiB). */
  bufferSize?: number;
}

const pad4 = (n: number): number => (n + 3) & ~3;

export class PcapngWriter implements CaptureWriter {
  readonly format = 'pcapng' as const;
  packets = 0;
  readonly interfaceCount: number;
  private readonly sink: FileSink;
  private readonly le: boolean;
  private readonly ts: HighLow = { high: 0, low: 0 };
  private lastSec = -1;
  private lastNsec = -1;

  constructor(
    readonly file: string,
    opts: PcapngWriterOptions = {},
  ) {
    this.le = (opts.byteOrder ?? 'le') === 'le';
    this.sink = new FileSink(file, opts.bufferSize);
    const names = opts.interfaces ?? [''];
    if (names.length === 0) throw new RangeError('a pcapng capture needs at least one interface');
    this.interfaceCount = names.length;
    this.sectionHeader(opts.application ?? 'xswitch');
    for (const n of names) this.interfaceDescription(n, opts.snapLen ?? MAX_SNAPLEN);
  }

  private u32(at: number, v: number): void {
    this.sink.dv.setUint32(at, v, this.le);
  }
  private u16(at: number, v: number): void {
    this.sink.dv.setUint16(at, v, this.le);
  }

  /** Writes option header + value bytes + padding; returns the offset after it. */
  private option(at: number, code: number, value: Uint8Array): number {
    this.u16(at, code);
    this.u16(at + 2, value.length);
    this.sink.buf.set(value, at + 4);
    this.sink.buf.fill(0, at + 4 + value.length, at + 4 + pad4(value.length));
    return at + 4 + pad4(value.length);
  }

  private sectionHeader(app: string): void {
    const appBytes = Buffer.from(app, 'utf8');
    const len = 28 + 4 + pad4(appBytes.length) + 4;
    const at = this.sink.reserve(len);
    this.u32(at, BT_SHB);
    this.u32(at + 4, len);
    this.u32(at + 8, BYTE_ORDER_MAGIC);
    this.u16(at + 12, 1);
    this.u16(at + 14, 0);
    // Section length −1: not known in advance (we stream).
    this.u32(at + 16, 0xffffffff);
    this.u32(at + 20, 0xffffffff);
    let o = this.option(at + 24, SHB_USERAPPL, appBytes);
    this.u32(o, 0); // opt_endofopt
    o += 4;
    this.u32(o, len);
    this.sink.used += len;
  }

  private interfaceDescription(name: string, snapLen: number): void {
    const nameBytes = Buffer.from(name, 'utf8');
    const nameLen = name === '' ? 0 : 4 + pad4(nameBytes.length);
    const len = 20 + nameLen + 8 + 4;
    const at = this.sink.reserve(len);
    this.u32(at, BT_IDB);
    this.u32(at + 4, len);
    this.u16(at + 8, LINKTYPE_ETHERNET);
    this.u16(at + 10, 0);
    this.u32(at + 12, snapLen);
    let o = at + 16;
    if (name !== '') o = this.option(o, IF_NAME, nameBytes);
    o = this.option(o, IF_TSRESOL, Uint8Array.of(9)); // 10^-9 s
    this.u32(o, 0);
    o += 4;
    this.u32(o, len);
    this.sink.used += len;
  }

  get bytes(): number {
    return this.sink.written + this.sink.used;
  }

  write(src: Uint8Array, offset: number, length: number, tsSec: number, tsNsec: number, origLen = length, meta: PacketMeta | null = null): void {
    let optLen = 0;
    if (meta !== null) {
      if (meta.interfaceId < 0 || meta.interfaceId >= this.interfaceCount) {
        throw new RangeError(`interface ${meta.interfaceId} does not exist (${this.interfaceCount} defined)`);
      }
      if (meta.verdict >= 0) optLen += 16;
      if (meta.flags >= 0) optLen += 8;
      if (meta.comment !== null) optLen += 4 + pad4(meta.comment.length);
      if (optLen > 0) optLen += 4; // opt_endofopt
    }
    const dataLen = pad4(length);
    const total = 32 + dataLen + optLen;
    const sink = this.sink;
    let at = sink.reserve(total);
    const direct = at < 0;
    if (direct) at = sink.reserve(28);
    // The switch stamps a burst with one time: convert it once.
    if (tsSec !== this.lastSec || tsNsec !== this.lastNsec) {
      secNsecToNanos(tsSec, tsNsec, this.ts);
      this.lastSec = tsSec;
      this.lastNsec = tsNsec;
    }
    this.u32(at, BT_EPB);
    this.u32(at + 4, total);
    this.u32(at + 8, meta === null ? 0 : meta.interfaceId);
    this.u32(at + 12, this.ts.high);
    this.u32(at + 16, this.ts.low);
    this.u32(at + 20, length);
    this.u32(at + 24, origLen);
    if (direct) {
      // Larger than the whole buffer: header, then data, then the tail through the buffer.
      sink.used += 28;
      sink.writeDirect(src, offset, length);
      at = sink.reserve(dataLen - length + optLen + 4) - 28 - length;
    } else {
      sink.copier.copy(src, offset, length, at + 28);
    }
    let o = at + 28 + length;
    const b = sink.buf;
    for (let i = length; i < dataLen; i++) b[o++] = 0;
    if (optLen > 0 && meta !== null) {
      if (meta.verdict >= 0) {
        this.u16(o, EPB_VERDICT);
        this.u16(o + 2, 9);
        b[o + 4] = VERDICT_TYPE_XDP;
        // u64 in section byte order; the action fits in the low word.
        if (this.le) {
          b.writeUInt32LE(meta.verdict >>> 0, o + 5);
          b.writeUInt32LE(0, o + 9);
        } else {
          b.writeUInt32BE(0, o + 5);
          b.writeUInt32BE(meta.verdict >>> 0, o + 9);
        }
        b[o + 13] = 0;
        b[o + 14] = 0;
        b[o + 15] = 0;
        o += 16;
      }
      if (meta.flags >= 0) {
        this.u16(o, EPB_FLAGS);
        this.u16(o + 2, 4);
        this.u32(o + 4, meta.flags);
        o += 8;
      }
      if (meta.comment !== null) o = this.option(o, OPT_COMMENT, meta.comment);
      this.u32(o, 0);
      o += 4;
    }
    this.u32(o, total);
    sink.used = o + 4;
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
