/**
 * One vhost-user connection's state machine, the back-end's side: what QEMU's front-end
 * asks (features, memory table, vring setup, start and stop) and what we answer. It does
 * no I/O: the port reads messages and writes replies; mapping memory, serving rings and
 * closing fds go through the SessionHost.
 *
 * Life of a ring i (virtio-net: pair p has RX 2p, TX 2p + 1):
 *   SET_VRING_NUM / ADDR / BASE set it up; SET_VRING_CALL / ERR give the eventfds; a ring
 *   starts when SET_VRING_KICK arrives (vhost-user.rst: "the back-end starts a ring when
 *   it receives the kick fd"), and is served while started and enabled. With
 *   PROTOCOL_FEATURES negotiated rings start disabled until SET_VRING_ENABLE 1; without it,
 *   enabled. GET_VRING_BASE stops the ring and answers the next available index.
 *
 * Refused — the session is broken, the port answers a failure where a reply is due and
 * closes the connection, as DPDK's vhost library does (QEMU reconnects with reconnect=N):
 * an unknown or unsupported request, a payload of the wrong size, file descriptors where
 * none belong or missing where one does, a ring index out of range, a ring size that is
 * not a power of two up to queueSize, features not offered, a bad memory table
 * (memory-table.ts), ring addresses in no region.
 */
import { featureWords, isValidQueueSize, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1 } from '../../../queues/virtqueue.js';
import { PACKED_EVENT_BYTES } from '../../../queues/virtqueue-packed.js';
import { parseMemoryTable, uvaToGpa, type MemoryTable } from './memory-table.js';
import * as P from './protocol.js';
import { Req } from './protocol.js';

export interface VringSetup {
  /** Ring size; 0 until SET_VRING_NUM. */
  num: number;
  /** Front-end virtual addresses of the three areas; null until SET_VRING_ADDR. */
  addr: { desc: bigint; avail: bigint; used: bigint } | null;
  /**
   * Next available index to consume when the ring starts (SET_VRING_BASE): split, 16 bits;
   * packed, the descriptor index in bits 0–14 and the avail wrap counter in bit 15.
   */
  base: number;
  kickFd: number;
  callFd: number;
  errFd: number;
  started: boolean;
  enabled: boolean;
}

/** What the session needs done outside itself. */
export interface SessionHost {
  /** Maps `table` (its fds are the host's now) or unmaps (null); returns what failed, or null. */
  setMemory(table: MemoryTable | null): string | null;
  /** Which rings are served changed (start, stop, enable, memory): serve session.vrings as they are now. */
  ringsChanged(): void;
  /** Stops serving ring i now (GET_VRING_BASE) and returns its next available index. */
  stopRing(i: number): number;
  closeFd(fd: number): void;
  /** Whether fd is an eventfd (kick, call and err must be: anything else could spin a poll). */
  isEventfd(fd: number): boolean;
}

export interface SessionOptions {
  maxPairs: number;
  maxQueueSize: number;
  /** Virtio feature bits offered (GET_FEATURES adds PROTOCOL_FEATURES). */
  features: readonly number[];
  /** Protocol feature bits offered. */
  protocolFeatures: readonly number[];
}

export interface Outcome {
  /** Bytes to send back (header included), or null. */
  reply: Uint8Array | null;
  /** Why the request was refused (the session is broken now), or null. */
  error: string | null;
}

