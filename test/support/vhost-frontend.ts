/**
 * A vhost-user front-end for tests, speaking the protocol as QEMU does (and, on purpose,
 * as QEMU never would): connect, send requests with fds, read replies. With setUp() it
 * shares a memfd "guest RAM" and lays split rings in it, so a test can act as the guest
 * driver (queues/virtqueue-driver.ts) on the switch's vhost-user port.
 */
import { K, PollSet, close, connectUnix, eventfdCreate, eventfdRead, eventfdWrite, memfdCreate, mmap, munmap, recvWithFds, sendWithFds, setNonBlocking, type Mapping } from '../../lib/native/index.js';
import { GuestMemory } from '../../queues/virtqueue-memory.js';
import { SplitDriverQueue } from '../../queues/virtqueue-driver.js';
import { contiguousLayout, featureWords, NET_HDR_BYTES, splitLayoutBytes, VIRTIO_F_VERSION_1 } from '../../queues/virtqueue.js';
import * as P from '../../switch/ports/vhost-user/protocol.js';

export interface Reply {
  request: number;
  flags: number;
  payload: Uint8Array;
}

export const RAM_BYTES = 2 << 20;
/** The front-end's "virtual address" of the RAM (any value: the switch only translates it). */
export const RAM_UVA = 0x7f0000000000n;

export class Frontend {
  private readonly wait = new PollSet(1);
  private buf = new Uint8Array(0);
  ram: Mapping | null = null;
  ramFd = -1;
  mem: GuestMemory | null = null;
  readonly kick: number[] = [];
  readonly call: number[] = [];
  readonly err: number[] = [];
  rx: SplitDriverQueue | null = null;
  tx: SplitDriverQueue | null = null;

  private constructor(readonly fd: number) {
    this.wait.set(0, fd, K.POLLIN);
  }

