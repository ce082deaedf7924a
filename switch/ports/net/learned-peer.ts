/**
 * A udp port's peer learned from the first datagram (a port without `remote`), shared by
 * every thread that sends for the port: the queue that receives that datagram writes its
 * source address here once, and every queue side and the device thread read it before their
 * first send. Shared memory in the port's shared state, after its queue slots.
 *
 *   word 0: 0 not known · 1 being written (one writer won the compareExchange) · 2 known
 *   bytes 8…8+NAME_SIZE: the sockaddr (sockaddr_in / sockaddr_in6), as recvmmsg wrote it
 *
 * First datagram wins, as on the device thread: the address is never changed afterwards.
 */
import { NAME_SIZE } from '../../../lib/native/index.js';
import { fromSockaddr } from './sockaddr.js';
import type { HostPort } from './address.js';

/** Bytes a LearnedPeer takes in a shared buffer (a multiple of 8). */
export const LEARNED_PEER_BYTES = 8 + NAME_SIZE;
const NONE = 0;
const WRITING = 1;
const KNOWN = 2;

export class LearnedPeer {
  private readonly state: Int32Array;
  private readonly name: Uint8Array;

  /** The peer at `byteOffset` of `shared` (LEARNED_PEER_BYTES, zero when made). */
  constructor(shared: SharedArrayBuffer, byteOffset: number) {
    this.state = new Int32Array(shared, byteOffset, 1);
    this.name = new Uint8Array(shared, byteOffset + 8, NAME_SIZE);
  }

  known(): boolean {
    // Pairs with the Atomics.store(KNOWN) in learn(): the address bytes were written before it.
    return Atomics.load(this.state, 0) === KNOWN;
  }

  /**
   * Takes the address at names[at, at + NAME_SIZE) as the peer unless one is known or being
   * written: true when this call learned it (the caller logs it).
   */
  learn(names: Uint8Array, at: number): boolean {
    // Pairs with a concurrent learner's compareExchange: one writer, whichever comes first.
    if (Atomics.compareExchange(this.state, 0, NONE, WRITING) !== NONE) return false;
    for (let i = 0; i < NAME_SIZE; i++) this.name[i] = names[at + i];
    // Pairs with the Atomics.load in known(): readers copy the bytes only after this store.
    Atomics.store(this.state, 0, KNOWN);
    return true;
  }

  /** Copies the known address into dst[at, at + NAME_SIZE) (call after known()). */
  copyTo(dst: Uint8Array, at: number): void {
    for (let i = 0; i < NAME_SIZE; i++) dst[at + i] = this.name[i];
  }

  /** The known address as host and port (allocates: for logs and status). */
  hostPort(): HostPort {
    return fromSockaddr(this.name, 0);
  }
}
