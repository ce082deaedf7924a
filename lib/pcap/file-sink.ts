/**
 * A file written through one buffer: records are appended to memory and reach the file in
 * large writes (one syscall per `size` bytes, not one per packet), and on flush()/close().
 *
 * Writes are synchronous: the sink lives in a thread (a device thread, a queue worker) whose
 * loop does not yield to the event loop between bursts, so an asynchronous write would only
 * complete late. With a 1 MiB buffer that is one write(2) per ~13 000 64-byte packets.
 *
 * The file is opened O_APPEND, so several sinks can add to one file, each write(2) landing
 * whole at its end: the port's device thread creates it (truncating) and writes the file
 * header; each queue worker's sink (`append: true`) then adds records (a capture written
 * run to completion, switch/ports/pcap/queue-capture.ts).
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { StagingCopier } from '../../queues/copy.js';
import { PcapError } from './error.js';

export const DEFAULT_SINK_BUFFER = 1 << 20;

export class FileSink {
  readonly buf: Buffer;
  /** buf as a DataView, for header fields in either byte order. */
  readonly dv: DataView;
  /** Copies packet bytes into buf. */
  readonly copier: StagingCopier;
  /** Bytes waiting in buf. */
  used = 0;
  /** Bytes written to the file so far (not counting what is buffered). */
  written = 0;
  private fd: number;

  /**
   * `opts.append`: add to the file as it is (else it is created empty). `opts.buffer`: the
   * memory to buffer in (4-byte aligned; else one of `size` bytes of its own), holding
   * `opts.used` bytes already.
   */
  constructor(
    readonly file: string,
    size = DEFAULT_SINK_BUFFER,
    opts: { append?: boolean; buffer?: Buffer; used?: number } = {},
  ) {
    try {
      this.fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | (opts.append === true ? 0 : constants.O_TRUNC), 0o666);
    } catch (e) {
      throw new PcapError('io', file, -1, `cannot ${opts.append === true ? 'open' : 'create'}: ${(e as Error).message}`, { cause: e });
    }
    // Its own ArrayBuffer, so offset 0 (word aligned) whatever the size.
    this.buf = opts.buffer ?? Buffer.from(new ArrayBuffer(Math.max(64, size)));
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.copier = new StagingCopier(this.buf);
    this.used = opts.used ?? 0;
  }

  /**
   * Makes room for `n` contiguous bytes and returns their offset in buf; the caller writes
   * them and adds n to `used`. Returns -1 when n is larger than the whole buffer (the caller
   * then writes through writeDirect()).
   */
  reserve(n: number): number {
    if (this.used + n > this.buf.length) {
      this.flush();
      if (n > this.buf.length) return -1;
    }
    return this.used;
  }

  /** Writes bytes straight to the file, after what is buffered. */
  writeDirect(src: Uint8Array, offset: number, length: number): void {
    this.flush();
    this.writeAll(src, offset, length);
  }

  /** Sends what is buffered to the file. */
  flush(): void {
    if (this.used === 0) return;
    this.writeAll(this.buf, 0, this.used);
    this.used = 0;
  }

  private writeAll(src: Uint8Array, offset: number, length: number): void {
    if (this.fd < 0) throw new PcapError('io', this.file, -1, 'write after close');
    let done = 0;
    try {
      while (done < length) done += writeSync(this.fd, src, offset + done, length - done, null);
    } catch (e) {
      throw new PcapError('io', this.file, this.written + done, `write failed: ${(e as Error).message}`, { cause: e });
    }
    this.written += length;
  }

  /** Flushes and closes; idempotent. */
  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  get closed(): boolean {
    return this.fd < 0;
  }
}
