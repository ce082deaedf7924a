/**
 * Where a replay takes its packets from: a preloaded capture (memory, the fast path) or a
 * capture streamed from disk through a PcapReader (any size). Both hand packets to a
 * ReplayIO in bursts: up to `n` packets whose time (relative to the pass's first packet)
 * is at most `limitNs`, and say when a pass through the file has ended.
 *
 * The ReplayIO is the device thread's PortIO (which steers each frame: the RPS hop) or, run
 * to completion, a queue worker's QueueIO replaying the share of a preloaded capture that
 * flow steering gave its queue at load (./queue-replay.ts); there each frame goes with the
 * RSS hash computed then.
 */
import type { PortIO, QueueIO } from '../port.js';

/** What a replay writes frames through: the device's PortIO or a queue worker's QueueIO. */
export type ReplayIO = PortIO | QueueIO;
import { ByteCopier, StagingCopier } from '../../../queues/copy.js';
import type { PreloadedCapture } from '../../../lib/pcap/preload.js';
import type { PcapReader } from '../../../lib/pcap/reader.js';

export interface ReplaySource {
  /** Sends up to n packets due by limitNs; returns how many were taken from the capture. */
  sendUpTo(io: ReplayIO, n: number, limitNs: number): number;
  /** True once the current pass has no packet left. */
  readonly atEnd: boolean;
  /** Starts the next pass. */
  rewind(): void;
  /** Frames captured shorter than on the wire, seen so far (caplen < len). */
  readonly truncated: number;
  /** Records dropped as larger than the switch's frames, so far (every pass counts). */
  readonly oversize: number;
  close(): void;
}

/** Longer frames are copied with one TypedArray#set from a view made at load. */
const VIEW_COPY_MIN = 128;
const NO_VIEW = new Uint8Array(0);

export class PreloadedSource implements ReplaySource {
  private i = 0;
  /** Preloaded capture → frame area (both stay the same: views made once). */
  private readonly copier = new ByteCopier();
  /**
   * One view per frame longer than VIEW_COPY_MIN (NO_VIEW for the others), made here so
   * that replaying allocates nothing: ≈ 100 bytes of heap per long frame.
   */
  private readonly views: Uint8Array[];
  truncated = 0;
  oversize: number;

  /**
   * `hashes`: frame i's RSS hash, for a queue's share (submitted with it, as a NIC's RX
   * descriptor carries it); absent on the device thread, which steers every frame itself.
   */
  constructor(
    private readonly cap: PreloadedCapture,
    private readonly hashes: Int32Array | null = null,
  ) {
    // Skipped once at load; counted once per pass, as a streamed replay counts them.
    this.oversize = cap.skippedOversize;
    this.views = new Array<Uint8Array>(cap.count);
    for (let i = 0; i < cap.count; i++) {
      const o = cap.offsets[i];
      this.views[i] = cap.lengths[i] > VIEW_COPY_MIN ? cap.data.subarray(o, o + cap.lengths[i]) : NO_VIEW;
    }
  }

  get atEnd(): boolean {
    return this.i >= this.cap.count;
  }

  sendUpTo(io: ReplayIO, n: number, limitNs: number): number {
    const area = io.area;
    const views = this.views;
    const hashes = this.hashes;
    const { data, offsets, lengths, origLengths, relNs, count } = this.cap;
    let i = this.i;
    const stop = Math.min(count, i + n);
    let taken = 0;
    while (i < stop) {
      if (relNs[i] > limitNs) break;
      const len = lengths[i];
      if (len < origLengths[i]) this.truncated++;
      const f = io.allocFrame();
      i++;
      taken++;
      // An empty pool drops this packet (counted rx_no_buffer by io), as a NIC would; stop
      // the burst so the device drains and frames come back.
      if (f < 0) break;
      const dst = io.dataOffset(f);
      if (len > VIEW_COPY_MIN) {
        area.set(views[i - 1], dst);
      } else {
        // Words: both ends are 4-byte aligned (the store pads frames; packet data starts
        // 256 bytes into a frame).
        this.copier.copy(area, dst, data, offsets[i - 1], len);
      }
      // Hashes come with a queue side's share (run to completion), read where they are
      // stored (QueueIO.submitHashed); the device thread's PortIO hashes when it steers.
      if (hashes !== null) (io as QueueIO).submitHashed(f, len, hashes, i - 1);
      else io.submit(f, len, 0);
    }
    this.i = i;
    return taken;
  }

  rewind(): void {
    this.i = 0;
    this.oversize += this.cap.skippedOversize;
  }

  /** Continues a replay another thread started: `at` packets into the pass, `started` passes begun so far. */
  resume(at: number, started: number, truncated: number): void {
    this.i = at;
    // Skipped records are counted as each pass begins.
    this.oversize = this.cap.skippedOversize * started;
    this.truncated = truncated;
  }

  close(): void {}
}

export class StreamSource implements ReplaySource {
  /** A record has been read and not yet sent (it was not due). */
  private pending = false;
  private ended = false;
  private sec0 = 0;
  private nsec0 = 0;
  private first = true;
  private copier: StagingCopier | null = null;
  truncated = 0;

  constructor(private readonly reader: PcapReader) {}

  get oversize(): number {
    return this.reader.skippedOversize;
  }

  get atEnd(): boolean {
    return this.ended;
  }

  sendUpTo(io: ReplayIO, n: number, limitNs: number): number {
    const r = this.reader;
    const rec = r.record;
    let taken = 0;
    while (taken < n) {
      if (!this.pending) {
        if (!r.next()) {
          this.ended = true;
          break;
        }
        this.pending = true;
        if (this.first) {
          this.first = false;
          this.sec0 = rec.tsSec;
          this.nsec0 = rec.tsNsec;
        }
      }
      if ((rec.tsSec - this.sec0) * 1e9 + (rec.tsNsec - this.nsec0) > limitNs) break;
      if (rec.capLen < rec.origLen) this.truncated++;
      this.pending = false;
      taken++;
      const f = io.allocFrame();
      // An empty pool drops this packet (counted rx_no_buffer by io): end the burst.
      if (f < 0) break;
      // Our own word copy into the frame: io.receive's copy call makes a view per packet.
      if (this.copier === null) this.copier = new StagingCopier(Buffer.from(io.area.buffer, io.area.byteOffset, io.area.byteLength));
      this.copier.copy(rec.data, rec.dataOffset, rec.capLen, io.dataOffset(f));
      io.submit(f, rec.capLen, 0);
    }
    return taken;
  }

  rewind(): void {
    this.reader.rewind();
    this.pending = false;
    this.ended = false;
    this.first = true;
  }

  close(): void {
    this.reader.close();
  }
}
