/**
 * Reads vhost-user messages off a non-blocking AF_UNIX stream socket: the 12-byte header
 * (and the SCM_RIGHTS fds that ride on it), then exactly `size` payload bytes. Reading
 * exactly what the current message needs keeps fds with the message they came with (the
 * kernel never merges a read across a message that carries fds).
 *
 * Refused before any payload is read: a header with a bad version or the REPLY flag, a
 * payload above MAX_PAYLOAD (oversize). A connection that closes in the middle of a message
 * is reported truncated, as is a message left unfinished for TRUNCATED_AFTER_MS.
 */
import { recvWithFds } from '../../../lib/native/index.js';
import * as P from './protocol.js';

export const TRUNCATED_AFTER_MS = 2000;

export interface ReadResult {
  messages: P.Message[];
  /** What is wrong with the stream (the connection must close), or null. */
  error: string | null;
  /** The peer closed the connection. */
  closed: boolean;
}

export class MessageReader {
  private readonly head = new Uint8Array(P.HEADER_BYTES);
  private haveHead = 0;
  private header: P.Header | null = null;
  private payload = new Uint8Array(0);
  private havePayload = 0;
  private fds: number[] = [];
  /** When the unfinished message began (ms), or −1 when none is. */
  private since = -1;

  /** Reads everything waiting on `fd`. Never throws; fds of a refused message are returned in `orphans`. */
  read(fd: number, now = Date.now()): ReadResult & { orphans: number[] } {
    const messages: P.Message[] = [];
    for (;;) {
      const want = this.header === null ? this.head.subarray(this.haveHead) : this.payload.subarray(this.havePayload);
      let got: { bytes: number; fds: number[] };
      if (want.length === 0) got = { bytes: 0, fds: [] };
      else {
        try {
          got = recvWithFds(fd, want);
        } catch (e) {
          return { messages, error: `reading the socket: ${(e as Error).message}`, closed: true, orphans: this.drop() };
        }
        if (got.bytes === -1) {
          // Nothing more now. A message left half-sent is a truncated one.
          if (this.since >= 0 && now - this.since > TRUNCATED_AFTER_MS) return { messages, error: this.truncated('stopped sending'), closed: false, orphans: this.drop() };
          return { messages, error: null, closed: false, orphans: [] };
        }
        if (got.bytes === 0) {
          const error = this.since >= 0 ? this.truncated('closed the connection') : null;
          return { messages, error, closed: true, orphans: this.drop() };
        }
        if (this.since < 0) this.since = now;
        this.fds.push(...got.fds);
      }
      if (this.header === null) {
        this.haveHead += got.bytes;
        if (this.haveHead < P.HEADER_BYTES) continue;
        const h = P.readHeader(this.head);
        const bad = P.checkHeader(h);
        if (bad !== null) return { messages, error: bad, closed: false, orphans: this.drop() };
        this.header = h;
        this.payload = new Uint8Array(h.size);
        this.havePayload = 0;
      } else this.havePayload += got.bytes;
      if (this.havePayload < this.payload.length) continue;
      messages.push({ request: this.header.request, flags: this.header.flags, payload: this.payload, fds: this.fds });
      this.header = null;
      this.haveHead = 0;
      this.fds = [];
      this.since = -1;
    }
  }

  /** A message left unfinished too long (the front-end stopped mid-message), or null. */
  stale(now = Date.now()): string | null {
    return this.since >= 0 && now - this.since > TRUNCATED_AFTER_MS ? this.truncated('stopped sending') : null;
  }

  private truncated(how: string): string {
    const h = this.header;
    if (h === null) return `the front-end ${how} after ${this.haveHead} of a header's ${P.HEADER_BYTES} bytes (truncated message)`;
    return `the front-end ${how} after ${this.havePayload} of ${P.requestName(h.request)}'s ${h.size} payload bytes (truncated message)`;
  }

  /** Forgets the unfinished message; returns its fds (the caller closes them). */
  abandon(): number[] {
    return this.drop();
  }

  private drop(): number[] {
    const fds = this.fds;
    this.fds = [];
    this.header = null;
    this.haveHead = 0;
    this.havePayload = 0;
    this.since = -1;
    return fds;
  }
}
