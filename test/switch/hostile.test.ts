/**
 * Bad input at the data path's edges: what a port hands the device (DeviceIO.receive/submit)
 * and what a program leaves in its context (verdict, bounds, redirect target, the fields the
 * switch filled in). Whatever comes in: nothing throws, every packet lands in exactly one
 * counter, every descriptor written points inside its frame, every frame goes home.
 *
 * Most cases run on this thread: two DeviceIOs (ports a, b) and two QueueEngines (queues 0,
 * 1) over one layout, driven by hand, so each descriptor can be looked at before a device
 * drains it. The last block runs the same misbehaviours through a real Switch.
 */
import { describe, expect, it } from 'vitest';
import { createLayout, type SharedLayout } from '../../switch/layout.js';
import { DeviceIO } from '../../switch/device-io.js';
import { QueueEngine, BOUNDS_ERROR, INVALID_VERDICT, type PacketTap } from '../../switch/queue-engine.js';
import { Ring } from '../../queues/ring.js';
import { createPool, FramePool } from '../../queues/pool.js';
import { D_FRAME, D_HASH, D_META, D_OFFLEN } from '../../queues/frames.js';
import { XdpContext, REDIRECT_BROADCAST, REDIRECT_CPU, REDIRECT_NONE, REDIRECT_PORT, REDIRECT_XSK } from '../../programs/context.js';
import { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX } from '../../programs/verdicts.js';
import type { XdpProgram } from '../../programs/program.js';
import type { Port } from '../../switch/ports/port.js';
import gen, { buildFrame } from '../../switch/ports/gen.js';
import { CONFIG_DEFAULTS } from '../../switch/config-types.js';
import { QUEUE_EXIT_COUNTERS } from '../../switch/counters.js';
import { Switch } from '../../switch/switch.js';
import { config, expectAccounted, fixture } from './support.js';
import { youngSpread } from '../support/heap.js';

const FS = 2048;
/** A value as a test name shows it: strings quoted, so '1' and 1 differ. */
const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : typeof v === 'bigint' ? `${v}n` : String(v));
const HASH = 0x1234;
const udp = (size = 64) =>
  buildFrame(
    { flows: 1, sizes: [size], count: 0, rate: 0, proto: 'udp', ipv6: false, src: [10, 0, 0, 1], dst: [10, 1, 0, 1], srcMac: [2, 0, 0, 0, 0, 1], dstMac: [2, 0, 0, 0, 0, 2], dstPort: 9 },
    0,
    size,
  );

/** Every frame of the layout: on a free stack / recycle ring, or in a packet ring; none twice. */
function accounting(L: SharedLayout) {
  const total = L.pools.length * L.poolFrames;
  const seen = new Uint8Array(total);
  let doubled = 0;
  const mark = (f: number) => {
    if (!(f >= 0 && f < total) || seen[f]++ !== 0) doubled++;
  };
  let free = 0;
  let queued = 0;
  for (const pool of L.pools) {
    const stack = new Int32Array(pool.stack);
    for (let i = 1; i <= stack[0]; i++) mark(stack[i]);
    free += stack[0];
    for (const sab of pool.rings) {
      const r = new Ring(sab);
      r.forEachQueued((o) => mark(r.words[o]));
      free += r.count();
    }
  }
  const rings = [...L.rx.flat(), ...L.tx.flat(), ...L.cpu.flat()].filter((s): s is SharedArrayBuffer => s !== null);
  for (const sab of rings) {
    const r = new Ring(sab);
    r.forEachQueued((o) => mark(r.words[o + D_FRAME]));
    queued += r.count();
  }
  return { total, free, queued, doubled };
}

interface Sent {
  port: number;
  frame: number;
  off: number;
  len: number;
}

