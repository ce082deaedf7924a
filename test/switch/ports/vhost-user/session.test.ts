/**
 * The session state machine with a recording host: the order QEMU 7.2 speaks in (checked
 * against the QEMU guests of test/integration/peers/vhost-user.test.ts), ring start and
 * stop, REPLY_ACK, and that every fd of a refused message is closed.
 */
import { describe, expect, it } from 'vitest';
import * as P from '../../../../switch/ports/vhost-user/protocol.js';
import { Req } from '../../../../switch/ports/vhost-user/protocol.js';
import { Session, type SessionHost } from '../../../../switch/ports/vhost-user/session.js';
import type { MemoryTable } from '../../../../switch/ports/vhost-user/memory-table.js';

class Host implements SessionHost {
  closed: number[] = [];
  memory: MemoryTable | null = null;
  changes = 0;
  stopped: number[] = [];
  setMemory(t: MemoryTable | null): string | null {
    this.memory = t;
    return null;
  }
  ringsChanged(): void {
    this.changes++;
  }
  stopRing(i: number): number {
    this.stopped.push(i);
    return 40 + i;
  }
  closeFd(fd: number): void {
    this.closed.push(fd);
  }
  isEventfd(fd: number): boolean {
    return fd !== 666;
  }
}

const UVA = 0x7f0000000000n;
const msg = (request: number, payload = new Uint8Array(0), fds: number[] = [], needReply = false): P.Message => ({ request, flags: 1 | (needReply ? P.FLAG_NEED_REPLY : 0), payload, fds });
const state = (index: number, num: number) => P.vringStatePayload({ index, num });
const u64 = (v: bigint) => P.u64Payload(v);

function session(pairs = 1): [Session, Host] {
  const h = new Host();
  return [new Session({ maxPairs: pairs, maxQueueSize: 1024, features: [32, 15, 29], protocolFeatures: [P.PROTOCOL_F_REPLY_ACK, P.PROTOCOL_F_MQ] }, h), h];
}

/** SET_MEM_TABLE, then ring i's NUM, BASE, ADDR, KICK (fd 100 + i). */
function setUp(s: Session, rings: number[]): void {
  expect(s.handle(msg(Req.SET_MEM_TABLE, P.memTablePayload([{ guestPhys: 0n, size: 0x100000n, userAddr: UVA, mmapOffset: 0n }]), [10])).error).toBeNull();
  for (const i of rings) {
    for (const m of [
      msg(Req.SET_VRING_NUM, state(i, 256)),
      msg(Req.SET_VRING_BASE, state(i, 0)),
      msg(Req.SET_VRING_ADDR, P.vringAddrPayload({ index: i, flags: 0, desc: UVA + BigInt(0x10000 * (i + 1)), used: UVA + BigInt(0x10000 * (i + 1) + 0x2000), avail: UVA + BigInt(0x10000 * (i + 1) + 0x1000), log: 0n })),
      msg(Req.SET_VRING_KICK, u64(BigInt(i)), [100 + i]),
      msg(Req.SET_VRING_CALL, u64(BigInt(i)), [200 + i]),
    ]) expect(s.handle(m).error, P.requestName(m.request)).toBeNull();
  }
}

