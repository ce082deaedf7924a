/**
 * A preloaded pcap replay run to completion: each queue worker replays, from memory, the
 * packets of the capture that flow steering gives its queue, as each RX queue of a
 * multi-queue NIC holds the flows RSS put on it. The steering decision is made once, at
 * load: the default RSS (flows/rss.ts, the same Toeplitz hash and indirection table the
 * device thread uses) picks each packet's queue and hash, and every worker keeps its own
 * share, packed. At run time no packet changes thread before the program runs: no RPS hop.
 *
 *   load (worker q, at open):  capture ──preload──▶ steer every packet ──▶ share of q
 *                              (packed copy: offsets, lengths, times, RSS hashes)
 *   breath of worker q:        share ──PreloadedSource──▶ QueueIO (q's pool, rx[p][q]) ──▶ program
 *
 * Why this and not one thread steering into the workers' rings (RPS, as a streamed replay
 * does on its device thread): the capture is in memory and can be polled like a NIC's
 * descriptor ring, so a thread hop per packet would buy nothing but cache misses and a
 * thread to schedule; and steering is a pure function of the packet, so doing it once at
 * load gives each queue exactly the packets, in exactly the order, the RPS thread would.
 *
 * What stays the same as the device thread's replay (./replay.ts does the pacing for both):
 *   order per flow   a flow lives on one queue and its share keeps the capture's order
 *   loop N           N passes over the share; 0 = until stopped
 *   rate r           each queue replays at r × its share of the packets
 *   speed            the capture's own times (relative to its first packet) on every queue
 *   backpressure     a poll takes no more than the rx ring and the pool have room for
 *                    (QueueIO.room()): nothing is dropped at ingress; without it, packets
 *                    the pool cannot take are counted rx_no_buffer
 *   counters         rx_truncated by each queue for its own packets; rx_passes and
 *                    rx_oversize (records skipped at load, counted once per pass) by the
 *                    queue that holds the capture's first packet only, so the port's sums
 *                    read as one replay's
 * Memory: every worker reads and parses the file at open and keeps only its share, so the
 * shares together hold the capture once. A restarted worker continues from the position
 * its (port, queue) rx_packets counter says, as gen's queue side does.
 */
import path from 'node:path';
import { preloadCapture, type PreloadedCapture } from '../../../lib/pcap/preload.js';
import { DefaultRssSteerer } from '../../../flows/rss.js';
import type { QueueIO, QueuePort } from '../port.js';
import type { PcapPortOptions } from './port-options.js';
import { PreloadedSource } from './replay-source.js';
import { Replayer } from './replay.js';

/** The part of a capture one queue replays. */
export interface QueueShare {
  /** This queue's packets, packed, in capture order (a PreloadedCapture of their own). */
  cap: PreloadedCapture;
  /** RSS hash of each packet of the share. */
  hashes: Int32Array;
  /** The queue that holds the capture's first packet (0 for an empty capture). */
  first: number;
}

/** Steers every packet of `cap` with the default RSS over `queues` queues; returns queue `queue`'s share. */
export function steerShare(cap: PreloadedCapture, queues: number, queue: number): QueueShare {
  const rss = new DefaultRssSteerer(queues);
  const mine = new Int32Array(cap.count);
  const hashes = new Int32Array(cap.count);
  let n = 0;
  let size = 0;
  let first = 0;
  for (let i = 0; i < cap.count; i++) {
    const q = rss.steer(cap.data, cap.offsets[i], cap.lengths[i]);
    if (i === 0) first = q;
    if (q !== queue) continue;
    mine[n] = i;
    hashes[n] = rss.hash | 0;
    n++;
    size += (cap.lengths[i] + 3) & ~3;
  }
  // Packed at 4-byte-aligned offsets, as preload stores them (word copies into the frames).
  const data = Buffer.alloc(size);
  const offsets = new Uint32Array(n);
  const lengths = new Uint32Array(n);
  const origLengths = new Uint32Array(n);
  const relNs = new Float64Array(n);
  let at = 0;
  let truncated = 0;
  let bytes = 0;
  for (let k = 0; k < n; k++) {
    const i = mine[k];
    const len = cap.lengths[i];
    cap.data.copy(data, at, cap.offsets[i], cap.offsets[i] + len);
    offsets[k] = at;
    lengths[k] = len;
    origLengths[k] = cap.origLengths[i];
    relNs[k] = cap.relNs[i];
    if (len < cap.origLengths[i]) truncated++;
    bytes += len;
    at += (len + 3) & ~3;
  }
  return {
    cap: {
      file: cap.file,
      format: cap.format,
      count: n,
      data,
      words: new Int32Array(data.buffer, data.byteOffset, data.byteLength >>> 2),
      offsets,
      lengths,
      origLengths,
      relNs,
      truncated,
      // Records skipped at load belong to no queue: the first packet's queue counts them.
      skippedOversize: queue === first ? cap.skippedOversize : 0,
      bytes,
    },
    hashes: hashes.slice(0, n),
    first,
  };
}