/** Two ports, two queues, one thread: everything steered to queue 0, whose program is under test. */
function rig(program: XdpProgram) {
  const cfg = { ...CONFIG_DEFAULTS, queues: 2, poolFrames: 64, ringSize: 64, ports: [{ name: 'a', type: 'null' }, { name: 'b', type: 'null' }], programs: [] };
  const layout = createLayout(cfg, []);
  const logs: string[] = [];
  const steerer = { hash: HASH, steer: () => 0, refresh() {} };
  const dev = [0, 1].map((p) => new DeviceIO(layout, p, p === 0 ? 'a' : 'b', steerer, (_l, m) => logs.push(m)));
  const engine = new QueueEngine(layout, 0, program);
  const engine1 = new QueueEngine(layout, 1, () => XDP_DROP); // receives cpu redirects from queue 0
  const sent: Sent[] = [];
  const sink = (p: number): Port =>
    ({
      transmit(area: Uint8Array, off: number, len: number) {
        sent.push({ port: p, frame: Math.floor(off / FS), off, len });
        expect(area.length).toBe(layout.pools.length * layout.poolFrames * FS);
        return true;
      },
    }) as unknown as Port;
  const ports = [sink(0), sink(1)];
  /** Every descriptor queued anywhere points inside its own frame and carries at least a header. */
  const descriptors: { ring: string; frame: number; off: number; len: number; hash: number; meta: number }[] = [];
  const checkRings = () => {
    const named: [string, SharedArrayBuffer | null][] = [];
    layout.tx.forEach((row, q) => row.forEach((s, p) => named.push([`tx[${q}][${p}]`, s])));
    layout.cpu.forEach((row, q) => row.forEach((s, r) => named.push([`cpu[${q}][${r}]`, s])));
    for (const [name, sab] of named) {
      if (sab === null) continue;
      const r = new Ring(sab);
      r.forEachQueued((o) => {
        const w = r.words;
        const offLen = w[o + D_OFFLEN];
        const d = { ring: name, frame: w[o + D_FRAME], off: offLen & 0xffff, len: offLen >>> 16, hash: w[o + D_HASH], meta: w[o + D_META] };
        descriptors.push(d);
        expect(d.frame, name).toBeGreaterThanOrEqual(0);
        expect(d.frame, name).toBeLessThan(layout.pools.length * layout.poolFrames);
        expect(d.len, name).toBeGreaterThanOrEqual(14);
        expect(d.off + d.len, name).toBeLessThanOrEqual(FS);
        const metaLen = (d.meta >>> 8) & 0xff;
        expect(metaLen, name).toBeLessThanOrEqual(Math.min(32, d.off));
      });
    }
  };
  /** A round without looking at the rings (for the allocation test: looking allocates). */
  const quiet = () => {
    dev[0].flush();
    engine.breathe();
    engine1.breathe();
    dev[0].drain(ports[0], 64);
    dev[1].drain(ports[1], 64);
    dev[0].flush();
  };
  /** One full round: the device flushes, queue 0 breathes, queue 1 breathes, both devices drain. */
  const round = () => {
    dev[0].flush();
    engine.breathe();
    checkRings();
    engine1.breathe();
    checkRings();
    dev[0].drain(ports[0], 64);
    dev[1].drain(ports[1], 64);
    dev[0].flush(); // publishes pool 0's stack
  };
  const q = (name: string) => engine.counters.get(name);
  /** Every packet queue 0 took is in exactly one exit counter; returns the non-zero ones. */
  const exits = () => {
    const out: Record<string, number> = {};
    let sum = 0;
    for (const n of QUEUE_EXIT_COUNTERS) {
      sum += q(n);
      if (q(n) !== 0) out[n] = q(n);
    }
    expect(sum).toBe(q('packets'));
    return out;
  };
  const expectHome = () => {
    const a = accounting(layout);
    expect(a.doubled).toBe(0);
    expect(a.queued).toBe(0);
    expect(a.free).toBe(a.total);
  };
  return { layout, dev, engine, engine1, sent, descriptors, logs, round, quiet, exits, expectHome, q };
}

/** Sends `n` 64-byte UDP frames in on port a through `program`; checks the invariants. */
function through(program: XdpProgram, n = 3) {
  const r = rig(program);
  const frame = udp();
  for (let i = 0; i < n; i++) expect(r.dev[0].receive(frame, 0, frame.length)).toBe(true);
  expect(() => r.round()).not.toThrow();
  expect(r.q('packets')).toBe(n);
  r.expectHome();
  return r;
}

// ── the device: receive() and submit() ─────────────────────────────────────