  /** Connects, retrying while the port is not listening yet. */
  static async connect(path: string, ms = 10_000): Promise<Frontend> {
    const end = Date.now() + ms;
    for (;;) {
      try {
        const fd = connectUnix(path);
        setNonBlocking(fd);
        return new Frontend(fd);
      } catch (e) {
        if (Date.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Sends raw bytes (a truncated or corrupt message). */
  raw(bytes: Uint8Array, fds: number[] = []): void {
    sendWithFds(this.fd, bytes, fds);
  }

  send(request: number, payload: Uint8Array = new Uint8Array(0), fds: number[] = [], needReply = false): void {
    this.raw(P.encodeRequest(request, payload, P.VERSION | (needReply ? P.FLAG_NEED_REPLY : 0)), fds);
  }

  /** The next reply, or 'closed' when the back-end closed the connection, or 'timeout'. */
  async reply(ms = 5000): Promise<Reply | 'closed' | 'timeout'> {
    const end = Date.now() + ms;
    for (;;) {
      if (this.buf.length >= P.HEADER_BYTES) {
        const h = P.readHeader(this.buf);
        if (this.buf.length >= P.HEADER_BYTES + h.size) {
          const payload = this.buf.slice(P.HEADER_BYTES, P.HEADER_BYTES + h.size);
          this.buf = this.buf.slice(P.HEADER_BYTES + h.size);
          return { request: h.request, flags: h.flags, payload };
        }
      }
      const chunk = new Uint8Array(4096);
      const r = recvWithFds(this.fd, chunk);
      for (const f of r.fds) close(f);
      if (r.bytes === 0) return 'closed';
      if (r.bytes > 0) {
        const joined = new Uint8Array(this.buf.length + r.bytes);
        joined.set(this.buf);
        joined.set(chunk.subarray(0, r.bytes), this.buf.length);
        this.buf = joined;
        continue;
      }
      const left = end - Date.now();
      if (left <= 0) return 'timeout';
      await this.wait.waitAsync(Math.min(left, 200));
    }
  }

  /** A request that answers u64 (GET_*). */
  async getU64(request: number): Promise<bigint> {
    this.send(request);
    const r = await this.reply();
    if (typeof r === 'string') throw new Error(`${P.requestName(request)}: ${r}`);
    return P.readU64(r.payload)!;
  }

  /** Sends with NEED_REPLY and returns the REPLY_ACK status (0 = success). */
  async acked(request: number, payload: Uint8Array = new Uint8Array(0), fds: number[] = []): Promise<bigint | 'closed' | 'timeout'> {
    this.send(request, payload, fds, true);
    const r = await this.reply();
    if (typeof r === 'string') return r;
    return P.readU64(r.payload)!;
  }

  /**
   * What QEMU does at start for one queue pair: features (VERSION_1 + PROTOCOL_FEATURES),
   * REPLY_ACK, owner, a 2 MiB memfd as guest RAM at guest-physical 0, rings 0 (RX) and 1
   * (TX) of `size` laid out in it, kick/call/err eventfds, enable. Throws on any refusal.
   */
  async setUp(size = 64): Promise<void> {
    const offered = await this.getU64(P.Req.GET_FEATURES);
    const [lo, hi] = featureWords([VIRTIO_F_VERSION_1, P.VHOST_USER_F_PROTOCOL_FEATURES]);
    const want = ((BigInt(hi) << 32n) | BigInt(lo)) & offered;
    this.send(P.Req.SET_FEATURES, P.u64Payload(want));
    await this.getU64(P.Req.GET_PROTOCOL_FEATURES);
    this.send(P.Req.SET_PROTOCOL_FEATURES, P.u64Payload(1n << BigInt(P.PROTOCOL_F_REPLY_ACK)));
    await this.ok(P.Req.SET_OWNER);
    this.ramFd = memfdCreate('xs-test-guest', RAM_BYTES);
    this.ram = mmap(this.ramFd, RAM_BYTES);
    this.mem = new GuestMemory(this.ram.buffer);
    await this.ok(P.Req.SET_MEM_TABLE, P.memTablePayload([{ guestPhys: 0n, size: BigInt(RAM_BYTES), userAddr: RAM_UVA, mmapOffset: 0n }]), [this.ramFd]);
    const queues: SplitDriverQueue[] = [];
    for (let i = 0; i < 2; i++) {
      const layout = contiguousLayout(0x10000 * (i + 1), size);
      if (splitLayoutBytes(size) > 0x10000) throw new Error('ring too big for the test layout');
      queues.push(new SplitDriverQueue(this.mem, layout, false));
      await this.ok(P.Req.SET_VRING_NUM, P.vringStatePayload({ index: i, num: size }));
      await this.ok(P.Req.SET_VRING_BASE, P.vringStatePayload({ index: i, num: 0 }));
      await this.ok(P.Req.SET_VRING_ADDR, P.vringAddrPayload({ index: i, flags: 0, desc: RAM_UVA + BigInt(layout.desc), used: RAM_UVA + BigInt(layout.used), avail: RAM_UVA + BigInt(layout.avail), log: 0n }));
      await this.startRing(i);
      await this.ok(P.Req.SET_VRING_ENABLE, P.vringStatePayload({ index: i, num: 1 }));
    }
    [this.rx, this.tx] = queues;
  }

  /** Kick, call and err eventfds for ring i (the kick starts it). */
  async startRing(i: number): Promise<void> {
    for (const [req, list] of [[P.Req.SET_VRING_CALL, this.call], [P.Req.SET_VRING_ERR, this.err], [P.Req.SET_VRING_KICK, this.kick]] as const) {
      if (list[i] === undefined) list[i] = eventfdCreate();
      await this.ok(req, P.u64Payload(BigInt(i)), [list[i]]);
    }
  }

  async ok(request: number, payload?: Uint8Array, fds?: number[]): Promise<void> {
    const r = await this.acked(request, payload, fds);
    if (r !== 0n) throw new Error(`${P.requestName(request)} was refused (${r})`);
  }

  /** The guest sends one frame on TX: header and frame in one buffer at `at`. */
  sendFrame(frame: Uint8Array, at = 0x100000): void {
    this.mem!.bytes.fill(0, at, at + NET_HDR_BYTES);
    this.mem!.bytes.set(frame, at + NET_HDR_BYTES);
    this.tx!.addOne(at, NET_HDR_BYTES + frame.length, false);
    this.tx!.publish();
    eventfdWrite(this.kick[1], 1);
  }

  /** Whether the back-end signalled ring i's error eventfd (reads and clears it). */
  errSignalled(i: number): boolean {
    return eventfdRead(this.err[i]) !== 0n;
  }

  closed = false;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
    for (const f of [...this.kick, ...this.call, ...this.err]) if (f !== undefined) close(f);
    this.kick.length = 0;
    this.call.length = 0;
    this.err.length = 0;
    if (this.ram !== null) munmap(this.ram);
    if (this.ramFd >= 0) close(this.ramFd);
    this.ram = null;
    this.ramFd = -1;
  }
}
