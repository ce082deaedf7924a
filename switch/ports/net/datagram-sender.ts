/**
 * Sends frames as UDP datagrams without letting the switch's frame area escape.
 *
 * Node's dgram.send tries a synchronous send first (libuv uv_udp_try_send); when the
 * socket's kernel buffer is full it queues the request and keeps a pointer to the bytes
 * until the kernel takes them. A frame in the shared frame area is recycled as soon as
 * transmit() returns, so every frame is first copied into a staging slot owned by this
 * sender, and the datagram is sent from there.
 *
 *   staging: slot 0 │ slot 1 │ … │ slot S−1      (one ArrayBuffer, used round-robin)
 *
 * libuv sends a socket's queued requests in order and never sends synchronously while its
 * queue is non-empty, so the requests still pending are always the most recent ones: the
 * slot about to be reused (used S sends ago) is free exactly when fewer than S sends are
 * queued. When S are queued the frame is dropped and counted (tx busy) — back-pressure,
 * never an unbounded queue.
 *
 * Allocation: none of ours for frames up to LOOP_COPY_MAX bytes (copy.ts); dgram.send
 * itself allocates a view of the slot, a request object and (with a callback, which it
 * needs to report errors) a tick.
 */
import { copyBytes } from '../../../queues/copy.js';
import type { Socket } from 'node:dgram';

export const SEND_OK = 0;
export const SEND_BUSY = 1;

export class DatagramSender {
  private readonly staging: Buffer;
  private next = 0;
  /** Send errors the kernel reported after the fact (counted by the owner via onError). */
  errors = 0;
  private readonly onSent: (err: Error | null) => void;

  constructor(
    private readonly socket: Socket,
    readonly slotSize: number,
    readonly slotCount = 256,
    onError: (err: Error) => void = () => {},
  ) {
    this.staging = Buffer.alloc(slotSize * slotCount);
    // One callback for every send, made once.
    this.onSent = (err) => {
      if (err) {
        this.errors++;
        onError(err);
      }
    };
  }

  /**
   * Stages `prefix` (may be null) then src[off, off + len) and sends them as one datagram to
   * host:port (an IP address: names are resolved once, at open). The caller guarantees
   * prefixLength + len ≤ slotSize.
   */
  send(prefix: Uint8Array | null, src: Uint8Array, off: number, len: number, port: number, host: string): number {
    if (this.socket.getSendQueueCount() >= this.slotCount) return SEND_BUSY;
    const base = this.next * this.slotSize;
    this.next = this.next + 1 === this.slotCount ? 0 : this.next + 1;
    let at = base;
    if (prefix !== null) {
      for (let i = 0; i < prefix.length; i++) this.staging[at + i] = prefix[i];
      at += prefix.length;
    }
    copyBytes(src, off, this.staging, at, len);
    this.socket.send(this.staging, base, at - base + len, port, host, this.onSent);
    return SEND_OK;
  }
}