describe('DeviceIO: bad offsets and lengths from a port', () => {
  const src = new Uint8Array(4096);
  src.set(udp(), 0);
  const badReceives: [string, number, number][] = [
    ['negative offset', -1, 64],
    ['NaN offset', NaN, 64],
    ['fractional offset', 0.5, 64],
    ['infinite offset', Infinity, 64],
    ['offset past the end', 4096, 64],
    ['offset + length past the end', 4096 - 63, 64],
    ['offset of 2^32', 2 ** 32, 64],
    ['NaN length', 0, NaN],
    ['negative length', 0, -64],
    ['zero length', 0, 0],
    ['runt (13)', 0, 13],
    ['fractional length', 0, 64.5],
    ['length over the largest frame', 0, FS - 256 + 1],
    ['infinite length', 0, Infinity],
    ['length of 2^32 + 64', 0, 2 ** 32 + 64],
  ];
  for (const [name, offset, length] of badReceives) {
    it(`receive: ${name} is counted rx_dropped, takes no frame, leaves rx_bytes a number`, () => {
      const r = rig(() => XDP_DROP);
      let ok: boolean | undefined;
      expect(() => (ok = r.dev[0].receive(src, offset, length))).not.toThrow();
      expect(ok).toBe(false);
      const c = r.dev[0].counters;
      const names = ['rx_packets', 'rx_bytes', 'rx_no_buffer', 'rx_ring_full', 'rx_flow_drop', 'rx_dropped'];
      const got = Object.fromEntries(names.map((n) => [n, c[r.dev[0].counterIndex(n)]]));
      expect(got.rx_packets).toBe(1);
      expect(got.rx_dropped).toBe(1);
      expect(got.rx_no_buffer + got.rx_ring_full + got.rx_flow_drop).toBe(0);
      expect(Number.isFinite(got.rx_bytes) && got.rx_bytes >= 0).toBe(true);
      r.round();
      expect(r.q('packets')).toBe(0);
      r.expectHome();
    });
  }

  it('receive: the edges that are valid are taken (14 bytes at the very end, the largest frame)', () => {
    const r = rig(() => XDP_TX);
    expect(r.dev[0].receive(src, 4096 - 14, 14)).toBe(true);
    expect(r.dev[0].receive(src, 0, FS - 256)).toBe(true);
    r.round();
    expect(r.exits()).toEqual({ xdp_tx_xmit: 2 });
    expect(r.sent.map((s) => s.len)).toEqual([14, FS - 256]);
    r.expectHome();
  });

  const badLengths: [string, number][] = [
    ['NaN', NaN],
    ['negative', -1],
    ['runt (13)', 13],
    ['fractional', 64.5],
    ['over the largest frame', FS - 256 + 1],
    ['infinite', Infinity],
  ];
  for (const [name, length] of badLengths) {
    it(`submit: length ${name} is counted rx_dropped and the frame goes back to the pool`, () => {
      const r = rig(() => XDP_TX);
      const f = r.dev[0].allocFrame();
      expect(f).toBeGreaterThanOrEqual(0);
      let ok: boolean | undefined;
      expect(() => (ok = r.dev[0].submit(f, length))).not.toThrow();
      expect(ok).toBe(false);
      const c = (n: string) => r.dev[0].counters[r.dev[0].counterIndex(n)];
      expect(c('rx_packets')).toBe(1);
      expect(c('rx_dropped')).toBe(1);
      expect(Number.isFinite(c('rx_bytes'))).toBe(true);
      r.round();
      expect(r.q('packets')).toBe(0);
      r.expectHome();
    });
  }

  it('submit after stop-ingress: counted rx_dropped, the frame back in its pool, nothing queued (the queues may have drained for the last time)', () => {
    const r = rig(() => XDP_TX);
    const f = r.dev[0].allocFrame();
    r.dev[0].ingressOpen = false;
    expect(r.dev[0].submit(f, 64)).toBe(false);
    const c = (n: string) => r.dev[0].counters[r.dev[0].counterIndex(n)];
    expect(c('rx_packets')).toBe(1);
    expect(c('rx_dropped')).toBe(1);
    expect(c('rx_bytes')).toBe(64);
    r.dev[0].flush();
    expect(r.q('packets')).toBe(0);
    r.expectHome();
  });

  it('submit: a frame that is not this device pool’s is counted rx_dropped and neither queued nor freed', () => {
    const r = rig(() => XDP_TX);
    const otherPools = r.layout.poolFrames; // frame 64 is port b's
    for (const f of [-1, NaN, 0.5, otherPools, 10 ** 9]) {
      let ok: boolean | undefined;
      expect(() => (ok = r.dev[0].submit(f, 64))).not.toThrow();
      expect(ok).toBe(false);
    }
    const c = (n: string) => r.dev[0].counters[r.dev[0].counterIndex(n)];
    expect(c('rx_packets')).toBe(5);
    expect(c('rx_dropped')).toBe(5);
    r.round();
    expect(r.q('packets')).toBe(0);
    r.expectHome(); // without the check, frame 64 would now be on pool a's stack too: doubled
    // The device still works afterwards.
    const f = r.dev[0].allocFrame();
    expect(r.dev[0].submit(f, 64)).toBe(true);
    r.round();
    expect(r.exits()).toEqual({ xdp_tx_xmit: 1 });
    r.expectHome();
  });
});

