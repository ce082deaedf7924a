/**
 * A classic pcap capture written run to completion: each queue worker adds the records of
 * the packets it transmits out of the port to the file itself, as it transmits them, so a
 * packet never changes thread on its way from a replay (or any polled medium) to the file.
 *
 *   device thread (open):   out.pcap created, file header written (PcapPort)
 *   breath of worker q:     transmit(): record header + bytes ──▶ q's buffer (shared memory)
 *                           flushTx(): the buffer's length published; past FLUSH_AT bytes,
 *                           one write(2) of the whole buffer, appended (O_APPEND) to the file
 *
 * Every worker appends whole buffers of whole records, so the file stays a valid capture
 * whatever the queues' interleaving; records are in order per queue (per flow), as the
 * kernel's per-CPU capture buffers are. Bytes reach the file when a buffer is half full,
 * on a { op: 'flush' } request, and when the worker stops, as the device thread's writer
 * flushes when full, on request, and at close.
 *
 * A worker killed by the watchdog loses nothing it transmitted: the buffer and the number of
 * its bytes that belong to finished breaths live in the port's shared state, and the
 * replacement carries on from there (the records of the breath that was cut short are past
 * that number: the replacement redoes that breath) through a descriptor of its own (Node
 * closes the descriptors a worker opened with fs when it exits: trackUnmanagedFds). The
 * one exception is a breath that itself fills the buffer (more than BUFFER − FLUSH_AT bytes
 * of records, jumbo frames only) and then dies: what it wrote before dying reaches the file
 * and is written again by the replacement's redo.
 *
 * Shared state (one SharedArrayBuffer for the port, captureSharedState):
 *   [64·q]                          Int32: bytes of finished breaths in queue q's buffer
 *   [64·queues + BUFFER·q, +BUFFER) queue q's buffer
 */
import path from 'node:path';
import { ClassicWriter } from '../../../lib/pcap/classic-writer.js';
import { FileSink } from '../../../lib/pcap/file-sink.js';
import { PcapError } from '../../../lib/pcap/error.js';
import { XDP_PACKET_HEADROOM } from '../../../queues/frames.js';
import type { QueueIO, QueuePort } from '../port.js';
import type { PcapPortOptions } from './port-options.js';
import { CaptureClock } from './capture-clock.js';

/** Each queue's buffer, and the fill past which a breath's end writes it out. */
const BUFFER = 2 << 20;
const FLUSH_AT = 1 << 20;
const LINE = 64;

/** Whether the queue workers write this port's capture (classic pcap; pcapng stays on the device thread). */
export function writesOnQueues(o: PcapPortOptions): boolean {
  return o.write !== null && o.format === 'pcap';
}

/** Int32 index of queue q's length word (one cache line per queue). */
function usedWord(queue: number): number {
  return (LINE * queue) >> 2;
}

function bufferAt(queues: number, queue: number): number {
  return LINE * queues + BUFFER * queue;
}

/** The port's shared state: every queue's length word and buffer (queues 0: none written). */
export function captureSharedState(queues: number): SharedArrayBuffer {
  return new SharedArrayBuffer(Math.max(4, bufferAt(queues, queues)));
}

export class PcapQueueCapture implements QueuePort {
  private writer: ClassicWriter | null;
  private sink: FileSink | null;
  private readonly clock = new CaptureClock();
  private readonly words: Int32Array;
  private readonly used: number;
  /** tx_file_bytes, and what of the file's bytes this side has counted there. */
  private readonly cFileBytes: number;
  private counted: number;

  constructor(
    o: PcapPortOptions,
    private readonly io: QueueIO,
  ) {
    const shared = io.shared;
    if (shared === null) throw new Error('a capture written by the queues needs the port’s shared state');
    const file = path.resolve(o.write!);
    this.words = new Int32Array(shared);
    this.used = usedWord(io.queue);
    // What the worker before this one left: the records of its finished breaths (pairs with
    // the Atomics.store of the length in flushTx()).
    const used = Atomics.load(this.words, this.used);
    const buffer = Buffer.from(shared, bufferAt(io.queues, io.queue), BUFFER);
    this.sink = new FileSink(file, BUFFER, { append: true, buffer, used });
    this.writer = new ClassicWriter(file, { precision: o.precision }, this.sink);
    this.writer.sourceFrames(io.frameSize, XDP_PACKET_HEADROOM);
    this.cFileBytes = io.counterIndex('tx_file_bytes');
    // The predecessor counted the bytes it buffered.
    this.counted = used;
  }

  transmit(area: Uint8Array, offset: number, length: number): boolean {
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

  /** After a breath that transmitted: its records are the buffer's now; half full, to the file. */
  flushTx(): void {
    this.clock.burst();
    const sink = this.sink;
    if (sink === null) return;
    // Pairs with the Atomics.load in the constructor of a worker that replaces this one.
    Atomics.store(this.words, this.used, sink.used);
    if (sink.used >= FLUSH_AT) this.write();
    this.count();
  }

  /** `{ op: 'flush' }` (through the port's device thread): everything buffered to the file. */
  control(msg: unknown): void {
    if ((msg as { op?: unknown } | null)?.op !== 'flush') throw new Error(`pcap queue side: unknown request ${JSON.stringify(msg)}`);
    if (this.sink === null) return;
    this.write();
    this.count();
  }

  /** The worker stops: what is buffered goes to the file, and the descriptor is closed. */
  close(): void {
    const sink = this.sink;
    if (sink === null) return;
    this.write();
    this.count();
    this.sink = null;
    this.writer = null;
    try {
      sink.close();
    } catch {
      // nothing buffered is left to lose; the descriptor is gone either way
    }
  }

  /** The buffer to the file (between breaths: all of it belongs to finished breaths). */
  private write(): void {
    try {
      this.sink!.flush();
    } catch (e) {
      this.fail(e);
      return;
    }
    // Pairs with the Atomics.load in a replacement's constructor: written, not to be written again.
    Atomics.store(this.words, this.used, 0);
  }

  private count(): void {
    const sink = this.sink;
    if (sink === null) return;
    const bytes = sink.written + sink.used;
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
    this.io.log('error', `capture stopped on queue ${this.io.queue} after ${sink.written} bytes: ${e.message}`);
    Atomics.store(this.words, this.used, 0); // pairs with a replacement's load: nothing to carry on
    sink.used = 0; // what failed is not retried at close
    try {
      sink.close();
    } catch {
      // the same error again; already reported
    }
  }
}
