/**
 * A queue worker's own receiving UDP socket on a port's `local` address (run to completion):
 * bound with SO_REUSEPORT, one per queue, so the kernel spreads datagrams over the queues
 * by their 4-tuple hash and wakes the worker itself (QueuePort.wakeFds). recvmmsg lands the
 * datagrams straight in this queue's pool frames, `lead` bytes before each frame's data (a
 * header, VXLAN's, in the headroom). Used by the vxlan and udp queue sides.
 *
 *   n = s.receive(max)      frames taken ahead, one recvmmsg; datagram i is in s.frame(i)
 *   …the side submits the frames it keeps and calls s.take(i) for each…
 *   s.finish()              the frames of datagrams not taken, and unused ones, go home
 *
 * Frames are taken for as many datagrams as the last receive found and then some (a socket
 * that was empty costs one frame a look, not a batch), and none is kept past finish(): a
 * worker killed between breaths holds none.
 *
 * A worker replaced by the watchdog: the socket's number is kept in the port's shared state
 * (one slot per queue), so the replacement adopts the same socket — what the kernel queued
 * there is read by it, the group's hashing does not change and nothing leaks.
 */
import * as native from '../../../lib/native/index.js';
import { K } from '../../../lib/native/index.js';
import type { QueueIO } from '../port.js';
import { formatHostPort, type HostPort } from './address.js';
import { QueueSlot } from '../queue-slots.js';
import { bindDatagramSocket } from './native-datagram.js';
import { takeSpares } from './spares.js';

/** Datagrams per recvmmsg at most. */
export const QUEUE_BATCH = 64;

/**
 * In the main thread, before any queue binds `local`: throws when another socket holds it.
 * The queues bind with SO_REUSEPORT, and the kernel lets any socket of the same user with
 * that option join the group: a second switch (or a leftover one) on the same address would
 * start without a word and take a share of the datagrams. A bind without SO_REUSEPORT fails
 * when anything at all is bound there; it is closed at once.
 */
export function checkLocalFree(local: HostPort, port: string): void {
  try {
    native.close(bindDatagramSocket(local));
  } catch (e) {
    throw new Error(`port ${port}: local ${formatHostPort(local)} is already in use by another socket (another switch?): ${(e as Error).message}`);
  }
}

export class QueueSocket {
  readonly fd: number;
  private readonly slot: QueueSlot | null;
  private readonly rx = new native.MmsgBatch(QUEUE_BATCH);
  private readonly base: number;
  private readonly spares = new Int32Array(QUEUE_BATCH);
  private spareCount = 0;
  /** How many frames the next receive takes (see the file comment). */
  private next = 1;
  private got = 0;
  private readonly taken = new Uint8Array(QUEUE_BATCH);
  private readonly iRxPackets: number;
  private readonly iNoBuffer: number;

  constructor(
    private readonly io: QueueIO,
    local: HostPort,
    /** Bytes before the frame's data each datagram starts at. */
    private readonly lead: number,
  ) {
    this.slot = io.shared === null ? null : new QueueSlot(io.shared, io.queue);
    this.fd = this.adopt(local) ?? this.open(local);
    this.slot?.record(this.fd);
    this.base = native.addressOf(io.area);
    this.iRxPackets = io.counterIndex('rx_packets');
    this.iNoBuffer = io.counterIndex('rx_no_buffer');
  }

  /** The socket a worker this one replaces left bound on `local` for this queue, or null. */
  private adopt(local: HostPort): number | null {
    const fd = this.slot?.left()?.fd ?? -1;
    if (fd < 0) return null;
    try {
      const a = new Uint8Array(28);
      native.getsockname(fd, a);
      if (((a[2]! << 8) | a[3]!) === local.port) {
        this.io.log('info', `queue ${this.io.queue}: took over the receiving socket of the worker it replaces`);
        return fd;
      }
    } catch {
      // not a socket any more
    }
    return null;
  }

  private open(local: HostPort): number {
    try {
      return bindDatagramSocket(local, { receives: true, reusePort: true });
    } catch (e) {
      throw new Error(`queue ${this.io.queue}: cannot bind ${formatHostPort(local)} (SO_REUSEPORT, one socket per queue): ${(e as Error).message}`);
    }
  }

  /**
   * Receives up to `max` datagrams (at most QUEUE_BATCH), each into a frame of this queue's
   * pool, up to `lead` + maxFrameLength bytes of it; returns how many arrived.
   */
  receive(max: number): number {
    const io = this.io;
    if (this.next < max) max = this.next;
    this.spareCount = takeSpares(io, this.spares, this.spareCount, max, this.iRxPackets, this.iNoBuffer);
    const want = this.spareCount < max ? this.spareCount : max;
    if (want <= 0) return (this.got = 0);
    this.taken.fill(0, 0, want);
    const rx = this.rx;
    for (let i = 0; i < want; i++) rx.setBuffer(i, this.base + io.dataOffset(this.spares[i]) - this.lead, this.lead + io.maxFrameLength);
    const got = rx.recv(this.fd, want);
    const n = got > 0 ? got : 0;
    this.next = n === want ? QUEUE_BATCH : 2 * n + 1;
    return (this.got = n);
  }

  /** The frame datagram i of the last receive landed in. */
  frame(i: number): number {
    return this.spares[i];
  }

  /** Datagram i's length, `lead` included (its full length when truncated). */
  length(i: number): number {
    return this.rx.length(i);
  }

  /** The receive batch's source addresses: datagram i's at names[i × NAME_SIZE] (sockaddr). */
  get names(): Uint8Array {
    return this.rx.names;
  }

  /** Datagram i was longer than its frame could hold. */
  truncated(i: number): boolean {
    return (this.rx.flags(i) & K.MSG_TRUNC) !== 0;
  }

  /** Frame i is the side's now (submitted, or handed on). */
  take(i: number): void {
    this.taken[i] = 1;
  }

  /** Sends home every frame of the last receive that was not taken, and the unused ones. */
  finish(): void {
    const n = this.got;
    for (let i = this.spareCount - 1; i >= 0; i--) {
      if (i < n && this.taken[i] !== 0) continue;
      this.io.freeFrame!(this.spares[i]);
    }
    this.spareCount = 0;
    this.got = 0;
  }

  close(): void {
    this.finish();
    this.slot?.clear(); // a socket closed here is never adopted
    native.close(this.fd);
  }
}