describe('FramePool: a double or foreign free is reported, not absorbed', () => {
  it('throws instead of writing past its stack or adopting another pool’s frame', () => {
    const pool = new FramePool(createPool(100, 4, 1));
    const f = pool.alloc();
    pool.free(f);
    expect(() => pool.free(f)).toThrow(/freed twice or not this pool/);
    expect(() => pool.free(5)).toThrow(/not this pool/);
    expect(() => pool.free(104)).toThrow(/not this pool/);
    // The stack is intact: exactly its four frames come back out.
    const out = [pool.alloc(), pool.alloc(), pool.alloc(), pool.alloc(), pool.alloc()];
    expect(out.slice(0, 4).sort()).toEqual([100, 101, 102, 103]);
    expect(out[4]).toBe(-1);
  });
});

// ── the program: verdicts ──────────────────────────────────────────────────

describe('QueueEngine: verdicts that are not verdicts are xdp_invalid', () => {
  const bad: [string, unknown][] = [
    ['2.5', 2.5],
    ['-1', -1],
    ['5', 5],
    ['NaN', NaN],
    ['undefined', undefined],
    ['null', null],
    ["the string '3'", '3'],
    ['an object', { valueOf: () => 3 }],
    ['a symbol', Symbol('tx')],
    ['a bigint', 3n],
    ['2^32 + 3', 2 ** 32 + 3],
    ['Infinity', Infinity],
  ];
  for (const [name, v] of bad) {
    it(`returning ${name}: dropped, counted xdp_invalid, frame home`, () => {
      const r = through(() => v as number);
      expect(r.exits()).toEqual({ xdp_invalid: 3 });
      expect(r.sent).toEqual([]);
    });
  }

  it('the tap sees integers as returned and anything else as -1, and never throws on them', () => {
    const seen: unknown[] = [];
    const verdicts: unknown[] = [9, 2.5, Symbol('x'), '3', -7];
    let i = 0;
    const r = rig(() => verdicts[i++] as number);
    r.engine.tap = { observe: (_ctx, v) => seen.push(v) } satisfies PacketTap;
    for (let k = 0; k < verdicts.length; k++) r.dev[0].receive(udp(), 0, 64);
    r.round();
    expect(seen).toEqual([9, -1, -1, -1, -7]);
    expect(r.exits()).toEqual({ xdp_invalid: 5 });
    r.expectHome();
  });
});

// ── the program: packet bounds ─────────────────────────────────────────────

