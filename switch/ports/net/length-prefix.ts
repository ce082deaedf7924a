/**
 * Reassembly of a stream of {4-byte big-endian length, frame} records (QEMU -netdev stream)
 * from the chunks a socket delivers, which split records anywhere.
 *
 *   chunk:  │len│ frame │len│ frame │len│ fra┊  next chunk: ┊me │len│ …
 *           └── whole record: delivered ──┘ └ partial: copied into the reassembly buffer
 *               straight from the chunk          (preallocated, max length), delivered
 *                                                 from there when complete
 *
 * Records wholly inside a chunk are delivered in place; only a record that straddles a
 * chunk boundary is copied (once; see copy.ts for what a copy allocates). Nothing else
 * here allocates. A length above `maxLength` cannot be a frame of this
 * switch and means the stream is garbage or out of step: feed() returns false and the
 * caller closes the connection.
 */
import { copyBytes } from '../../../queues/copy.js';
export type Deliver = (bytes: Uint8Array, offset: number, length: number) => void;

export class LengthPrefixReader {
  private readonly buf: Uint8Array;
  private hdr = 0; // header bytes gathered so far, big-endian
  private hdrHave = 0;
  private need = -1; // length of the record being reassembled, -1 while reading a header
  private have = 0;
  /** The offending length after feed() returned false. */
  badLength = 0;

  constructor(
    readonly maxLength: number,
    private readonly deliver: Deliver,
  ) {
    this.buf = new Uint8Array(maxLength);
  }

  /** Forgets any partial record (a new connection). */
  reset(): void {
    this.hdr = 0;
    this.hdrHave = 0;
    this.need = -1;
    this.have = 0;
  }

  /** True while a record is partly read (a connection closing now truncates it). */
  get midRecord(): boolean {
    return this.hdrHave !== 0 || this.need >= 0;
  }

  /** Consumes c[pos, end). Returns false on a length over maxLength (see badLength). */
  feed(c: Uint8Array, pos: number, end: number): boolean {
    while (pos < end) {
      if (this.need < 0) {
        let len: number;
        if (this.hdrHave === 0 && end - pos >= 4) {
          len = ((c[pos] << 24) | (c[pos + 1] << 16) | (c[pos + 2] << 8) | c[pos + 3]) >>> 0;
          pos += 4;
        } else {
          this.hdr = ((this.hdr << 8) | c[pos++]) >>> 0;
          if (++this.hdrHave < 4) continue;
          len = this.hdr;
          this.hdr = 0;
          this.hdrHave = 0;
        }
        if (len > this.maxLength) {
          this.badLength = len;
          return false;
        }
        if (end - pos >= len) {
          this.deliver(c, pos, len);
          pos += len;
          continue;
        }
        this.need = len;
        this.have = 0;
      }
      const n = Math.min(this.need - this.have, end - pos);
      copyBytes(c, pos, this.buf, this.have, n);
      this.have += n;
      pos += n;
      if (this.have === this.need) {
        this.need = -1;
        this.deliver(this.buf, 0, this.have);
      }
    }
    return true;
  }
}