function bits(list: readonly number[]): bigint {
  const [lo, hi] = featureWords(list);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * Ring i's areas as guest-physical addresses. Split: descriptor table, available ring, used
 * ring; packed (RING_PACKED): descriptor ring, driver and device event suppression areas.
 */
export function ringGpa(t: MemoryTable, v: VringSetup, packed: boolean): { desc: number; avail: number; used: number } | string {
  if (v.addr === null) return 'its addresses were never set (SET_VRING_ADDR)';
  const n = v.num;
  const desc = uvaToGpa(t, v.addr.desc, 16 * n);
  const avail = uvaToGpa(t, v.addr.avail, packed ? PACKED_EVENT_BYTES : 6 + 2 * n);
  const used = uvaToGpa(t, v.addr.used, packed ? PACKED_EVENT_BYTES : 6 + 8 * n);
  const names = packed ? ['descriptor ring', 'driver event area', 'device event area'] : ['descriptor table', 'available ring', 'used ring'];
  const bad = desc < 0 ? [names[0], v.addr.desc] : avail < 0 ? [names[1], v.addr.avail] : used < 0 ? [names[2], v.addr.used] : null;
  if (bad !== null) return `its ${bad[0]} at front-end address 0x${(bad[1] as bigint).toString(16)} (size ${n}) is in no memory region`;
  return { desc, avail, used };
}

export class Session {
  readonly offered: bigint;
  readonly offeredProtocol: bigint;
  features = 0n;
  protocolFeatures = 0n;
  owner = false;
  memory: MemoryTable | null = null;
  readonly vrings: VringSetup[];
  /** Why the session was refused, or null while it is healthy. */
  broken: string | null = null;
  /** Requests handled (refused ones included). */
  messages = 0;

  constructor(
    readonly opts: SessionOptions,
    private readonly host: SessionHost,
  ) {
    this.offered = bits([...opts.features, P.VHOST_USER_F_PROTOCOL_FEATURES]);
    this.offeredProtocol = bits(opts.protocolFeatures);
    this.vrings = Array.from({ length: 2 * opts.maxPairs }, () => Session.freshRing());
  }

  private static freshRing(): VringSetup {
    return { num: 0, addr: null, base: 0, kickFd: -1, callFd: -1, errFd: -1, started: false, enabled: false };
  }

  /** Negotiated virtio feature bit? */
  has(bit: number): boolean {
    return ((this.features >> BigInt(bit)) & 1n) === 1n;
  }

  /** Packed rings negotiated (RING_PACKED): every ring of the device is packed. */
  get packed(): boolean {
    return this.has(VIRTIO_F_RING_PACKED);
  }

  hasProtocol(bit: number): boolean {
    return ((this.protocolFeatures >> BigInt(bit)) & 1n) === 1n;
  }

  /** Serving ring i? */
  serving(i: number): boolean {
    const v = this.vrings[i];
    return v.started && v.enabled && this.memory !== null && this.broken === null;
  }

  /**
   * Handles one message. The message's fds are the session's: kept (memory, eventfds) or
   * closed here. Never throws for anything the front-end sent.
   */
  handle(m: P.Message): Outcome {
    this.messages++;
    if (this.broken !== null) {
      this.closeAll(m.fds);
      return { reply: this.ack(m, false), error: `${P.requestName(m.request)} after the session was refused: ${this.broken}` };
    }
    let r: Outcome;
    try {
      r = this.dispatch(m);
    } catch (e) {
      // A host failure (mmap refused the table's fds, say): the request is refused.
      r = { reply: null, error: (e as Error).message };
    }
    if (r.error !== null) {
      this.broken = `${P.requestName(m.request)}: ${r.error}`;
      return { reply: r.reply ?? this.ack(m, false), error: this.broken };
    }
    return { reply: r.reply ?? this.ack(m, true), error: null };
  }

  /** Everything back to a fresh connection's state (RESET_OWNER, a disconnect). */
  reset(): void {
    for (let i = 0; i < this.vrings.length; i++) {
      const v = this.vrings[i];
      if (v.started) this.host.stopRing(i);
      this.closeAll([v.kickFd, v.callFd, v.errFd]);
      this.vrings[i] = Session.freshRing();
    }
    this.host.ringsChanged();
    if (this.memory !== null) this.host.setMemory(null);
    this.memory = null;
    this.features = 0n;
    this.protocolFeatures = 0n;
    this.owner = false;
  }

  // ── requests ────────────────────────────────────────────────────────────────

  private dispatch(m: P.Message): Outcome {
    const fdsAllowed = m.request === Req.SET_MEM_TABLE || m.request === Req.SET_VRING_KICK || m.request === Req.SET_VRING_CALL || m.request === Req.SET_VRING_ERR || m.request === Req.SET_LOG_FD || m.request === Req.SET_LOG_BASE;
    if (!fdsAllowed && m.fds.length > 0) {
      this.closeAll(m.fds);
      return fail(`${m.fds.length} file descriptor(s) came with a request that takes none`);
    }
    switch (m.request) {
      case Req.GET_FEATURES:
        return this.empty(m) ?? replyU64(m, this.offered);
      case Req.SET_FEATURES: {
        const v = P.readU64(m.payload);
        if (v === null) return badSize(m, 8);
        const extra = v & ~this.offered;
        if (extra !== 0n) return fail(`features 0x${v.toString(16)} include bits 0x${extra.toString(16)} that were not offered (0x${this.offered.toString(16)})`);
        if (((v >> BigInt(VIRTIO_F_VERSION_1)) & 1n) === 0n) return fail(`features 0x${v.toString(16)} lack VERSION_1 (this back-end serves virtio 1.x drivers only)`);
        this.features = v;
        return ok();
      }
      case Req.GET_PROTOCOL_FEATURES:
        return this.empty(m) ?? replyU64(m, this.offeredProtocol);
      case Req.SET_PROTOCOL_FEATURES: {
        const v = P.readU64(m.payload);
        if (v === null) return badSize(m, 8);
        const extra = v & ~this.offeredProtocol;
        if (extra !== 0n) return fail(`protocol features 0x${v.toString(16)} include bits 0x${extra.toString(16)} that were not offered (0x${this.offeredProtocol.toString(16)})`);
        this.protocolFeatures = v;
        return ok();
      }
      case Req.GET_QUEUE_NUM:
        return this.empty(m) ?? replyU64(m, BigInt(this.opts.maxPairs));
      case Req.SET_OWNER:
        // QEMU sends it once per connection; a repeat changes nothing (libvhost-user and DPDK agree).
        this.owner = true;
        return this.empty(m) ?? ok();
      case Req.RESET_OWNER: {
        const e = this.empty(m);
        if (e !== null) return e;
        const pf = this.protocolFeatures;
        this.reset();
        // The connection stays: only the device state goes (protocol features stay negotiated).
        this.protocolFeatures = pf;
        return ok();
      }
      case Req.SET_MEM_TABLE:
        return this.setMemTable(m);
      case Req.SET_VRING_NUM: {
        const s = P.readVringState(m.payload);
        if (s === null) return badSize(m, 8);
        const e = this.ringIndex(s.index);
        if (e !== null) return fail(e);
        if (!isValidQueueSize(s.num) || s.num > this.opts.maxQueueSize) return fail(`ring ${s.index} size ${s.num} is not a power of two in 1..${this.opts.maxQueueSize}`);
        if (this.vrings[s.index].started) return fail(`ring ${s.index} is running (stop it with GET_VRING_BASE first)`);
        this.vrings[s.index].num = s.num;
        return ok();
      }
      case Req.SET_VRING_ADDR: {
        const a = P.readVringAddr(m.payload);
        if (a === null) return badSize(m, P.VRING_ADDR_BYTES);
        const e = this.ringIndex(a.index);
        if (e !== null) return fail(e);
        const v = this.vrings[a.index];
        if (v.started) return fail(`ring ${a.index} is running (stop it with GET_VRING_BASE first)`);
        if (this.memory === null) return fail(`ring ${a.index} addresses came before any memory table`);
        v.addr = { desc: a.desc, avail: a.avail, used: a.used };
        const at = ringGpa(this.memory, { ...v, num: Math.max(v.num, 1) }, this.packed);
        if (typeof at === 'string') return fail(`ring ${a.index}: ${at}`);
        return ok();
      }
      case Req.SET_VRING_BASE: {
        const s = P.readVringState(m.payload);
        if (s === null) return badSize(m, 8);
        const e = this.ringIndex(s.index);
        if (e !== null) return fail(e);
        // Packed: QEMU sends the used index and wrap counter in bits 16–31 too (what the last
        // GET_VRING_BASE answered). This device uses chains in the order it pops them and
        // stops only after using them, so used continues where avail does: bits 16–31 are
        // not needed (as DPDK's vhost library reads them).
        const base = this.packed ? s.num & 0xffff : s.num;
        if (base > 0xffff) return fail(`ring ${s.index} base ${s.num} is above 65535 (split rings index with 16 bits)`);
        if (this.vrings[s.index].started) return fail(`ring ${s.index} is running (stop it with GET_VRING_BASE first)`);
        this.vrings[s.index].base = base;
        return ok();
      }
      case Req.GET_VRING_BASE: {
        const s = P.readVringState(m.payload);
        if (s === null) return badSize(m, 8);
        const e = this.ringIndex(s.index);
        if (e !== null) return fail(e);
        const v = this.vrings[s.index];
        if (v.started) {
          v.base = this.host.stopRing(s.index);
          v.started = false;
          this.host.ringsChanged();
        }
        // The ring is stopped: its kick fd is no longer ours to watch (QEMU sends a new one to restart).
        this.closeAll([v.kickFd]);
        v.kickFd = -1;
        // Packed: avail position in bits 0–15, used position in bits 16–31 (QEMU restores its
        // used index from them); they are equal, every chain popped was used before the stop.
        const num = this.packed ? (v.base | (v.base << 16)) >>> 0 : v.base;
        return { reply: P.encodeReply(m.request, P.vringStatePayload({ index: s.index, num })), error: null };
      }
      case Req.SET_VRING_KICK:
      case Req.SET_VRING_CALL:
      case Req.SET_VRING_ERR:
        return this.setVringFd(m);
      case Req.SET_VRING_ENABLE: {
        const s = P.readVringState(m.payload);
        if (s === null) return badSize(m, 8);
        const e = this.ringIndex(s.index);
        if (e !== null) return fail(e);
        if (s.num > 1) return fail(`ring ${s.index} enable value ${s.num} is neither 0 nor 1`);
        this.vrings[s.index].enabled = s.num === 1;
        this.host.ringsChanged();
        return ok();
      }
      case Req.SET_LOG_BASE:
      case Req.SET_LOG_FD:
        this.closeAll(m.fds);
        return fail('dirty-page logging (migration) is not offered (no LOG_SHMFD protocol feature)');
      case Req.SEND_RARP:
        return fail('RARP announcements are not offered (no RARP protocol feature)');
      case Req.NET_SET_MTU:
        return fail('MTU setting is not offered (no MTU protocol feature)');
      case Req.GET_CONFIG:
      case Req.SET_CONFIG:
        return fail('device configuration space is not offered (no CONFIG protocol feature)');
      default:
        return fail(`${P.requestName(m.request)} is not a request this back-end knows`);
    }
  }

  private setMemTable(m: P.Message): Outcome {
    const regions = P.readMemTable(m.payload);
    if (typeof regions === 'string') {
      this.closeAll(m.fds);
      return fail(`memory table: ${regions}`);
    }
    const t = parseMemoryTable(regions, m.fds);
    if (typeof t === 'string') {
      this.closeAll(m.fds);
      return fail(`memory table: ${t}`);
    }
    // Rings keep running over the new table (QEMU resends it when memory is added); the
    // host rebuilds them. Their addresses must still translate.
    for (let i = 0; i < this.vrings.length; i++) {
      const v = this.vrings[i];
      if (!v.started) continue;
      const at = ringGpa(t, v, this.packed);
      if (typeof at === 'string') {
        this.closeAll(m.fds);
        return fail(`memory table: running ring ${i}: ${at}`);
      }
    }
    const err = this.host.setMemory(t);
    if (err !== null) {
      this.closeAll(m.fds);
      return fail(`memory table: ${err}`);
    }
    this.memory = t;
    this.host.ringsChanged();
    return ok();
  }

  private setVringFd(m: P.Message): Outcome {
    const v64 = P.readU64(m.payload);
    if (v64 === null) {
      this.closeAll(m.fds);
      return badSize(m, 8);
    }
    const index = Number(v64 & BigInt(P.VRING_IDX_MASK));
    const noFd = (v64 & BigInt(P.VRING_NOFD_MASK)) !== 0n;
    const what = m.request === Req.SET_VRING_KICK ? 'kick' : m.request === Req.SET_VRING_CALL ? 'call' : 'error';
    const e = this.ringIndex(index);
    if (e !== null || (v64 >> 9n) !== 0n) {
      this.closeAll(m.fds);
      return fail(e ?? `${what} payload 0x${v64.toString(16)} has bits above 8 set`);
    }
    if (m.fds.length !== (noFd ? 0 : 1) || (!noFd && m.fds[0] < 0)) {
      this.closeAll(m.fds);
      return fail(`ring ${index} ${what}: ${noFd ? 'the no-fd flag is set but' : 'expected one file descriptor,'} ${m.fds.length} came`);
    }
    if (!noFd && !this.host.isEventfd(m.fds[0])) {
      this.closeAll(m.fds);
      return fail(`ring ${index} ${what}: the file descriptor is not an eventfd`);
    }
    const v = this.vrings[index];
    const fd = noFd ? -1 : m.fds[0];
    if (m.request === Req.SET_VRING_KICK) {
      this.closeAll([v.kickFd]);
      v.kickFd = fd;
      // The kick fd starts the ring; it must be complete by now.
      const why = v.num === 0 ? 'its size was never set (SET_VRING_NUM)' : this.memory === null ? 'no memory table was sent' : null;
      const at = why ?? ringGpa(this.memory!, v, this.packed);
      if (typeof at === 'string') return fail(`ring ${index} cannot start: ${at}`);
      v.started = true;
      if (!this.has(P.VHOST_USER_F_PROTOCOL_FEATURES)) v.enabled = true;
      this.host.ringsChanged();
    } else if (m.request === Req.SET_VRING_CALL) {
      // The old fd is closed only after ringsChanged(): a queue worker that writes the ring's
      // interrupts has let go of it by then (a closed fd's number may be reused at once).
      const old = v.callFd;
      v.callFd = fd;
      this.host.ringsChanged();
      this.closeAll([old]);
    } else {
      this.closeAll([v.errFd]);
      v.errFd = fd;
    }
    return ok();
  }

  // ── helpers ─────────────────────────────────────────────────────────────────

  private ringIndex(i: number): string | null {
    return i < this.vrings.length ? null : `ring index ${i} is out of range (this device has ${this.vrings.length} rings: ${this.opts.maxPairs} queue pairs)`;
  }

  /** An error when a request that carries nothing has a payload. */
  private empty(m: P.Message): Outcome | null {
    return m.payload.length === 0 ? null : fail(`payload of ${m.payload.length} bytes where none belongs`);
  }

  /** The REPLY_ACK answer (u64: 0 success, 1 failure) when the front-end asked for one. */
  private ack(m: P.Message, success: boolean): Uint8Array | null {
    if (!P.needsReply(m) || !this.hasProtocol(P.PROTOCOL_F_REPLY_ACK)) return null;
    return P.encodeReply(m.request, P.u64Payload(success ? 0n : 1n));
  }

  private closeAll(fds: readonly number[]): void {
    for (const fd of fds) if (fd >= 0) this.host.closeFd(fd);
  }
}

function ok(): Outcome {
  return { reply: null, error: null };
}
function fail(error: string): Outcome {
  return { reply: null, error };
}
function badSize(m: P.Message, want: number): Outcome {
  return fail(`payload of ${m.payload.length} bytes, expected ${want}`);
}
function replyU64(m: P.Message, v: bigint): Outcome {
  return { reply: P.encodeReply(m.request, P.u64Payload(v)), error: null };
}