describe('QueueEngine: a program that corrupts the packet bounds is ABORTED', () => {
  type Mangle = (ctx: XdpContext) => void;
  const corruptions: [string, Mangle][] = [
    ['data negative', (c) => (c.data = -10)],
    ['data far negative', (c) => (c.data = -1e9)],
    ['data past dataEnd', (c) => (c.data = c.dataEnd + 1)],
    ['dataEnd past the frame', (c) => (c.dataEnd = FS + 1)],
    ['dataEnd far past the frame', (c) => (c.dataEnd = 2 ** 31)],
    ['dataEnd before data', (c) => (c.dataEnd = c.data - 1)],
    ['a runt (13 bytes)', (c) => (c.dataEnd = c.data + 13)],
    ['data fractional', (c) => (c.data += 0.5)],
    ['dataEnd fractional', (c) => (c.dataEnd -= 0.25)],
    ['dataEnd NaN', (c) => (c.dataEnd = NaN)],
    ['data undefined', (c) => ((c as { data: unknown }).data = undefined)],
    ["data the string '256'", (c) => ((c as { data: unknown }).data = '256')],
    ['data a symbol', (c) => ((c as { data: unknown }).data = Symbol('d'))],
    ['dataEnd an object', (c) => ((c as { dataEnd: unknown }).dataEnd = { valueOf: () => 320 })],
    ['dataMeta after data', (c) => (c.dataMeta = c.data + 1)],
    ['dataMeta negative', (c) => (c.dataMeta = -4)],
    ['dataMeta 64 bytes before data (more metadata than adjustMeta grants)', (c) => (c.dataMeta = c.data - 64)],
    ['dataMeta NaN', (c) => (c.dataMeta = NaN)],
  ];
  const exits: [string, XdpProgram][] = [
    ['TX', () => XDP_TX],
    ['PASS', () => XDP_PASS],
    ['REDIRECT to port b', (c) => c.redirect(2)],
    ['REDIRECT to queue 1', (c) => ((c.redirectKind = REDIRECT_CPU), (c.redirectIndex = 1), XDP_REDIRECT)],
    ['REDIRECT broadcast', (c) => ((c.broadcastPorts[0] = 1), (c.broadcastPorts[1] = 1), (c.redirectKind = REDIRECT_BROADCAST), XDP_REDIRECT)],
    ['DROP', () => XDP_DROP],
  ];
  for (const [what, mangle] of corruptions) {
    for (const [how, verdict] of exits) {
      it(`${what}, then ${how}: xdp_aborted, no descriptor written, frame home`, () => {
        const r = through((ctx) => {
          const v = verdict(ctx);
          mangle(ctx);
          return v;
        });
        expect(r.exits()).toEqual({ xdp_aborted: 3 });
        expect(r.descriptors).toEqual([]);
        expect(r.sent).toEqual([]);
        expect(r.engine.lastError).toBe(BOUNDS_ERROR);
        expect(r.engine.errorCount).toBe(3);
      });
    }
  }

  it('the tap sees the packet as it arrived (bounds restored) with verdict ABORTED', () => {
    const seen: [number, number, number, number][] = [];
    const r = rig((ctx) => ((ctx.data = -10), (ctx.dataEnd = 1e6), XDP_TX));
    r.engine.tap = { observe: (ctx, v) => seen.push([ctx.data, ctx.dataEnd, ctx.dataMeta, v]) };
    r.dev[0].receive(udp(), 0, 64);
    r.round();
    expect(seen).toEqual([[256, 320, 256, XDP_ABORTED]]);
    r.expectHome();
  });

  it('an armed tap sees the packet’s own frame and ingress port, whatever the program put there', () => {
    const seen: [unknown, number, number][] = [];
    const r = rig((ctx) => (((ctx as { ingressIfindex: unknown }).ingressIfindex = Symbol('i')), (ctx.packet = new Uint8Array(1)), XDP_DROP));
    r.engine.tap = { observe: (ctx, v) => seen.push([ctx.ingressIfindex, ctx.packet.length, v]) };
    r.dev[0].receive(udp(), 0, 64);
    expect(() => r.round()).not.toThrow();
    expect(seen).toEqual([[1, FS, XDP_DROP]]);
    expect(r.exits()).toEqual({ xdp_drop: 1 });
    r.expectHome();
  });

  it('bounds at the very edges of the frame are valid: the whole frame goes out', () => {
    const r = through((ctx) => ((ctx.data = 0), (ctx.dataMeta = 0), (ctx.dataEnd = FS), XDP_TX));
    expect(r.exits()).toEqual({ xdp_tx_xmit: 3 });
    expect(r.sent.map((s) => [s.off % FS, s.len])).toEqual([
      [0, FS],
      [0, FS],
      [0, FS],
    ]);
  });

  it('32 bytes of metadata via adjustMeta travel to another queue', () => {
    const r = through((ctx) => {
      expect(ctx.adjustMeta(-32)).toBe(0);
      ctx.redirectKind = REDIRECT_CPU;
      ctx.redirectIndex = 1;
      return XDP_REDIRECT;
    });
    expect(r.exits()).toEqual({ xdp_redirect: 3 });
    expect(r.descriptors.filter((d) => d.ring === 'cpu[0][1]').map((d) => (d.meta >>> 8) & 0xff)).toEqual([32, 32, 32]);
    expect(r.engine1.counters.get('xdp_drop')).toBe(3);
  });
});

