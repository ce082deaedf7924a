/**
 * A classic pcap capture written run to completion: each queue worker adds the records of
 * the packets it transmits out of the port to its own buffer, as it transmits them, so a
 * packet never changes thread on its way from a replay (or any polled medium) to the file.
 * The write(2) itself, which costs more than everything else a 64-byte packet does here
 * (new page-cache pages: `npm run bench -- pcap`, ref:file-growth), is the port's device
 * thread's: each queue has two buffers, one it fills while the device thread appends the
 * other to the file (O_APPEND), as a NIC fills one DMA buffer while the CPU drains another.
 *
 *   device thread (open):   out.pcap created, file header written (PcapPort)
 *   breath of worker q:     transmit(): record header + bytes ──▶ q's fill buffer
 *                           flushTx(): the fill's length published; past FLUSH_AT bytes the
 *                           buffer is handed over (PENDING) and the other one filled
 *   device thread (service): a PENDING buffer claimed (CLAIMED), written, PENDING cleared
 *
 * Every buffer holds whole records, so the file stays a valid capture whatever the queues'
 * interleaving; a queue hands over its next buffer only after the device wrote the last, so
 * its records are in order (per queue, per flow), as the kernel's per-CPU capture buffers
 * are. A worker that finds its last buffer still unclaimed when it must hand over the next
 * (the device thread is busy elsewhere) takes it back and writes it itself: back-pressure
 * never waits on another thread. Bytes reach the file when a buffer is half full, on a
 * { op: 'flush' } request, and when the worker stops (then it writes what is left itself).
 *
 * A worker killed by the watchdog loses nothing it transmitted: the buffers, which one it
 * fills, how many of its bytes belong to finished breaths and the buffer handed over live in
 * the port's shared state; the replacement carries on from there (the records of the breath
 * that was cut short are past that number: the replacement redoes that breath) through
 * descriptors of its own (Node closes the descriptors a worker opened with fs when it exits:
 * trackUnmanagedFds). The one exception is a breath that itself fills a buffer (more than
 * BUFFER − FLUSH_AT bytes of records: a budget of hundreds of jumbo frames), which hands it
 * over mid-breath, and then dies: what it wrote before dying reaches the file and is
 * written again by the replacement's redo.
 *
 * Shared state (one SharedArrayBuffer for the port, captureSharedState):
 *   [64·q]          Int32 words of queue q: USED bytes of finished breaths in the fill buffer,
 *                   FILL which buffer (0, 1), PENDING the buffer handed over ((bytes << 2) |
 *                   CLAIMED | buffer, 0: none), ERROR the device's write of it failed
 *   [64·queues + BUFFER·(2q + b), +BUFFER)  queue q's buffer b
 */
import path from 'node:path';
import { ClassicWriter } from '../../../lib/pcap/classic-writer.js';
import { FileSink } from '../../../lib/pcap/file-sink.js';
import { PcapError } from '../../../lib/pcap/error.js';
import { XDP_PACKET_HEADROOM } from '../../../queues/frames.js';
import type { QueueIO, QueuePort } from '../port.js';
import type { PcapPortOptions } from './port-options.js';
import { CaptureClock } from './capture-clock.js';

/** Each of a queue's two buffers, and the fill past which a breath's end hands it over. */
const BUFFER = 2 << 20;
const FLUSH_AT = 1 << 20;
const LINE = 64;
/** A classic pcap record's header (ts_sec, ts_usec, incl_len, orig_len). */
const RECORD_HEADER = 16;
/** Int32 words of a queue's line. */
const W_USED = 0;
const W_FILL = 1;
const W_PENDING = 2;
const W_ERROR = 3;
/** PENDING: the device thread is writing the buffer (bit 1); which buffer (bit 0). */
const CLAIMED = 2;

/** Whether the queue workers write this port's capture (classic pcap; pcapng stays on the device thread). */
export function writesOnQueues(o: PcapPortOptions): boolean {
  return o.write !== null && o.format === 'pcap';
}

/** Int32 index of queue q's line (one cache line per queue). */
function lineOf(queue: number): number {
  return (LINE * queue) >> 2;
}

function bufferAt(queues: number, queue: number, b: number): number {
  return LINE * queues + BUFFER * (2 * queue + b);
}

/** The port's shared state: every queue's words and buffers (queues 0: none written). */
export function captureSharedState(queues: number): SharedArrayBuffer {
  return new SharedArrayBuffer(Math.max(4, bufferAt(queues, queues, 0)));
}

/** How many queues a port's shared state (captureSharedState) has lines and buffers for. */
export function captureQueues(shared: SharedArrayBuffer): number {
  return Math.floor(shared.byteLength / (LINE + 2 * BUFFER));
}

/**
 * The device thread's part (PcapPort.service): appends every buffer a queue handed over and
 * no one claimed yet. Returns how many it wrote. `write` appends bytes to the file (throws a
 * PcapError when it cannot); a failure is left in the queue's ERROR word for its worker.
 */