describe('vhost-user session', () => {
  it('answers GET_FEATURES with PROTOCOL_FEATURES added, and GET_QUEUE_NUM with the queue pairs', () => {
    const [s] = session(2);
    const f = s.handle(msg(Req.GET_FEATURES));
    expect(P.readHeader(f.reply!)).toEqual({ request: 1, flags: 5, size: 8 });
    expect(P.readU64(f.reply!.subarray(12))).toBe((1n << 32n) | (1n << 30n) | (1n << 29n) | (1n << 15n));
    expect(P.readU64(s.handle(msg(Req.GET_QUEUE_NUM)).reply!.subarray(12))).toBe(2n);
    expect(P.readU64(s.handle(msg(Req.GET_PROTOCOL_FEATURES)).reply!.subarray(12))).toBe(0b1001n);
  });

  it('with PROTOCOL_FEATURES, a ring starts at its kick but is served only once enabled', () => {
    const [s, h] = session();
    s.handle(msg(Req.SET_FEATURES, u64((1n << 32n) | (1n << 30n))));
    setUp(s, [0, 1]);
    expect(s.vrings[0].started).toBe(true);
    expect(s.serving(0)).toBe(false);
    expect(s.handle(msg(Req.SET_VRING_ENABLE, state(0, 1))).error).toBeNull();
    expect(s.serving(0)).toBe(true);
    expect(s.serving(1)).toBe(false);
    const r = s.handle(msg(Req.GET_VRING_BASE, state(0, 0)));
    expect(P.readVringState(r.reply!.subarray(12))).toEqual({ index: 0, num: 40 });
    expect(h.stopped).toEqual([0]);
    expect(s.serving(0)).toBe(false);
    expect(h.closed).toContain(100); // the stopped ring's kick fd
  });

  it('packed rings (RING_PACKED, bit 34): the 32-bit vring base QEMU sends is taken by its low half (avail index, wrap bit 15); GET_VRING_BASE answers it in both halves', () => {
    const h = new Host();
    const s = new Session({ maxPairs: 1, maxQueueSize: 1024, features: [32, 34], protocolFeatures: [] }, h);
    expect(s.handle(msg(Req.SET_FEATURES, u64((1n << 32n) | (1n << 34n)))).error).toBeNull();
    expect(s.packed).toBe(true);
    expect(s.handle(msg(Req.SET_MEM_TABLE, P.memTablePayload([{ guestPhys: 0n, size: 0x100000n, userAddr: UVA, mmapOffset: 0n }]), [10])).error).toBeNull();
    expect(s.handle(msg(Req.SET_VRING_NUM, state(0, 256))).error).toBeNull();
    // QEMU's first base for a packed ring: avail and used index 0, both wrap counters 1.
    expect(s.handle(msg(Req.SET_VRING_BASE, state(0, 0x80008000))).error).toBeNull();
    expect(s.vrings[0].base).toBe(0x8000);
    // The driver and device event areas are 4 bytes each: the last 4 bytes of the region will do
    // (a split ring's available ring there would not fit).
    const end = UVA + 0x100000n - 4n;
    expect(s.handle(msg(Req.SET_VRING_ADDR, P.vringAddrPayload({ index: 0, flags: 0, desc: UVA + 0x10000n, avail: end, used: end - 4n, log: 0n }))).error).toBeNull();
    expect(s.handle(msg(Req.SET_VRING_KICK, u64(0n), [100])).error).toBeNull();
    const r = s.handle(msg(Req.GET_VRING_BASE, state(0, 0)));
    expect(P.readVringState(r.reply!.subarray(12))).toEqual({ index: 0, num: (40 << 16) | 40 });
    // Split rings keep their 16-bit limit.
    const [t] = session();
    t.handle(msg(Req.SET_FEATURES, u64(1n << 32n)));
    expect(t.handle(msg(Req.SET_VRING_BASE, state(0, 0x80008000))).error).toMatch(/above 65535/);
  });

  it('without PROTOCOL_FEATURES, a ring is enabled when it starts', () => {
    const [s] = session();
    s.handle(msg(Req.SET_FEATURES, u64(1n << 32n)));
    setUp(s, [0]);
    expect(s.serving(0)).toBe(true);
  });

  it('REPLY_ACK: NEED_REPLY gets u64 0 on success, 1 on refusal, and the session is broken after a refusal', () => {
    const [s] = session();
    s.handle(msg(Req.SET_PROTOCOL_FEATURES, u64(1n << BigInt(P.PROTOCOL_F_REPLY_ACK))));
    const ok = s.handle(msg(Req.SET_OWNER, undefined, [], true));
    expect(P.readU64(ok.reply!.subarray(12))).toBe(0n);
    const bad = s.handle(msg(Req.SET_VRING_NUM, state(0, 3), [], true));
    expect(bad.error).toMatch(/SET_VRING_NUM \(8\): ring 0 size 3 is not a power of two in 1\.\.1024/);
    expect(P.readU64(bad.reply!.subarray(12))).toBe(1n);
    expect(s.handle(msg(Req.SET_OWNER)).error).toMatch(/after the session was refused/);
  });

  it('closes every fd of a refused message', () => {
    for (const [m, why] of [
      [msg(Req.GET_FEATURES, undefined, [5, 6]), /2 file descriptor\(s\) came with a request that takes none/],
      [msg(Req.SET_VRING_KICK, u64(0x100n), [5]), /the no-fd flag is set but 1 came/],
      [msg(Req.SET_VRING_CALL, u64(7n), [5]), /ring index 7 is out of range/],
      [msg(Req.SET_MEM_TABLE, P.memTablePayload([{ guestPhys: 0n, size: 0n, userAddr: UVA, mmapOffset: 0n }]), [5]), /zero size/],
      [msg(Req.SET_LOG_FD, undefined, [5]), /dirty-page logging/],
      [msg(Req.SET_VRING_CALL, u64(0n), [666]), /ring 0 call: the file descriptor is not an eventfd/],
    ] as const) {
      const [s, h] = session();
      expect(s.handle(m).error).toMatch(why);
      expect(h.closed, P.requestName(m.request)).toEqual(m.fds);
    }
  });

  it('refuses a kick for a ring that is not set up, and ring addresses outside every region', () => {
    const [s] = session();
    expect(s.handle(msg(Req.SET_VRING_KICK, u64(0n), [5])).error).toMatch(/ring 0 cannot start: its size was never set/);
    const [s2] = session();
    s2.handle(msg(Req.SET_MEM_TABLE, P.memTablePayload([{ guestPhys: 0n, size: 0x100000n, userAddr: UVA, mmapOffset: 0n }]), [10]));
    s2.handle(msg(Req.SET_VRING_NUM, state(0, 256)));
    const e = s2.handle(msg(Req.SET_VRING_ADDR, P.vringAddrPayload({ index: 0, flags: 0, desc: UVA + 0xff800n, used: UVA, avail: UVA, log: 0n }))).error;
    expect(e).toMatch(/its descriptor table at front-end address 0x7f00000ff800 \(size 256\) is in no memory region/);
  });

  it('a reset (disconnect) stops the rings, closes their fds and unmaps', () => {
    const [s, h] = session();
    s.handle(msg(Req.SET_FEATURES, u64(1n << 32n)));
    setUp(s, [0, 1]);
    s.reset();
    expect(h.stopped).toEqual([0, 1]);
    expect(h.closed.sort()).toEqual([100, 101, 200, 201]);
    expect(h.memory).toBeNull();
    expect(s.vrings.every((v) => !v.started && v.kickFd === -1)).toBe(true);
  });
});
