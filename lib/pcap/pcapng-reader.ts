/**
 * pcapng blocks (draft-ietf-opsawg-pcapng).
 *
 *   every block   type u32 │ total_length u32 │ body (padded to 32 bits) │ total_length u32
 *   SHB 0x0A0D0D0A  byte-order magic 0x1A2B3C4D │ major u16 │ minor u16 │ section length i64 │ options
 *   IDB 1           linktype u16 │ reserved u16 │ snaplen u32 │ options (if_tsresol 9, if_tsoffset 14)
 *   EPB 6           interface u32 │ ts high │ ts low │ caplen │ len │ data │ options
 *   SPB 3           len │ data (caplen = min(len, interface 0's snaplen, what the block holds))
 *   OPB 2 (obsolete) interface u16 │ drops u16 │ ts high │ ts low │ caplen │ len │ data │ options
 *
 * Each section (SHB) sets its own byte order and starts a new list of interfaces. Blocks of
 * other types (name resolution, statistics, secrets, custom) are skipped.
 */
import { PcapError } from './error.js';
import {
  BT_EPB,
  BT_IDB,
  BT_OPB,
  BT_SHB,
  BT_SPB,
  BYTE_ORDER_MAGIC,
  BYTE_ORDER_MAGIC_SWAPPED,
  EPB_FLAGS,
  EPB_MIN,
  EPB_VERDICT,
  IDB_MIN,
  IF_TSOFFSET,
  IF_TSRESOL,
  LINKTYPE_ETHERNET,
  MAX_BLOCK,
  OPB_MIN,
  OPT_COMMENT,
  OPT_ENDOFOPT,
  SHB_MIN,
  SPB_MIN,
  VERDICT_TYPE_XDP,
  hex32,
  linkTypeName,
} from './format.js';
import type { PcapRecord, ReaderLimits } from './record.js';
import { MICROSECONDS, decodeTsresol, unitsToSecNsec, type Resolution } from './timestamp.js';
import type { ByteWindow } from './window.js';

export interface NgInterface {
  linkType: number;
  snapLen: number;
  resolution: Resolution;
  /** if_tsoffset: seconds added to every timestamp. */
  tsOffset: number;
  /** File offset of its IDB. */
  offset: number;
}

export class PcapngReader {
  littleEndian = true;
  versionMajor = 1;
  versionMinor = 0;
  /** Interfaces of the current section. */
  interfaces: NgInterface[] = [];
  sections = 0;
  /** Blocks of types this reader does not use (skipped). */
  skippedBlocks = 0;
  skippedOversize = 0;
  /** Last timestamp seen: an SPB carries none and inherits it. */
  private lastSec = 0;
  private lastNsec = 0;

  constructor(
    private readonly w: ByteWindow,
    private readonly limits: ReaderLimits,
  ) {
    // The first block must be a section header; read it now so format errors surface at open.
    const at = w.offset();
    if (!this.readBlockHeader()) throw new PcapError('truncated', w.name, at, 'empty pcapng file: no section header block');
    if (this.type !== BT_SHB) throw new PcapError('corrupt', w.name, at, `first block at byte ${at} is not a section header`);
    this.section(at);
  }

  // The block under the cursor (set by readBlockHeader).
  private type = 0;
  private len = 0;

  private u32(off: number): number {
    return this.littleEndian ? this.w.buf.readUInt32LE(off) : this.w.buf.readUInt32BE(off);
  }
  private u16(off: number): number {
    return this.littleEndian ? this.w.buf.readUInt16LE(off) : this.w.buf.readUInt16BE(off);
  }