describe('XdpContext helpers refuse what would leave the frame', () => {
  it('adjustHead / adjustTail / adjustMeta with huge, fractional, NaN or infinite deltas return -1 and change nothing', () => {
    const r = through((ctx) => {
      const before = [ctx.data, ctx.dataEnd, ctx.dataMeta];
      for (const d of [1e10, -1e10, 2 ** 31, -(2 ** 31), 2 ** 32, 0.5, -0.5, NaN, Infinity, -Infinity]) {
        expect(ctx.adjustHead(d), `adjustHead(${d})`).toBe(-1);
        expect(ctx.adjustTail(d), `adjustTail(${d})`).toBe(-1);
        expect(ctx.adjustMeta(d), `adjustMeta(${d})`).toBe(-1);
      }
      expect(ctx.adjustHead(-257)).toBe(-1); // past the headroom
      expect(ctx.adjustHead(64 - 13)).toBe(-1); // would leave 13 bytes
      expect(ctx.adjustTail(FS - ctx.dataEnd + 1)).toBe(-1); // past the frame
      expect(ctx.adjustTail(-(64 - 13))).toBe(-1);
      expect([ctx.data, ctx.dataEnd, ctx.dataMeta]).toEqual(before);
      return XDP_TX;
    });
    expect(r.exits()).toEqual({ xdp_tx_xmit: 3 });
    expect(r.sent.map((s) => [s.off % FS, s.len])).toEqual([
      [256, 64],
      [256, 64],
      [256, 64],
    ]);
  });

  it('the largest adjustments granted still describe a packet inside the frame', () => {
    const r = through((ctx) => {
      expect(ctx.adjustHead(-256)).toBe(0);
      expect(ctx.adjustTail(FS - ctx.dataEnd)).toBe(0);
      return XDP_TX;
    });
    expect(r.exits()).toEqual({ xdp_tx_xmit: 3 });
    expect(r.sent.map((s) => [s.off % FS, s.len])).toEqual([
      [0, FS],
      [0, FS],
      [0, FS],
    ]);
  });
});

// ── the program: redirect targets and switch-owned fields ───────────────────

describe('QueueEngine: redirect targets that are not targets', () => {
  for (const ifindex of [0, -1, 3, 999, NaN, 1.5, Infinity, '1' as unknown as number]) {
    it(`ctx.redirect(${show(ifindex)}) returns ABORTED and nothing is sent`, () => {
      const r = through((ctx) => {
        const v = ctx.redirect(ifindex);
        expect(v).toBe(XDP_ABORTED);
        expect(ctx.redirectKind).toBe(REDIRECT_NONE);
        return v;
      });
      expect(r.exits()).toEqual({ xdp_aborted: 3 });
      expect(r.sent).toEqual([]);
    });
  }

  it('ctx.redirect(NaN) then REDIRECT anyway: xdp_redirect_err', () => {
    const r = through((ctx) => (ctx.redirect(NaN), XDP_REDIRECT));
    expect(r.exits()).toEqual({ xdp_redirect_err: 3 });
  });

  const kinds: [string, number][] = [
    ['port', REDIRECT_PORT],
    ['queue', REDIRECT_CPU],
    ['socket', REDIRECT_XSK],
  ];
  const indices: unknown[] = [-1, 0.5, 2, 999, NaN, Infinity, undefined, '1', Symbol('i'), 2 ** 32 + 1];
  for (const [kind, k] of kinds) {
    for (const idx of indices) {
      // Queue 0 redirecting to itself has no cpu ring; a socket needs a binding: both errors too.
      it(`redirectKind ${kind}, redirectIndex ${show(idx)}: xdp_redirect_err`, () => {
        const r = through((ctx) => ((ctx.redirectKind = k), ((ctx as { redirectIndex: unknown }).redirectIndex = idx), XDP_REDIRECT));
        expect(r.exits()).toEqual({ xdp_redirect_err: 3 });
        expect(r.descriptors).toEqual([]);
      });
    }
  }
  it('redirectIndex 0: queue 0 has no cpu ring to itself, and no socket is bound: xdp_redirect_err', () => {
    for (const k of [REDIRECT_CPU, REDIRECT_XSK]) {
      const r = through((ctx) => ((ctx.redirectKind = k), (ctx.redirectIndex = 0), XDP_REDIRECT));
      expect(r.exits()).toEqual({ xdp_redirect_err: 3 });
    }
  });

  for (const kind of [-1, 5, 1.5, NaN, undefined, '1', null]) {
    it(`redirectKind ${show(kind)}: xdp_redirect_err`, () => {
      const r = through((ctx) => (((ctx as { redirectKind: unknown }).redirectKind = kind), (ctx.redirectIndex = 1), XDP_REDIRECT));
      expect(r.exits()).toEqual({ xdp_redirect_err: 3 });
    });
  }

  it('a program that replaces ctx.broadcastPorts is not followed; the real flags still work', () => {
    const replaced = through((ctx) => (((ctx as { broadcastPorts: unknown }).broadcastPorts = [1, 1, 1]), (ctx.redirectKind = REDIRECT_BROADCAST), XDP_REDIRECT));
    expect(replaced.exits()).toEqual({ xdp_redirect_err: 3 });
    const nulled = through((ctx) => (((ctx as { broadcastPorts: unknown }).broadcastPorts = null), (ctx.redirectKind = REDIRECT_BROADCAST), XDP_REDIRECT));
    expect(nulled.exits()).toEqual({ xdp_redirect_err: 3 });
    const real = through((ctx) => ((ctx.broadcastPorts[0] = 1), (ctx.broadcastPorts[1] = 1), (ctx.redirectKind = REDIRECT_BROADCAST), XDP_REDIRECT));
    expect(real.exits()).toEqual({ xdp_redirect: 3 });
    expect(real.sent.map((s) => s.port).sort()).toEqual([0, 0, 0, 1, 1, 1]);
  });
});

