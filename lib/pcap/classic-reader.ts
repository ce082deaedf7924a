/**
 * Classic pcap (libpcap savefile) records.
 *
 *   file header (24)  magic │ major u16 │ minor u16 │ thiszone │ sigfigs │ snaplen │ linktype
 *   record header (16) ts_sec │ ts_usec or ts_nsec │ incl_len │ orig_len   then incl_len bytes
 *
 * The magic says the byte order (as written) and the timestamp unit (µs or ns).
 */
import { PcapError } from './error.js';
import {
  LINKTYPE_ETHERNET,
  MAX_SNAPLEN,
  PCAP_FILE_HEADER,
  PCAP_MAGIC_NS,
  PCAP_MAGIC_NS_SWAPPED,
  PCAP_MAGIC_US,
  PCAP_MAGIC_US_SWAPPED,
  PCAP_RECORD_HEADER,
  linkTypeName,
} from './format.js';
import type { PcapRecord, ReaderLimits } from './record.js';
import type { ByteWindow } from './window.js';

export function isClassicMagic(magicLE: number): boolean {
  return (
    magicLE === PCAP_MAGIC_US || magicLE === PCAP_MAGIC_NS || magicLE === PCAP_MAGIC_US_SWAPPED || magicLE === PCAP_MAGIC_NS_SWAPPED
  );
}

export class ClassicReader {
  readonly littleEndian: boolean;
  readonly nanosecond: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly snapLen: number;
  readonly linkType: number;
  /** Records skipped because they were larger than limits.maxFrameLength (oversize: 'skip'). */
  skippedOversize = 0;

  /** Reads the file header at the window's cursor (byte 0). */
  constructor(
    private readonly w: ByteWindow,
    private readonly limits: ReaderLimits,
  ) {
    const name = w.name;
    if (!w.ensure(PCAP_FILE_HEADER)) {
      throw new PcapError('truncated', name, 0, `truncated pcap file header: 24 bytes needed, ${w.available()} present`);
    }
    const b = w.buf;
    const p = w.pos;
    const magic = b.readUInt32LE(p);
    this.littleEndian = magic === PCAP_MAGIC_US || magic === PCAP_MAGIC_NS;
    this.nanosecond = magic === PCAP_MAGIC_NS || magic === PCAP_MAGIC_NS_SWAPPED;
    const le = this.littleEndian;
    this.versionMajor = le ? b.readUInt16LE(p + 4) : b.readUInt16BE(p + 4);
    this.versionMinor = le ? b.readUInt16LE(p + 6) : b.readUInt16BE(p + 6);
    if (this.versionMajor !== 2) {
      throw new PcapError('version', name, 4, `unsupported pcap version ${this.versionMajor}.${this.versionMinor} at byte 4 (2.4 expected)`);
    }
    this.snapLen = le ? b.readUInt32LE(p + 16) : b.readUInt32BE(p + 16);
    // The upper bits carry FCS information (pcap-savefile: LinkType and additional information).
    this.linkType = (le ? b.readUInt32LE(p + 20) : b.readUInt32BE(p + 20)) & 0xffff;
    if (this.linkType !== LINKTYPE_ETHERNET) {
      throw new PcapError(
        'linktype',
        name,
        20,
        `unsupported link type ${linkTypeName(this.linkType)} at byte 20: only Ethernet (1) is supported`,
      );
    }
    w.advance(PCAP_FILE_HEADER);
  }

  /** Fills `rec` with the next record; false at the end of the file. */
  next(rec: PcapRecord): boolean {
    const w = this.w;
    for (;;) {
      if (!w.ensure(PCAP_RECORD_HEADER)) {
        const left = w.available();
        if (left === 0) return false;
        throw new PcapError(
          'truncated',
          w.name,
          w.offset(),
          `truncated record header at byte ${w.offset()}: 16 bytes needed, ${left} remain`,
        );
      }
      const b = w.buf;
      const p = w.pos;
      const le = this.littleEndian;
      const sec = le ? b.readUInt32LE(p) : b.readUInt32BE(p);
      const frac = le ? b.readUInt32LE(p + 4) : b.readUInt32BE(p + 4);
      const incl = le ? b.readUInt32LE(p + 8) : b.readUInt32BE(p + 8);
      const orig = le ? b.readUInt32LE(p + 12) : b.readUInt32BE(p + 12);
      const at = w.offset();
      if (incl > MAX_SNAPLEN) {
        throw new PcapError(
          'corrupt',
          w.name,
          at,
          `record at byte ${at}: captured length ${incl} exceeds the pcap maximum of ${MAX_SNAPLEN} (corrupt file?)`,
        );
      }
      if (!w.ensure(PCAP_RECORD_HEADER + incl)) {
        const left = w.available() - PCAP_RECORD_HEADER;
        throw new PcapError('truncated', w.name, at, `truncated record at byte ${at}: header says ${incl} bytes, ${left} remain`);
      }
      rec.index++;
      if (incl > this.limits.maxFrameLength) {
        if (this.limits.oversize === 'skip') {
          this.skippedOversize++;
          w.advance(PCAP_RECORD_HEADER + incl);
          continue;
        }
        throw new PcapError(
          'oversize',
          w.name,
          at,
          `record ${rec.index} at byte ${at} is ${incl} bytes, larger than the largest frame (${this.limits.maxFrameLength} bytes)`,
        );
      }
      // A reader with µs magic may still meet a fraction ≥ 1 s in a sloppy writer's file.
      const nsec = this.nanosecond ? frac : frac * 1000;
      const carry = nsec >= 1e9 ? Math.floor(nsec / 1e9) : 0;
      rec.tsSec = sec + carry;
      rec.tsNsec = nsec - carry * 1e9;
      rec.capLen = incl;
      rec.origLen = orig;
      rec.interfaceId = 0;
      rec.offset = at;
      rec.data = w.buf; // ensure() may have replaced the buffer
      rec.dataOffset = w.pos + PCAP_RECORD_HEADER;
      rec.resetOptions();
      w.advance(PCAP_RECORD_HEADER + incl);
      return true;
    }
  }
}
