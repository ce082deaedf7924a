/**
 * recvmmsg/sendmmsg batches: many datagrams per syscall, each landing in (or leaving from)
 * memory the caller points at — a frame of the switch's SharedArrayBuffer pool, so that no
 * Buffer or copy is made per datagram. The headers, iovecs and addresses live in one shared
 * block allocated once; the data path only writes numbers into it.
 *
 *   batch.setBuffer(i, areaAddress + dataOffset(frame), maxLength)   for each slot
 *   n = batch.recv(fd, count)      → n datagrams; batch.length(i) bytes each
 */
import { c } from './libc.js';
import { addressOf, putAddress } from './memory.js';
import { MSG_DONTWAIT } from './constants.js';

const MMSGHDR = 64; // struct msghdr (56) + unsigned msg_len, padded
const IOVEC = 16;
/** Room for a sockaddr_in6 (28 bytes), padded. */
export const NAME_SIZE = 32;

export class MmsgBatch {
  /** Per slot, the peer's address (sockaddr_in / sockaddr_in6) of a received datagram, or the destination to send to. */
  readonly names: Uint8Array;
  readonly namesView: DataView;
  private readonly view: DataView;
  private readonly address: number;
  private readonly iovs: number;

  constructor(readonly capacity: number) {
    const iovs = capacity * MMSGHDR;
    const names = iovs + capacity * IOVEC;
    const bytes = new Uint8Array(new SharedArrayBuffer(names + capacity * NAME_SIZE));
    this.view = new DataView(bytes.buffer);
    this.address = addressOf(bytes);
    this.iovs = iovs;
    this.names = bytes.subarray(names);
    this.namesView = new DataView(bytes.buffer, names);
    for (let i = 0; i < capacity; i++) {
      const h = i * MMSGHDR;
      putAddress(this.view, h + 0, this.address + names + i * NAME_SIZE); // msg_name
      this.view.setUint32(h + 8, NAME_SIZE, true); // msg_namelen
      putAddress(this.view, h + 16, this.address + iovs + i * IOVEC); // msg_iov
      this.view.setUint32(h + 24, 1, true); // msg_iovlen
    }
  }

  /** Points slot i at `length` bytes of memory at `address` (addressOf(area) + offset). */
  setBuffer(i: number, address: number, length: number): void {
    putAddress(this.view, this.iovs + i * IOVEC, address);
    this.view.setUint32(this.iovs + i * IOVEC + 8, length, true);
  }

  /** Whether slot i carries a destination address when sent (false: the socket's connected peer). */
  setNamed(i: number, named: boolean, nameLength = NAME_SIZE): void {
    const h = i * MMSGHDR;
    if (named) putAddress(this.view, h, this.address + this.iovs + this.capacity * IOVEC + i * NAME_SIZE);
    else putAddress(this.view, h, 0);
    this.view.setUint32(h + 8, named ? nameLength : 0, true);
  }

  /** Bytes received in slot i by the last recv (the datagram's full length when truncated: see flags). */
  length(i: number): number {
    return this.view.getUint32(i * MMSGHDR + 56, true);
  }

  /** msg_flags of slot i after recv (MSG_TRUNC when the datagram did not fit). */
  flags(i: number): number {
    return this.view.getInt32(i * MMSGHDR + 48, true);
  }

  /** Receives up to `count` datagrams without blocking: how many, or −errno (−EAGAIN when none). */
  recv(fd: number, count: number, flags = MSG_DONTWAIT): number {
    // The kernel shortens msg_namelen to the address it wrote: restore room for any family.
    for (let i = 0; i < count; i++) {
      if (this.view.getUint32(i * MMSGHDR + 8, true) !== 0) this.view.setUint32(i * MMSGHDR + 8, NAME_SIZE, true);
    }
    const l = c();
    const n = l.recvmmsg_at(fd, this.address, count, flags, null) as number;
    return n >= 0 ? n : -l.errno();
  }

  /** Sends slots [0, count) without blocking: how many went, or −errno. */
  send(fd: number, count: number, flags = MSG_DONTWAIT): number {
    return this.sendFrom(fd, 0, count, flags);
  }

  /** Sends slots [first, first + count): how many went, or −errno. */
  sendFrom(fd: number, first: number, count: number, flags = MSG_DONTWAIT): number {
    const l = c();
    const n = l.sendmmsg_at(fd, this.address + first * MMSGHDR, count, flags) as number;
    return n >= 0 ? n : -l.errno();
  }
}
