/**
 * pcap — a port whose medium is a capture file: it replays a pcap/pcapng capture into the
 * switch (read), writes what the switch transmits out of it to a capture (write), or both.
 * Options: switch/ports/pcap/port-options.ts. Formats: lib/pcap/ (reader.ts, writer.ts).
 *
 *   read, preloaded (run to completion): every queue worker replays the packets flow
 *         steering gives its queue, steered once at load (pcap/queue-replay.ts): no thread hop
 *   read, streamed (preload: false) or with flow rules on the port: the device thread reads
 *         in.pcapng ──▶ poll(): Replayer ──▶ io.submit ──▶ steer (RPS hop, rx_rps)
 *   write, classic pcap (run to completion): the device thread creates the file and writes
 *         its header; every queue worker adds the records of what it transmits itself,
 *         buffered and appended in large writes (pcap/queue-capture.ts): no thread hop
 *   write, pcapng: out.pcapng ◀── transmit(): CaptureWriter (buffered; flushed at close) on
 *         the device thread, which drains the queues' tx rings in batches
 *
 * Counters of its own (ethtool -S style, after the common rx_packets/tx_packets/…):
 *   rx_oversize    records larger than the switch's frames, dropped (oversize: drop)
 *   rx_truncated   replayed frames the capture had cut short (caplen < len); still sent
 *   rx_file_errors a streamed capture that turned out corrupt or truncated (replay stops)
 *   rx_passes      completed passes through the capture
 *   tx_file_bytes  bytes written to the output capture, file headers included
 *   tx_file_errors the output capture failed (disk full, I/O error): logged once, the
 *                  capture stops there and what the switch sends later is tx_dropped
 */
import path from 'node:path';
import { PcapError } from '../../lib/pcap/error.js';
import { parsePcapOptions, PCAP_OPTIONS, type PcapPortOptions } from './pcap/port-options.js';
import { preloadCapture } from '../../lib/pcap/preload.js';
import { PcapReader, type ReaderOptions } from '../../lib/pcap/reader.js';
import { Replayer } from './pcap/replay.js';
import { PreloadedSource, StreamSource, type ReplaySource } from './pcap/replay-source.js';
import { PcapQueue } from './pcap/queue-replay.js';
import { PcapQueueCapture, captureQueues, captureSharedState, writeHandedBuffers, writesOnQueues } from './pcap/queue-capture.js';
import { FileSink } from '../../lib/pcap/file-sink.js';
import { CaptureClock } from './pcap/capture-clock.js';
import { createWriter, type CaptureWriter, type WriterOptions } from '../../lib/pcap/writer.js';
import type { Port, PortConfig, PortIO, PortType, QueueIO } from './port.js';
import { optionTypeIssues } from './options.js';
import { XDP_PACKET_HEADROOM } from '../../queues/frames.js';

const COUNTERS = ['rx_oversize', 'rx_truncated', 'rx_file_errors', 'rx_passes', 'tx_file_bytes', 'tx_file_errors'] as const;

class PcapPort implements Port {
  private io!: PortIO;
  private replayer: Replayer | null = null;
  private source: ReplaySource | null = null;
  private writer: CaptureWriter | null = null;
  /** The writer after a write error (for status()). */
  private failedWriter: CaptureWriter | null = null;
  // Counter indices, and what was last added to them (the sources count cumulatively).
  private cTruncated = 0;
  private cOversize = 0;
  private cPasses = 0;
  private cFileBytes = 0;
  private reportedTruncated = 0;
  private reportedOversize = 0;
  private reportedPasses = 0;
  private clock: CaptureClock | null = null;
  /** The queue workers write the records (run to completion); this thread wrote the header. */
  private queuesWrite = false;
  /** Run to completion: the descriptor this thread appends the queues' handed-over buffers with (service). */
  private handedSink: FileSink | null = null;
  private handedQueues = 0;
  private readonly appendHanded = (bytes: Uint8Array): void => this.handedSink!.writeDirect(bytes, 0, bytes.length);
  private readonly logHanded = (m: string): void => this.io.log('error', `capture: ${m}`);

  constructor(private readonly o: PcapPortOptions) {}