describe('QueueEngine: fields the switch fills in are not taken back from the program', () => {
  const overwrites: [string, (ctx: XdpContext) => void][] = [
    ['frame = 0', (c) => (c.frame = 0)],
    ['frame = 9999', (c) => (c.frame = 9999)],
    ['frame = NaN', (c) => (c.frame = NaN)],
    ['ingressIfindex = 99', (c) => (c.ingressIfindex = 99)],
    ['ingressIfindex = NaN', (c) => (c.ingressIfindex = NaN)],
    ['ingressIfindex = 0', (c) => (c.ingressIfindex = 0)],
    ["hash = 'x'", (c) => ((c as { hash: unknown }).hash = 'x')],
    ['hash = a symbol', (c) => ((c as { hash: unknown }).hash = Symbol('h'))],
  ];
  for (const [name, mangle] of overwrites) {
    for (const [how, verdict, exit] of [
      ['TX', () => XDP_TX, 'xdp_tx_xmit'],
      ['REDIRECT to queue 1', (c: XdpContext) => ((c.redirectKind = REDIRECT_CPU), (c.redirectIndex = 1), XDP_REDIRECT), 'xdp_redirect'],
      ['broadcast', (c: XdpContext) => ((c.broadcastPorts[0] = 1), (c.broadcastPorts[1] = 1), (c.redirectKind = REDIRECT_BROADCAST), XDP_REDIRECT), 'xdp_redirect'],
      ['DROP', () => XDP_DROP, 'xdp_drop'],
    ] as [string, XdpProgram, string][]) {
      it(`ctx.${name}, then ${how}: the packet's own frame, ingress port and hash are used`, () => {
        const frames: number[] = [];
        const r = through((ctx) => {
          frames.push(ctx.frame);
          const v = verdict(ctx);
          mangle(ctx);
          return v;
        });
        expect(r.exits()).toEqual({ [exit]: 3 });
        for (const d of r.descriptors) {
          if (d.ring.startsWith('cpu')) {
            expect(frames).toContain(d.frame);
            expect(d.meta & 0xff).toBe(0); // ingress port a
          }
          expect(d.hash).toBe(HASH);
        }
        if (how === 'TX') expect(r.sent.map((s) => [s.port, frames.includes(s.frame)])).toEqual([
          [0, true],
          [0, true],
          [0, true],
        ]);
      });
    }
  }
});

// ── cost ───────────────────────────────────────────────────────────────────

describe('the checks cost no allocation, even for a program that trips them on every packet', () => {
  function heapSpread(program: XdpProgram): number {
    const r = rig(program);
    const frame = udp();
    const run = (n: number) => {
      for (let i = 0; i < n; i += 32) {
        for (let k = 0; k < 32; k++) r.dev[0].receive(frame, 0, 64);
        r.quiet();
        r.engine.lastError = null;
      }
    };
    run(200_000);
    return youngSpread(() => (run(65_536), 65_536), 8 * 65_536).spread;
  }
  it('corrupted bounds (ABORTED)', () => expect(heapSpread((ctx) => ((ctx.data = -1), XDP_TX))).toBeLessThan(200 * 1024));
  it('fractional verdicts (invalid)', () => expect(heapSpread(() => 2.5)).toBeLessThan(200 * 1024));
  it('a fractional redirect index (redirect_err)', () => expect(heapSpread((ctx) => ((ctx.redirectKind = REDIRECT_PORT), (ctx.redirectIndex = 0.5), XDP_REDIRECT))).toBeLessThan(200 * 1024));
});