  /**
   * Reads the next block's type and length, checks them and makes the whole block available
   * at the cursor. False at a clean end of file.
   */
  private readBlockHeader(): boolean {
    const w = this.w;
    const at = w.offset();
    if (!w.ensure(8)) {
      const left = w.available();
      if (left === 0) return false;
      throw new PcapError('truncated', w.name, at, `truncated block header at byte ${at}: 8 bytes needed, ${left} remain`);
    }
    const p = w.pos;
    // The section header's type is the same in both byte orders; its byte-order magic says
    // how to read everything after it, including its own length.
    const typeLE = w.buf.readUInt32LE(p);
    if (typeLE === BT_SHB) {
      if (!w.ensure(12)) {
        throw new PcapError('truncated', w.name, at, `truncated section header at byte ${at}: 12 bytes needed, ${w.available()} remain`);
      }
      const bom = w.buf.readUInt32LE(w.pos + 8);
      if (bom === BYTE_ORDER_MAGIC) this.littleEndian = true;
      else if (bom === BYTE_ORDER_MAGIC_SWAPPED) this.littleEndian = false;
      else {
        throw new PcapError('bad-magic', w.name, at + 8, `bad byte-order magic ${hex32(bom)} at byte ${at + 8} in section header`);
      }
    }
    this.type = this.u32(w.pos);
    const len = this.u32(w.pos + 4);
    if (len < 12 || len % 4 !== 0) {
      throw new PcapError(
        'corrupt',
        w.name,
        at,
        `block at byte ${at} (type ${hex32(this.type)}) has total length ${len}: ${len < 12 ? 'less than 12' : 'not a multiple of 4'}`,
      );
    }
    if (len > MAX_BLOCK) {
      throw new PcapError('corrupt', w.name, at, `block at byte ${at} claims ${len} bytes, more than the ${MAX_BLOCK}-byte limit`);
    }
    if (!w.ensure(len)) {
      throw new PcapError('truncated', w.name, at, `truncated block at byte ${at}: header says ${len} bytes, ${w.available()} remain`);
    }
    const trailer = this.u32(w.pos + len - 4);
    if (trailer !== len) {
      throw new PcapError(
        'corrupt',
        w.name,
        at,
        `block at byte ${at}: leading total length ${len} and trailing total length ${trailer} differ`,
      );
    }
    this.len = len;
    return true;
  }

  private tooShort(at: number, what: string, min: number): PcapError {
    return new PcapError('corrupt', this.w.name, at, `${what} at byte ${at} is ${this.len} bytes, less than the minimum ${min}`);
  }

  /** A section header under the cursor: new byte order (already set), version, no interfaces. */
  private section(at: number): void {
    if (this.len < SHB_MIN) throw this.tooShort(at, 'section header', SHB_MIN);
    const p = this.w.pos;
    this.versionMajor = this.u16(p + 12);
    this.versionMinor = this.u16(p + 14);
    if (this.versionMajor !== 1) {
      throw new PcapError(
        'version',
        this.w.name,
        at + 12,
        `unsupported pcapng version ${this.versionMajor}.${this.versionMinor} at byte ${at + 12} (1.0 expected)`,
      );
    }
    this.checkOptions(p + 24, p + this.len - 4, at);
    this.interfaces = [];
    this.sections++;
    this.w.advance(this.len);
  }

  private interfaceBlock(at: number): void {
    if (this.len < IDB_MIN) throw this.tooShort(at, 'interface description', IDB_MIN);
    const p = this.w.pos;
    const linkType = this.u16(p + 8);
    if (linkType !== LINKTYPE_ETHERNET) {
      throw new PcapError(
        'linktype',
        this.w.name,
        at + 8,
        `interface ${this.interfaces.length} (byte ${at}) has unsupported link type ${linkTypeName(linkType)}: only Ethernet (1) is supported`,
      );
    }
    const iface: NgInterface = { linkType, snapLen: this.u32(p + 12), resolution: MICROSECONDS, tsOffset: 0, offset: at };
    const end = p + this.len - 4;
    let o = p + 16;
    while (o + 4 <= end) {
      const code = this.u16(o);
      const olen = this.u16(o + 2);
      if (code === OPT_ENDOFOPT) break;
      if (o + 4 + olen > end) throw this.optionOverrun(o, at);
      if (code === IF_TSRESOL && olen >= 1) iface.resolution = decodeTsresol(this.w.buf[o + 4]);
      else if (code === IF_TSOFFSET && olen >= 8) {
        // i64 seconds; the high word is signed.
        const hi = this.u32(this.littleEndian ? o + 8 : o + 4) | 0;
        const lo = this.u32(this.littleEndian ? o + 4 : o + 8);
        iface.tsOffset = hi * 4294967296 + lo;
      }
      o += 4 + ((olen + 3) & ~3);
    }
    this.interfaces.push(iface);
    this.w.advance(this.len);
  }

  private optionOverrun(o: number, at: number): PcapError {
    const off = this.w.base + o;
    return new PcapError('corrupt', this.w.name, off, `option at byte ${off} runs past the end of the block at byte ${at}`);
  }

  /** Walks an option list only to check that it fits in its block. */
  private checkOptions(o: number, end: number, at: number): void {
    while (o + 4 <= end) {
      const code = this.u16(o);
      const olen = this.u16(o + 2);
      if (code === OPT_ENDOFOPT) return;
      if (o + 4 + olen > end) throw this.optionOverrun(o, at);
      o += 4 + ((olen + 3) & ~3);
    }
  }