  async open(io: PortIO): Promise<void> {
    this.io = io;
    this.cTruncated = io.counterIndex('rx_truncated');
    this.cOversize = io.counterIndex('rx_oversize');
    this.cPasses = io.counterIndex('rx_passes');
    this.cFileBytes = io.counterIndex('tx_file_bytes');
    const o = this.o;
    // Replayed by the queue workers (PcapQueue): nothing to load here.
    if (o.read !== null && io.rxOnQueues !== true) {
      const file = path.resolve(o.read);
      const ro: ReaderOptions = { maxFrameLength: io.maxFrameLength, oversize: o.oversize === 'drop' ? 'skip' : 'error' };
      if (o.preload) {
        const cap = preloadCapture(file, ro);
        this.source = new PreloadedSource(cap);
        io.log('info', `replaying ${file}: ${cap.count} packets, ${cap.bytes} bytes preloaded (${cap.format})`);
      } else {
        this.source = new StreamSource(PcapReader.open(file, ro));
      }
      this.replayer = new Replayer(this.source, { speed: o.speed, rate: o.rate, loop: o.loop, backpressure: o.backpressure });
    }
    if (o.write !== null) {
      const wo: WriterOptions =
        o.format === 'pcapng' ? { format: 'pcapng', interfaces: [io.name] } : { format: 'pcap', precision: o.precision };
      try {
        this.writer = createWriter(path.resolve(o.write), wo);
      } catch (e) {
        this.replayer?.close(); // a streamed replay holds its file open
        throw e;
      }
      this.writer.sourceFrames(io.frameSize, XDP_PACKET_HEADROOM);
      this.clock = new CaptureClock();
      // Run to completion: the queue workers add the records (queue-capture.ts), after the
      // file header, which must therefore be in the file before the first of them.
      if (writesOnQueues(o) && io.shared != null) {
        this.queuesWrite = true;
        this.writer.flush();
        // The queues' full buffers are written from here (queue-capture.ts), appended after
        // the header through a descriptor of this thread's own.
        this.handedSink = new FileSink(path.resolve(o.write), 64, { append: true });
        this.handedQueues = captureQueues(io.shared);
      }
      this.publishFileBytes();
    }
  }

  poll(budget: number): number {
    const r = this.replayer;
    if (r === null) return -1;
    let n: number;
    try {
      n = r.poll(this.io, budget);
    } catch (e) {
      // Only a streamed capture can fail here (a preloaded one was checked at open).
      if (!(e instanceof PcapError)) throw e;
      this.io.count('rx_file_errors');
      this.io.log('error', `replay stopped: ${e.message}`);
      r.done = true;
      n = -1;
    }
    this.publishReplay();
    return n;
  }

  private publishReplay(): void {
    const r = this.replayer!;
    const c = this.io.counters;
    const t = this.source!.truncated;
    c[this.cTruncated] += t - this.reportedTruncated;
    this.reportedTruncated = t;
    const x = this.source!.oversize;
    c[this.cOversize] += x - this.reportedOversize;
    this.reportedOversize = x;
    c[this.cPasses] += r.passes - this.reportedPasses;
    this.reportedPasses = r.passes;
  }

  private publishFileBytes(): void {
    const c = this.io.counters;
    const b = this.writer!.bytes;
    c[this.cFileBytes] = b;
  }

  transmit(area: Uint8Array, offset: number, length: number, _queue: number): boolean {
    const w = this.writer;
    if (w === null) return false; // a replay-only port (or a failed capture): tx_dropped
    const clock = this.clock!;
    clock.tick();
    try {
      w.write(area, offset, length, clock.sec, clock.nsec);
    } catch (e) {
      this.fail(e);
      return false;
    }
    return true;
  }

  /** The output capture failed: say so once, stop writing, keep the switch running. */
  private fail(e: unknown): void {
    if (!(e instanceof PcapError)) throw e;
    const w = this.writer!;
    this.writer = null;
    this.failedWriter = w;
    this.io.count('tx_file_errors');
    this.io.log('error', `capture stopped after ${w.packets} packets: ${e.message}`);
    try {
      w.close();
    } catch {
      // the same error again; already reported
    }
  }

  /** Run to completion: appends the capture buffers the queue workers handed over. */
  service(): number {
    if (this.handedSink === null) return 0;
    return writeHandedBuffers(this.io.shared!, this.handedQueues, this.appendHanded, this.logHanded);
  }

  flushTx(): void {
    this.clock?.burst();
    if (this.writer !== null) this.publishFileBytes();
  }