export function writeHandedBuffers(shared: SharedArrayBuffer, queues: number, write: (bytes: Uint8Array) => void, log: (message: string) => void): number {
  const words = new Int32Array(shared, 0, (LINE * queues) >> 2);
  let n = 0;
  for (let q = 0; q < queues; q++) {
    const at = lineOf(q) + W_PENDING;
    // Pairs with the worker's Atomics.store of PENDING in handOver().
    const v = Atomics.load(words, at);
    if (v === 0 || (v & CLAIMED) !== 0) continue;
    // Claimed by one side only: pairs with the worker's compareExchange in settlePending(),
    // which takes an unclaimed buffer back with the same exchange.
    if (Atomics.compareExchange(words, at, v, v | CLAIMED) !== v) continue;
    try {
      write(new Uint8Array(shared, bufferAt(queues, q, v & 1), v >>> 2));
    } catch (e) {
      // Pairs with the worker's Atomics.load of ERROR before each hand-over.
      Atomics.store(words, lineOf(q) + W_ERROR, 1);
      log(`queue ${q}'s capture buffer: ${(e as Error).message}`);
    }
    // Pairs with the worker's Atomics.wait/load of PENDING: the buffer is its own again.
    Atomics.store(words, at, 0);
    Atomics.notify(words, at);
    n++;
  }
  return n;
}

export class PcapQueueCapture implements QueuePort {
  private writer: ClassicWriter | null;
  private sink: FileSink | null;
  /** One writer and sink per buffer (each sink its own O_APPEND descriptor, for the writes this worker makes itself). */
  private readonly writers: ClassicWriter[];
  private readonly sinks: FileSink[];
  private fill: number;
  private readonly clock = new CaptureClock();
  private readonly words: Int32Array;
  private readonly line: number;
  /** tx_file_bytes, and what of the file's bytes this side has counted there. */
  private readonly cFileBytes: number;
  private counted: number;
  /** Bytes handed to the device thread by this worker (they count as written). */
  private handed = 0;

  constructor(
    o: PcapPortOptions,
    private readonly io: QueueIO,
  ) {
    const shared = io.shared;
    if (shared === null) throw new Error('a capture written by the queues needs the port’s shared state');
    const file = path.resolve(o.write!);
    this.words = new Int32Array(shared, 0, (LINE * io.queues) >> 2);
    const w = this.words;
    this.line = lineOf(io.queue);
    // What the worker before this one left (pairs with the Atomics.stores in flushTx and
    // handOver): the buffer it filled and the records of its finished breaths there.
    let fill = Atomics.load(w, this.line + W_FILL);
    let used = Atomics.load(w, this.line + W_USED);
    const pending = Atomics.load(w, this.line + W_PENDING);
    if (pending !== 0 && (pending & 1) === fill) {
      // It ended between handing its buffer over and turning to the other: turn now (pairs
      // with the loads above in this side's own successor, should it end too).
      fill ^= 1;
      used = 0;
      Atomics.store(w, this.line + W_FILL, fill);
      Atomics.store(w, this.line + W_USED, 0);
    }
    // A buffer it handed over may wait for a device thread it never woke.
    if (pending !== 0) io.wakeDevice?.();
    this.fill = fill;
    this.sinks = [0, 1].map((b) => new FileSink(file, BUFFER, { append: true, buffer: Buffer.from(shared, bufferAt(io.queues, io.queue, b), BUFFER), used: b === fill ? used : 0 }));
    this.writers = this.sinks.map((sink) => new ClassicWriter(file, { precision: o.precision }, sink));
    for (const wr of this.writers) wr.sourceFrames(io.frameSize, XDP_PACKET_HEADROOM);
    this.sink = this.sinks[fill];
    this.writer = this.writers[fill];
    this.cFileBytes = io.counterIndex('tx_file_bytes');
    // The predecessor counted the bytes it buffered.
    this.counted = used;
  }

  transmit(area: Uint8Array, offset: number, length: number): boolean {
    // A breath whose records overflow the buffer (a budget of hundreds of jumbo frames)
    // hands it over here rather than let the sink write it past the one the device still
    // holds: a queue's records stay in order.
    if (this.sink !== null && this.sink.used + RECORD_HEADER + length > BUFFER) this.handOver();
    const w = this.writer;
    if (w === null) return false; // the capture failed: tx_dropped
    const clock = this.clock;
    clock.tick();
    try {
      w.write(area, offset, length, clock.sec, clock.nsec);
    } catch (e) {
      this.fail(e);
      return false;
    }
    return true;
  }

  /** After a breath that transmitted: its records are the buffer's now; half full, to the device thread. */
  flushTx(): void {
    this.clock.burst();
    const sink = this.sink;
    if (sink === null) return;
    // Pairs with the Atomics.load in the constructor of a worker that replaces this one.
    Atomics.store(this.words, this.line + W_USED, sink.used);
    if (sink.used >= FLUSH_AT) this.handOver();
    this.count();
  }