/** Queue worker q's side of a replaying pcap port (PortType.openQueue). */
export class PcapQueue implements QueuePort {
  private readonly source: PreloadedSource;
  private readonly replayer: Replayer;
  /** This queue counts the replay's passes (it holds the capture's first packet). */
  private readonly countsPasses: boolean;
  private readonly cTruncated: number;
  private readonly cOversize: number;
  private readonly cPasses: number;
  private reportedTruncated = 0;
  private reportedOversize = 0;
  private reportedPasses = 0;

  constructor(
    o: PcapPortOptions,
    private readonly io: QueueIO,
  ) {
    const file = path.resolve(o.read!);
    const cap = preloadCapture(file, { maxFrameLength: io.maxFrameLength, oversize: o.oversize === 'drop' ? 'skip' : 'error' });
    const share = steerShare(cap, io.queues, io.queue);
    this.countsPasses = share.first === io.queue;
    this.source = new PreloadedSource(share.cap, share.hashes);
    // A rate is the port's: each queue takes its share of it.
    const rate = o.rate === 0 || cap.count === 0 ? 0 : (o.rate * share.cap.count) / cap.count;
    this.replayer = new Replayer(this.source, { speed: o.speed, rate, loop: o.loop, backpressure: o.backpressure });
    this.cTruncated = io.counterIndex('rx_truncated');
    this.cOversize = io.counterIndex('rx_oversize');
    this.cPasses = io.counterIndex('rx_passes');
    // A worker restarted (watchdog, or killed) continues where its predecessor stopped:
    // every packet taken from the share is in this (port, queue)'s rx_packets (the counters
    // are shared memory), so nothing is replayed twice or skipped.
    const taken = io.counters[io.counterIndex('rx_packets')];
    if (taken > 0 && share.cap.count > 0) {
      const passes = Math.floor(taken / share.cap.count);
      const at = taken - passes * share.cap.count;
      const finished = o.loop !== 0 && passes >= o.loop;
      this.source.resume(at, finished ? passes : passes + 1, io.counters[this.cTruncated]);
      this.replayer.resume(passes, at, taken);
      // What the predecessor published; the next poll adds what is missing (a pass it had
      // finished without having counted it yet).
      this.reportedTruncated = io.counters[this.cTruncated];
      if (this.countsPasses) {
        this.reportedPasses = io.counters[this.cPasses];
        this.reportedOversize = io.counters[this.cOversize];
      }
    }
    io.log('info', `replaying ${file} on queue ${io.queue}: ${share.cap.count} of its ${cap.count} packets (${share.cap.bytes} bytes, ${cap.format}) preloaded, steered here at load`);
  }

  poll(budget: number): number {
    // A preloaded capture was checked whole at load: replaying it cannot fail.
    const n = this.replayer.poll(this.io, budget);
    const c = this.io.counters;
    const t = this.source.truncated;
    if (t !== this.reportedTruncated) {
      c[this.cTruncated] += t - this.reportedTruncated;
      this.reportedTruncated = t;
    }
    if (this.countsPasses) {
      const x = this.source.oversize;
      c[this.cOversize] += x - this.reportedOversize;
      this.reportedOversize = x;
      const p = this.replayer.passes;
      c[this.cPasses] += p - this.reportedPasses;
      this.reportedPasses = p;
    }
    return n;
  }

  status(): Record<string, number> {
    return { replayed: this.replayer.sent, passes: this.replayer.passes };
  }
}