  async close(): Promise<void> {
    this.replayer?.close();
    if (this.handedSink !== null) {
      // A buffer a worker handed over and did not live to take back (workers settle theirs
      // when they stop).
      this.service();
      this.handedSink.close();
      this.handedSink = null;
    }
    if (this.writer !== null) {
      try {
        this.writer.close();
        this.publishFileBytes();
      } catch (e) {
        this.fail(e);
      }
    }
  }

  status(): Record<string, unknown> {
    const r = this.replayer;
    return {
      ...(r !== null ? { read: this.o.read, replayed: r.sent, passes: r.passes, done: r.done } : {}),
      // Replayed by the queue workers: progress is in the port's counters (rx_packets, rx_passes).
      ...(r === null && this.o.read !== null ? { read: this.o.read, replayedOn: 'queues' } : {}),
      ...(this.writer !== null ? { write: this.o.write, written: this.writer.packets, bytes: this.writer.bytes } : {}),
      ...(this.failedWriter !== null ? { write: this.o.write, failed: true, written: this.failedWriter.packets } : {}),
    };
  }

  /**
   * `{ op: 'flush' }` makes everything transmitted so far readable in the output file. When
   * the queue workers write the records, they are asked too (`queueSides`); `written` and
   * `bytes` are then this thread's part only (the file header), the port's counters
   * (tx_packets, tx_file_bytes) the whole.
   */
  control(msg: unknown): unknown {
    const op = (msg as { op?: unknown } | null)?.op;
    if (op === 'flush') {
      if (this.writer === null) throw new Error(this.failedWriter !== null ? 'the capture failed (see the log)' : 'this port writes no capture');
      try {
        this.writer.flush();
      } catch (e) {
        this.fail(e);
        throw e;
      }
      this.publishFileBytes();
      const mine = { written: this.writer.packets, bytes: this.writer.bytes };
      return this.queuesWrite ? { ...mine, queueSides: { op: 'flush' } } : mine;
    }
    throw new Error(`unknown request ${JSON.stringify(msg)} (pcap takes { op: 'flush' })`);
  }
}

const pcap: PortType = {
  pathOptions: ['read', 'write'],
  type: 'pcap',
  options: PCAP_OPTIONS,
  counters: COUNTERS,
  validate(config: PortConfig) {
    const errors: string[] = [];
    const o = parsePcapOptions(config, errors);
    // Meaning, not only syntax: the capture to replay exists and starts like one.
    if (o.read !== null) {
      try {
        PcapReader.open(path.resolve(o.read)).close();
      } catch (e) {
        errors.push(`'read': ${(e as Error).message}`);
      }
    }
    return errors;
  },
  queueSides(config: PortConfig) {
    const o = parsePcapOptions(config, []);
    // A preloaded capture is polled by the queue workers, and a classic capture written by
    // them (each adds its records to the file); a streamed replay reads a file on the device
    // thread, and a pcapng capture is written there.
    return { rx: o.read !== null && o.preload, tx: writesOnQueues(o) };
  },
  sharedState(config: PortConfig, queues: number) {
    return captureSharedState(writesOnQueues(parsePcapOptions(config, [])) ? queues : 0);
  },
  openQueue(config: PortConfig, io: QueueIO) {
    const errors = optionTypeIssues('pcap', PCAP_OPTIONS, config);
    const o = parsePcapOptions(config, errors);
    if (errors.length) throw new Error(`pcap port ${config.name}: ${errors.join('; ')}`);
    try {
      const replay = o.read !== null && io.receives ? new PcapQueue(o, io) : null;
      const capture = writesOnQueues(o) ? new PcapQueueCapture(o, io) : null;
      if (capture === null) return replay!;
      if (replay === null) return capture;
      return {
        poll: (budget: number) => replay.poll(budget),
        status: () => replay.status(),
        transmit: (area: Uint8Array, offset: number, length: number) => capture.transmit(area, offset, length),
        flushTx: () => capture.flushTx(),
        control: (msg: unknown) => capture.control(msg),
        close: () => capture.close(),
      };
    } catch (e) {
      throw new Error(`pcap port ${config.name}: ${(e as Error).message}`, { cause: e });
    }
  },
  create(config: PortConfig) {
    const errors = optionTypeIssues('pcap', PCAP_OPTIONS, config);
    const o = parsePcapOptions(config, errors);
    if (errors.length) throw new Error(`pcap port ${config.name}: ${errors.join('; ')}`);
    return new PcapPort(o);
  },
};
export default pcap;