  /**
   * The fill buffer to the device thread, and the other one filled from now on: first the
   * other must be free (written by the device thread, or taken back and written here).
   */
  private handOver(): void {
    if (!this.settlePending()) return;
    const w = this.words;
    const b = this.fill;
    const sink = this.sink!;
    // Pairs with the device's Atomics.load/compareExchange in writeHandedBuffers.
    Atomics.store(w, this.line + W_PENDING, (sink.used << 2) | b);
    this.handed += sink.used;
    this.io.wakeDevice?.();
    // The bytes are the device's until it clears PENDING; settlePending() waits for that
    // before this buffer is filled again.
    sink.used = 0;
    this.fill = b ^ 1;
    // Pairs with the Atomics.loads in a replacement's constructor.
    Atomics.store(w, this.line + W_FILL, this.fill);
    Atomics.store(w, this.line + W_USED, 0);
    this.sink = this.sinks[this.fill];
    this.writer = this.writers[this.fill];
  }

  /**
   * Makes sure no buffer of this queue is with the device thread: one it has not claimed is
   * taken back and written here; one it is writing is waited for. False when the capture
   * failed (here or on the device thread).
   */
  private settlePending(): boolean {
    const w = this.words;
    const at = this.line + W_PENDING;
    for (;;) {
      // Pairs with the device's Atomics.store(PENDING, 0) after its write.
      const v = Atomics.load(w, at);
      if (v === 0) break;
      if ((v & CLAIMED) === 0) {
        // Not claimed: take it back and write it here (pairs with the device's claiming
        // compareExchange in writeHandedBuffers: one of the two wins).
        if (Atomics.compareExchange(w, at, v, 0) !== v) continue;
        const sink = this.sinks[v & 1];
        sink.used = v >>> 2;
        // Counted when handed over; the sink counts it again as it writes.
        this.handed -= sink.used;
        try {
          sink.flush();
        } catch (e) {
          this.fail(e);
          return false;
        }
        break;
      }
      // The device is writing it (a write(2) of at most BUFFER bytes): pairs with its
      // Atomics.notify after it clears PENDING; the timeout only re-checks.
      Atomics.wait(w, at, v, 100);
    }
    // Pairs with the device's Atomics.store of ERROR before it cleared PENDING.
    if (Atomics.load(w, this.line + W_ERROR) !== 0) {
      this.fail(new PcapError('io', this.sinks[0].file, -1, 'the port’s device thread could not write a buffer of this queue (see the log)'));
      return false;
    }
    return true;
  }

  /** `{ op: 'flush' }` (through the port's device thread): everything buffered to the file. */
  control(msg: unknown): void {
    if ((msg as { op?: unknown } | null)?.op !== 'flush') throw new Error(`pcap queue side: unknown request ${JSON.stringify(msg)}`);
    if (this.sink === null) return;
    if (this.settlePending()) this.write();
    this.count();
  }

  /** The worker stops: what is buffered goes to the file, and the descriptors are closed. */
  close(): void {
    const sink = this.sink;
    if (sink === null) return;
    if (this.settlePending()) this.write();
    this.count();
    this.sink = null;
    this.writer = null;
    for (const s of this.sinks) {
      try {
        s.close();
      } catch {
        // nothing buffered is left to lose; the descriptor is gone either way
      }
    }
  }

  /** The fill buffer to the file, from here (between breaths: all of it belongs to finished breaths). */
  private write(): void {
    try {
      this.sink!.flush();
    } catch (e) {
      this.fail(e);
      return;
    }
    // Pairs with the Atomics.load in a replacement's constructor: written, not to be written again.
    Atomics.store(this.words, this.line + W_USED, 0);
  }

  /** Bytes of this side's records that reached the file or the device thread. */
  private fileBytes(): number {
    return this.handed + this.sinks[0].written + this.sinks[1].written;
  }

  private count(): void {
    const sink = this.sink;
    if (sink === null) return;
    const bytes = this.fileBytes() + sink.used;
    this.io.counters[this.cFileBytes] += bytes - this.counted;
    this.counted = bytes;
  }

  /** The capture failed (disk full, I/O error): say so once, stop writing, keep the switch running. */
  private fail(e: unknown): void {
    if (!(e instanceof PcapError)) throw e;
    const sink = this.sink!;
    this.sink = null;
    this.writer = null;
    this.io.count('tx_file_errors');
    this.io.log('error', `capture stopped on queue ${this.io.queue} after ${this.fileBytes()} bytes: ${e.message}`);
    Atomics.store(this.words, this.line + W_USED, 0); // pairs with a replacement's load: nothing to carry on
    sink.used = 0; // what failed is not retried at close
    for (const s of this.sinks) {
      try {
        s.close();
      } catch {
        // the same error again; already reported
      }
    }
  }
}
