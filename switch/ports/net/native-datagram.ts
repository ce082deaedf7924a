/**
 * A UDP socket through the native layer: recvmmsg straight into pool frames and sendmmsg
 * from a batch, instead of one Node callback and one Buffer per datagram (node:dgram). The
 * udp port uses it when the native layer is present.
 *
 * Receive: frames are taken from the pool ahead (`spares`), each slot of the batch points at
 * one frame's data (or `lead` bytes before it, so that a header — VXLAN's — lands in the
 * headroom), and the datagrams land there; the caller decides per datagram whether to
 * submit the frame or leave it for the next batch. When the socket is empty a watch thread
 * wakes the port (net/fd-watch.ts): no timer, no poll per packet.
 */
import * as native from '../../../lib/native/index.js';
import { K } from '../../../lib/native/index.js';
import type { PortIO } from '../port.js';
import type { HostPort } from './address.js';
import { formatHostPort } from './address.js';
import { FdWatch } from './fd-watch.js';
import { SendBatch } from './send-batch.js';
import { sockaddr } from './sockaddr.js';
import { takeSpares } from './spares.js';

const BATCH = 64;
/**
 * The receive buffer asked for: room for a few thousand datagrams while the thread that reads
 * them waits for a CPU (the default, 208 KiB, holds about 250 small ones).
 */
const RCVBUF = 4 << 20;

/** SO_RCVBUFFORCE when allowed (root: past net.core.rmem_max), else SO_RCVBUF up to that maximum. */
function growReceiveBuffer(fd: number): void {
  try {
    native.setsockoptInt(fd, K.SOL_SOCKET, K.SO_RCVBUFFORCE, RCVBUF);
  } catch {
    native.setsockoptInt(fd, K.SOL_SOCKET, K.SO_RCVBUF, RCVBUF);
  }
}

/**
 * A non-blocking UDP socket of `at`'s family bound to `at`: with the larger receive buffer
 * (`receives`), with SO_REUSEPORT (`reusePort`: one socket per queue on one address).
 * Closed again and the error passed on when an option or the bind fails.
 */
export function bindDatagramSocket(at: HostPort, { receives = false, reusePort = false } = {}): number {
  const fd = native.socket(at.family === 6 ? K.AF_INET6 : K.AF_INET, K.SOCK_DGRAM | K.SOCK_NONBLOCK);
  try {
    if (reusePort) native.setsockoptInt(fd, K.SOL_SOCKET, K.SO_REUSEPORT, 1, 'SO_REUSEPORT');
    if (receives) growReceiveBuffer(fd);
    native.bind(fd, sockaddr(at));
  } catch (e) {
    native.close(fd);
    throw e;
  }
  return fd;
}

export class NativeDatagramSocket {
  readonly fd: number;
  readonly rx: native.MmsgBatch;
  readonly tx: SendBatch;
  private readonly spares: Int32Array;
  private spareCount = 0;
  private readonly base: number;
  private watch: FdWatch | null = null;
  private dest: Uint8Array | null = null;

  constructor(
    private readonly io: PortIO,
    local: HostPort,
    what: string,
    /** Bytes before the frame's data the datagram starts at (a header in the headroom). */
    readonly lead: number,
    /** The largest datagram accepted (a longer one is flagged truncated). */
    readonly maxDatagram: number,
  ) {
    try {
      this.fd = bindDatagramSocket(local, { receives: true });
    } catch (e) {
      throw new Error(`${what}: cannot bind ${formatHostPort(local)}: ${(e as Error).message}`);
    }
    this.rx = new native.MmsgBatch(BATCH);
    this.tx = new SendBatch(BATCH, maxDatagram, true);
    this.spares = new Int32Array(BATCH);
    this.base = native.addressOf(io.area);
    this.iRxPackets = io.counterIndex('rx_packets');
    this.iNoBuffer = io.counterIndex('rx_no_buffer');
  }

  private readonly iRxPackets: number;
  private readonly iNoBuffer: number;

  /** The port the kernel bound (for a local port 0). */
  boundPort(): number {
    const a = new Uint8Array(28);
    native.getsockname(this.fd, a);
    return (a[2]! << 8) | a[3]!;
  }

  /**
   * Starts waking `onReady` whenever the socket turns readable after a drain found it empty.
   * Resolves once the watch thread runs (await it for a port that is receiving when open).
   */
  watchReadable(onReady: () => void): Promise<void> {
    this.watch = new FdWatch(this.io, this.fd, onReady);
    this.watch.arm();
    return this.watch.online;
  }

  /** Looks again once the socket is readable (call when a receive found nothing). */
  arm(): void {
    this.watch?.arm();
  }

  /**
   * Receives up to `max` datagrams into pool frames: how many (0 when none or no frame is
   * free). Datagram i is in frame spare(i), starting `lead` bytes before its data offset.
   */
  receive(max: number): number {
    const io = this.io;
    this.spareCount = takeSpares(io, this.spares, this.spareCount, Math.min(max, BATCH), this.iRxPackets, this.iNoBuffer);
    if (this.spareCount === 0) return 0;
    for (let i = 0; i < this.spareCount; i++) this.rx.setBuffer(i, this.base + io.dataOffset(this.spares[i]!) - this.lead, this.maxDatagram);
    const n = this.rx.recv(this.fd, this.spareCount);
    return n > 0 ? n : 0;
  }

  spare(i: number): number {
    return this.spares[i]!;
  }

  /** Marks the frames of the datagrams that were submitted (taken[i] ≠ 0) as used; keeps the rest for the next receive. */
  consume(n: number, taken: Uint8Array): void {
    let w = 0;
    for (let i = 0; i < this.spareCount; i++) {
      if (i < n && taken[i] !== 0) continue;
      this.spares[w++] = this.spares[i]!;
    }
    this.spareCount = w;
  }

  truncated(i: number): boolean {
    return (this.rx.flags(i) & K.MSG_TRUNC) !== 0;
  }

  setDestination(to: HostPort): void {
    this.dest = sockaddr(to);
  }

  get hasDestination(): boolean {
    return this.dest !== null;
  }

  /** Stages a datagram: `prefix` (may be null) then area[offset, offset + length). Sends the batch first when it is full. */
  stage(prefix: Uint8Array | null, area: Uint8Array, offset: number, length: number, onFailed: (from: number, errno: number) => void): void {
    if (this.tx.full) this.flush(onFailed);
    const i = this.tx.addWithPrefix(prefix, area, offset, length);
    this.tx.mmsg.names.set(this.dest!, i * native.NAME_SIZE);
  }

  /** Sends every staged datagram; calls onFailed(first not sent, errno) when the kernel refuses. */
  flush(onFailed: (from: number, errno: number) => void): void {
    const tx = this.tx;
    // A full send buffer (EAGAIN) drops the rest of the burst at once (SendBatch.sendAll).
    const sent = tx.sendAll(this.fd);
    if (sent < tx.count) onFailed(sent, tx.errno);
    tx.clear();
  }

  async close(): Promise<void> {
    await this.watch?.stop();
    this.watch = null;
    for (let i = 0; i < this.spareCount; i++) this.io.freeFrame?.(this.spares[i]!);
    this.spareCount = 0;
    native.close(this.fd);
  }
}
