/**
 * A sliding window over a capture: the whole file in memory (fromBuffer) or a file read
 * through one reusable buffer (fromFile). Parsers ask for `n` bytes at the cursor with
 * ensure(n) and read them from `buf` at `pos`; the window compacts and refills as the
 * cursor advances, so a file of any size is read with one buffer (grown only when a
 * single block is larger than it, and block sizes are capped by the parsers).
 *
 *   buf: [ consumed … | pos ── unread ── end | free … ]
 *        file offset of buf[0] is `base`
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { PcapError } from './error.js';

const DEFAULT_CHUNK = 1 << 20;

export class ByteWindow {
  /** Current bytes; valid in [pos, end). Replaced when the window grows. */
  buf: Buffer;
  /** Cursor into buf. */
  pos = 0;
  /** One past the last valid byte in buf. */
  end: number;
  /** File offset of buf[0]. */
  base = 0;
  private fd: number;
  private eof: boolean;

  private constructor(
    readonly name: string,
    buf: Buffer,
    end: number,
    fd: number,
  ) {
    this.buf = buf;
    this.end = end;
    this.fd = fd;
    this.eof = fd < 0;
  }

  static fromBuffer(bytes: Uint8Array, name: string): ByteWindow {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new ByteWindow(name, buf, buf.length, -1);
  }

  static fromFile(file: string, chunk = DEFAULT_CHUNK): ByteWindow {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      throw new PcapError('io', file, -1, `cannot open: ${(e as Error).message}`, { cause: e });
    }
    return new ByteWindow(file, Buffer.allocUnsafe(chunk), 0, fd);
  }

  /** File offset of the cursor. */
  offset(): number {
    return this.base + this.pos;
  }

  /** Bytes available at the cursor right now. */
  available(): number {
    return this.end - this.pos;
  }

  /**
   * Makes `n` bytes available at the cursor. Returns false when the file ends first; then
   * available() says how many bytes remain.
   */
  ensure(n: number): boolean {
    if (this.end - this.pos >= n) return true;
    if (this.eof) return false;
    this.compact(n);
    while (this.end - this.pos < n && !this.eof) {
      let got: number;
      try {
        // Explicit positions: the window never depends on the fd's own file position.
        got = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, this.base + this.end);
      } catch (e) {
        throw new PcapError('io', this.name, this.offset(), `read failed at byte ${this.offset()}: ${(e as Error).message}`, {
          cause: e,
        });
      }
      if (got === 0) this.eof = true;
      this.end += got;
    }
    return this.end - this.pos >= n;
  }

  advance(n: number): void {
    this.pos += n;
  }

  /** Back to byte 0 (a replay that loops). */
  rewind(): void {
    if (this.fd < 0 || (this.base === 0 && this.eof)) {
      // The whole file is in buf already.
      this.pos = 0;
      return;
    }
    this.base = 0;
    this.pos = 0;
    this.end = 0;
    this.eof = false;
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** Moves unread bytes to the front and grows the buffer if `n` bytes cannot fit. */
  private compact(n: number): void {
    const unread = this.end - this.pos;
    if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(bigger, 0, this.pos, this.end);
      this.buf = bigger;
    } else if (this.pos > 0) {
      this.buf.copy(this.buf, 0, this.pos, this.end);
    }
    this.base += this.pos;
    this.pos = 0;
    this.end = unread;
  }
}
