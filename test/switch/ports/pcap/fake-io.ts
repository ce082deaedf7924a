/**
 * A PortIO for testing a port without a switch: a small frame area with a free stack,
 * and what the port submits recorded (copied) in order. Frames return to the pool at
 * once unless `hold` is set (then the pool runs dry, as when the switch falls behind).
 */
import { PORT_COUNTERS, P } from '../../../../switch/counters.js';
import type { PortIO } from '../../../../switch/ports/port.js';

export class FakeIO implements PortIO {
  readonly name = 'p0';
  readonly ifindex = 1;
  readonly frameSize = 2048;
  readonly maxFrameLength = 2048 - 256;
  readonly area: Uint8Array;
  readonly counters: Float64Array;
  readonly received: Buffer[] = [];
  readonly logs: string[] = [];
  hold = false;
  /** Set by withRoom(): io.room() as the device offers it (free pool frames here). */
  room?: () => number;
  private readonly names: string[];
  private free: number[];

  constructor(extra: readonly string[], frames = 64) {
    this.area = new Uint8Array(new SharedArrayBuffer(frames * this.frameSize));
    this.names = [...PORT_COUNTERS, ...extra];
    this.counters = new Float64Array(this.names.length);
    this.free = Array.from({ length: frames }, (_, i) => i);
  }

  withRoom(): this {
    this.room = () => this.free.length;
    return this;
  }

  c(name: string): number {
    return this.counters[this.counterIndex(name)];
  }

  receive(src: Uint8Array, offset: number, length: number): boolean {
    const f = this.allocFrame();
    if (f < 0) return false;
    this.area.set(src.subarray(offset, offset + length), this.dataOffset(f));
    return this.submit(f, length);
  }
  allocFrame(): number {
    const f = this.free.pop();
    if (f === undefined) {
      this.counters[P.rx_packets]++;
      this.counters[P.rx_no_buffer]++;
      return -1;
    }
    return f;
  }
  dataOffset(frame: number): number {
    return frame * this.frameSize + 256;
  }
  submit(frame: number, length: number): boolean {
    this.counters[P.rx_packets]++;
    this.counters[P.rx_bytes] += length;
    const at = this.dataOffset(frame);
    this.received.push(Buffer.from(this.area.subarray(at, at + length)));
    if (!this.hold) this.free.push(frame);
    return true;
  }
  /** Returns every held frame to the pool. */
  release(): void {
    this.free = Array.from({ length: this.area.length / this.frameSize }, (_, i) => i);
  }
  flush(): void {}
  count(name: string, n = 1): void {
    this.counters[this.counterIndex(name)] += n;
  }
  counterIndex(name: string): number {
    const i = this.names.indexOf(name);
    if (i < 0) throw new Error(`no counter ${name}`);
    return i;
  }
  log(level: string, message: string): void {
    this.logs.push(`${level}: ${message}`);
  }
}
