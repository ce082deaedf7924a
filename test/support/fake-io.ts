/**
 * A PortIO without a switch: what a port hands to io.receive() is copied out and kept, so
 * unit tests can check framing and counting on one port with no threads.
 * It counts as switch/device-io.ts does: rx_packets/rx_bytes for every frame received,
 * rx_dropped for what the device itself refuses (under 14 bytes, over the frame area).
 */
import { CounterBlock } from '../../lib/counters.js';
import { PORT_COUNTERS } from '../../switch/counters.js';
import { XDP_PACKET_HEADROOM } from '../../queues/frames.js';
import type { Port, PortIO, PortType } from '../../switch/ports/port.js';

export class FakeIO implements PortIO {
  readonly ifindex = 1;
  readonly maxFrameLength: number;
  readonly area: Uint8Array;
  readonly counters: Float64Array;
  readonly block: CounterBlock;
  readonly frames: Buffer[] = [];
  readonly logs: { level: string; message: string }[] = [];
  flushes = 0;
  /** Frames received since the last flush (flush() moves them to `frames`). */
  private staged: Buffer[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(
    readonly name: string,
    type: PortType,
    readonly frameSize = 2048,
  ) {
    this.maxFrameLength = frameSize - XDP_PACKET_HEADROOM;
    this.area = new Uint8Array(new SharedArrayBuffer(frameSize * 8));
    this.block = new CounterBlock([...PORT_COUNTERS, ...(type.counters ?? [])]);
    this.counters = this.block.values;
  }

  receive(src: Uint8Array, offset: number, length: number): boolean {
    this.counters[0]++;
    this.counters[1] += length;
    if (length > this.maxFrameLength || length < 14) {
      this.count('rx_dropped');
      return false;
    }
    this.staged.push(Buffer.from(src.subarray(offset, offset + length)));
    return true;
  }
  /** Frames 1…7 for in-place receives (frame 0 is transmit()'s); a submitted frame is copied out and free again at once. */
  private readonly free = [7, 6, 5, 4, 3, 2, 1];
  allocFrame(): number {
    const f = this.free.pop();
    if (f !== undefined) return f;
    this.count('rx_packets');
    this.count('rx_no_buffer');
    return -1;
  }
  freeFrame(frame: number): void {
    if (frame > 0 && !this.free.includes(frame)) this.free.push(frame);
  }
  dataOffset(frame: number): number {
    return frame * this.frameSize + XDP_PACKET_HEADROOM;
  }
  submit(frame: number, length: number): boolean {
    const ok = this.receive(this.area, this.dataOffset(frame), length);
    this.freeFrame(frame);
    return ok;
  }
  flush(): void {
    this.flushes++;
    if (this.staged.length) this.frames.push(...this.staged);
    this.staged = [];
    this.waiters = this.waiters.filter((w) => (this.frames.length >= w.n ? (w.resolve(), false) : true));
  }
  count(name: string, n = 1): void {
    this.counters[this.counterIndex(name)] += n;
  }
  counterIndex(name: string): number {
    const i = this.block.index.get(name);
    if (i === undefined) throw new Error(`no counter ${name}`);
    return i;
  }
  log(level: 'info' | 'warn' | 'error', message: string): void {
    this.logs.push({ level, message });
  }

  get(name: string): number {
    return this.block.get(name);
  }

  /** Resolves once `n` frames have been flushed (rejects after `ms`). */
  waitFrames(n: number, ms = 5000): Promise<void> {
    if (this.frames.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: ${this.frames.length} of ${n} frames after ${ms} ms`)), ms);
      this.waiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
    });
  }

  /** Puts `bytes` in frame 0 of the area and transmits it through `port` as the device would. */
  transmit(port: Port, bytes: Uint8Array, frame = 0): boolean {
    const off = this.dataOffset(frame);
    this.area.set(bytes, off);
    const ok = port.transmit(this.area, off, bytes.length, 0);
    this.count(ok ? 'tx_packets' : 'tx_dropped');
    port.flushTx?.();
    return ok;
  }
}

/** Polls `cond` until true (rejects with `what` after `ms`). */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An Ethernet frame of `len` bytes: broadcast dst, locally administered src, ethertype, a counting payload. */
export function ethFrame(len: number, seed = 0, ethertype = 0x88b5): Buffer {
  const b = Buffer.alloc(len);
  b.fill(0xff, 0, 6);
  b.set([0x02, 0, 0, 0, 0, seed & 0xff], 6);
  b.writeUInt16BE(ethertype, 12);
  for (let i = 14; i < len; i++) b[i] = (i + seed) & 0xff;
  return b;
}