// ── gen: frames it builds carry their headers ──────────────────────────────

describe('gen port: frame sizes too short for the headers are refused', () => {
  const base = { name: 'g', type: 'gen' };
  const validate = (c: Record<string, unknown>) => gen.validate!(c as Parameters<NonNullable<typeof gen.validate>>[0]);
  it.each([
    [{ ipv6: true, size: 60 }, 62],
    [{ ipv6: true, proto: 'tcp', size: 64 }, 74],
    [{ proto: 'tcp', size: [60, 128], ipv6: true }, 74],
  ])('%j needs at least %d bytes', (opts, min) => {
    const errors = validate({ ...base, ...opts });
    expect(errors.join('\n')).toContain(`at least ${min}`);
  });
  it('the sizes that fit pass, and the default fits IPv6/TCP', () => {
    expect(validate({ ...base, ipv6: true, size: 62 })).toEqual([]);
    expect(validate({ ...base, proto: 'tcp', size: 60 })).toEqual([]);
    expect(validate({ ...base, ipv6: true, proto: 'tcp' })).toEqual([]);
    expect(validate({ ...base, ipv6: true, proto: 'tcp', size: 74 })).toEqual([]);
  });
  it('an empty size list is an error, not a silent 64', () => {
    expect(validate({ ...base, size: [] }).join('\n')).toContain('at least one');
  });
  it('the smallest frames built carry a whole L4 header with a consistent length', () => {
    for (const [ipv6, proto, size] of [
      [false, 'udp', 60],
      [false, 'tcp', 60],
      [true, 'udp', 62],
      [true, 'tcp', 74],
    ] as const) {
      const o = { flows: 1, sizes: [size], count: 0, rate: 0, proto, ipv6, src: [10, 0, 0, 1], dst: [10, 1, 0, 1], srcMac: [2, 0, 0, 0, 0, 1], dstMac: [2, 0, 0, 0, 0, 2], dstPort: 9 };
      const b = buildFrame(o, 0, size);
      const l4 = 14 + (ipv6 ? 40 : 20);
      expect(size - l4).toBeGreaterThanOrEqual(proto === 'tcp' ? 20 : 8);
      if (proto === 'udp') expect((b[l4 + 4] << 8) | b[l4 + 5]).toBe(size - l4);
      else expect(b[l4 + 12]).toBe(0x50);
    }
  });
});

// ── the same misbehaviours with real threads ───────────────────────────────

describe('Switch: a hostile program on real threads', () => {
  it('every misbehaviour lands in its counter, nothing crashes, every frame comes home', async () => {
    const sw = await Switch.start(
      config([{ name: 'gen0', type: 'gen', count: 16_000, flows: 16, rate: 50_000 }, { name: 'out0', type: 'null' }], 1, [{ name: fixture('hostile.mjs'), params: {}, continueOn: [] }], {
        ringSize: 16384,
        poolFrames: 32768,
      }),
    );
    const logs: string[] = [];
    sw.on('log', (e: { message: string }) => logs.push(e.message));
    await sw.waitFinished('gen0');
    await sw.settled();
    const s = await sw.stop();
    expectAccounted(sw, s);
    const q = s.stats.queues;
    expect(s.stats.ports.gen0.rx_ring_full + s.stats.ports.gen0.rx_no_buffer).toBe(0);
    expect(sw.restarts).toEqual([0]);
    expect(q.rx0_packets).toBe(16_000);
    expect(q.rx0_xdp_invalid).toBe(6_000); // flows 0…5
    expect(q.rx0_xdp_aborted).toBe(5_000); // 6…10
    expect(q.rx0_xdp_redirect_err).toBe(3_000); // 11, 12, 15
    expect(q.rx0_xdp_tx_xmit).toBe(2_000); // 13, 14
    expect(s.stats.ports.gen0.tx_packets).toBe(2_000);
    expect(s.stats.ports.out0.tx_packets).toBe(0);
    // Reported as the program's fault (at most once a second), never as a crash.
    expect(logs.some((m) => m.includes(BOUNDS_ERROR) || m.includes(INVALID_VERDICT))).toBe(true);
    expect(logs.some((m) => /exited|restart/.test(m))).toBe(false);
  });
});
