/**
 * Batched writes of {4-byte big-endian length, frame} records to a stream socket.
 *
 * Frames are appended to a staging buffer; a burst is written with one socket.write. A
 * buffer handed to write() belongs to the socket until the kernel has taken its bytes, so
 * there are several staging buffers used in turn. A write's callback comes a tick later
 * even when the kernel took everything at once, and a busy device thread may not yield for
 * many bursts; so a buffer is also free whenever the socket has nothing queued
 * (writableLength 0: every byte handed over is in the kernel). When no buffer is free the
 * socket is not draining and the frame is dropped (the caller counts tx_busy) —
 * back-pressure without an unbounded queue.
 * Allocation: one view per write (a burst); per frame, only what copy.ts says of large frames.
 */
import { copyBytes } from '../../../queues/copy.js';
import type { Socket } from 'node:net';

export class StreamTx {
  private readonly bufs: Buffer[];
  /** Writes of buffer i not yet called back. */
  private readonly pending: Int32Array;
  private readonly done: (() => void)[];
  private cur = 0;
  private used = 0;
  private socket: Socket | null = null;

  constructor(bufferBytes = 256 * 1024, buffers = 4) {
    this.bufs = [];
    this.pending = new Int32Array(buffers);
    this.done = [];
    for (let i = 0; i < buffers; i++) {
      this.bufs.push(Buffer.alloc(bufferBytes));
      this.done.push(() => {
        this.pending[i]--;
      });
    }
  }

  /** A new connection (or none): what was staged for the old one is dropped with it. */
  attach(socket: Socket | null): void {
    this.socket = socket;
    this.used = 0;
    // Buffers still owned by a dead socket's writes come back through their callbacks.
  }

  get connected(): boolean {
    return this.socket !== null;
  }

  /** Stages one record; false when no staging buffer is free. */
  append(src: Uint8Array, off: number, len: number): boolean {
    if (this.used + 4 + len > this.bufs[this.cur].length) this.flush();
    if (this.pending[this.cur] !== 0 && this.socket !== null && this.socket.writableLength !== 0) return false;
    const b = this.bufs[this.cur];
    const at = this.used;
    b[at] = len >>> 24;
    b[at + 1] = (len >>> 16) & 0xff;
    b[at + 2] = (len >>> 8) & 0xff;
    b[at + 3] = len & 0xff;
    copyBytes(src, off, b, at + 4, len);
    this.used = at + 4 + len;
    return true;
  }

  /** Writes what is staged and moves to the next buffer. */
  flush(): void {
    if (this.used === 0 || this.socket === null) return;
    const i = this.cur;
    this.pending[i]++;
    this.socket.write(this.bufs[i].subarray(0, this.used), this.done[i]);
    this.used = 0;
    this.cur = (i + 1) % this.bufs.length;
  }
}