  /** Packet options: the first comment, epb_flags, an XDP epb_verdict. */
  private packetOptions(rec: PcapRecord, o: number, end: number, at: number): void {
    const b = this.w.buf;
    while (o + 4 <= end) {
      const code = this.u16(o);
      const olen = this.u16(o + 2);
      if (code === OPT_ENDOFOPT) return;
      if (o + 4 + olen > end) throw this.optionOverrun(o, at);
      if (code === OPT_COMMENT && rec.commentLength === 0) {
        rec.commentOffset = o + 4;
        rec.commentLength = olen;
      } else if (code === EPB_FLAGS && olen === 4) {
        rec.flags = this.u32(o + 4);
      } else if (code === EPB_VERDICT && olen === 9 && b[o + 4] === VERDICT_TYPE_XDP) {
        // u64 in the section's byte order; XDP actions are small, the low word holds it.
        rec.verdict = this.littleEndian ? b.readUInt32LE(o + 5) : b.readUInt32BE(o + 9);
      }
      o += 4 + ((olen + 3) & ~3);
    }
  }

  private iface(id: number, at: number): NgInterface {
    if (id >= this.interfaces.length) {
      throw new PcapError(
        'corrupt',
        this.w.name,
        at,
        `packet block at byte ${at} refers to interface ${id}, but ${this.interfaces.length} ${this.interfaces.length === 1 ? 'is' : 'are'} defined`,
      );
    }
    return this.interfaces[id];
  }

  /** Checks size limits; true when the record is to be returned, false when skipped. */
  private admit(rec: PcapRecord, capLen: number, at: number): boolean {
    rec.index++;
    if (capLen <= this.limits.maxFrameLength) return true;
    if (this.limits.oversize === 'skip') {
      this.skippedOversize++;
      return false;
    }
    throw new PcapError(
      'oversize',
      this.w.name,
      at,
      `packet ${rec.index} at byte ${at} is ${capLen} bytes, larger than the largest frame (${this.limits.maxFrameLength} bytes)`,
    );
  }

  /** Fills `rec` with the next packet; false at the end of the file. */
  next(rec: PcapRecord): boolean {
    const w = this.w;
    for (;;) {
      const at = w.offset();
      if (!this.readBlockHeader()) return false;
      const p = w.pos;
      const len = this.len;
      switch (this.type) {
        case BT_SHB:
          this.section(at);
          continue;
        case BT_IDB:
          this.interfaceBlock(at);
          continue;
        case BT_EPB:
        case BT_OPB: {
          const epb = this.type === BT_EPB;
          if (len < (epb ? EPB_MIN : OPB_MIN)) throw this.tooShort(at, epb ? 'enhanced packet block' : 'packet block', EPB_MIN);
          const id = epb ? this.u32(p + 8) : this.u16(p + 8);
          const iface = this.iface(id, at);
          const capLen = this.u32(p + 20);
          if (capLen > len - 32) {
            throw new PcapError(
              'corrupt',
              w.name,
              at,
              `packet block at byte ${at} says it captured ${capLen} bytes, but the block holds ${len - 32}`,
            );
          }
          if (!this.admit(rec, capLen, at)) {
            w.advance(len);
            continue;
          }
          unitsToSecNsec(this.u32(p + 12), this.u32(p + 16), iface.resolution, rec);
          rec.tsSec += iface.tsOffset;
          rec.capLen = capLen;
          rec.origLen = this.u32(p + 24);
          rec.interfaceId = id;
          rec.resetOptions();
          rec.data = w.buf;
          rec.dataOffset = p + 28;
          this.packetOptions(rec, p + 28 + ((capLen + 3) & ~3), p + len - 4, at);
          break;
        }
        case BT_SPB: {
          if (len < SPB_MIN) throw this.tooShort(at, 'simple packet block', SPB_MIN);
          const iface = this.iface(0, at);
          const origLen = this.u32(p + 8);
          let capLen = len - SPB_MIN;
          if (origLen < capLen) capLen = origLen;
          if (iface.snapLen !== 0 && iface.snapLen < capLen) capLen = iface.snapLen;
          if (!this.admit(rec, capLen, at)) {
            w.advance(len);
            continue;
          }
          rec.tsSec = this.lastSec;
          rec.tsNsec = this.lastNsec;
          rec.capLen = capLen;
          rec.origLen = origLen;
          rec.interfaceId = 0;
          rec.resetOptions();
          rec.data = w.buf;
          rec.dataOffset = p + 12;
          break;
        }
        default:
          this.skippedBlocks++;
          w.advance(len);
          continue;
      }
      rec.offset = at;
      this.lastSec = rec.tsSec;
      this.lastNsec = rec.tsNsec;
      w.advance(len);
      return true;
    }
  }
}
