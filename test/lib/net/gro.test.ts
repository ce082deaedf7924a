/**
 * GRO against three oracles: a reference coalescer written on frame descriptions (Linux's
 * tcp_gro_receive rules as object comparisons, sharing no code with lib/net) compared byte
 * for byte, header for header; segment-by-segment delivery (every payload byte of every
 * flow delivered once, in the order it came, and each super-frame cut back by GSO gives
 * exactly the segments that went in); and tshark, which checks the super-frames' checksums
 * once completed. Traffic is seeded: reordering, loss, duplicates, out-of-window segments,
 * bad checksums, padding, IP options, PSH/FIN/RST/URG/SYN/CWR, window changes, UDP between.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Gro, GRO_DEFER_SEGMENTS, type GroHost } from '../../../lib/net/gro.js';
import { GsoPlan, gsoPrepare, gsoWriteSegment } from '../../../lib/net/gso.js';
import {
  completeChecksum,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VnetHdr,
} from '../../../lib/net/vnet-hdr.js';
import { run, tempDir } from '../pcap/helpers.js';
import { ACK, CWR, ECE, FIN, PSH, RST, SYN, URG, build, bytes, headerLength, pcapFile, plainSum, pseudoSum, rng, type Desc } from './frames.js';
import { describeNeeding, missing } from '../../support/prereq.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

const FRAME = 2048;
const SMALL = 4096;
const SUPERS = 64;

interface In {
  d: Desc;
  csum: number; // the flags it comes with: 0, DATA_VALID or NEEDS_CSUM
  flow: number; // -1 for UDP
}
interface Out {
  bytes: Uint8Array;
  flags: number;
  gsoType: number;
  gsoSize: number;
  hdrLen: number;
  csumStart: number;
  csumOffset: number;
}

/** A frame area of small frames then super-frame buffers; handles are frame numbers. */
class Host implements GroHost {
  readonly bytes = new Uint8Array(new SharedArrayBuffer(SMALL * FRAME + SUPERS * 65792));
  readonly superFrameBytes = 65535;
  out: Out[] = [];
  handlesOut: number[] = [];
  released: number[] = [];
  private freeSupers: number[] = [];
  constructor() {
    for (let s = SUPERS - 1; s >= 0; s--) this.freeSupers.push(SMALL + s);
  }
  allocSuper(): number {
    return this.freeSupers.pop() ?? -1;
  }
  superOffset(h: number): number {
    return SMALL * FRAME + (h - SMALL) * 65792 + 256;
  }
  deliver(handle: number, at: number, len: number, h: VnetHdr): void {
    this.out.push({ bytes: this.bytes.slice(at, at + len), flags: h.flags, gsoType: h.gsoType, gsoSize: h.gsoSize, hdrLen: h.hdrLen, csumStart: h.csumStart, csumOffset: h.csumOffset });
    this.handlesOut.push(handle);
    if (handle >= SMALL) this.freeSupers.push(handle);
  }
  release(handle: number): void {
    this.released.push(handle);
    if (handle >= SMALL) this.freeSupers.push(handle);
  }
}

/**
 * A host whose destination copies the pieces straight in (a guest ring this thread writes):
 * GRO hands deferred flows over as pieces instead of copying them into a super-frame.
 */
class GatherHost extends Host {
  gathers(): boolean {
    return true;
  }
  deliverGather(pieces: Int32Array, first: number, n: number, total: number, h: VnetHdr): void {
    const bytes = new Uint8Array(total);
    let at = 0;
    for (let i = first; i < first + n; i++) {
      bytes.set(this.bytes.subarray(pieces[2 * i], pieces[2 * i] + pieces[2 * i + 1]), at);
      at += pieces[2 * i + 1];
    }
    expect(at).toBe(total);
    this.out.push({ bytes, flags: h.flags, gsoType: h.gsoType, gsoSize: h.gsoSize, hdrLen: h.hdrLen, csumStart: h.csumStart, csumOffset: h.csumOffset });
    this.handlesOut.push(-1);
  }
}

/** Feeds the inputs in breaths of the given sizes through the code under test. */
function coalesce(inputs: In[], breaths: number[], flows = 8, gather = false): Host {
  const host = gather ? new GatherHost() : new Host();
  const gro = new Gro(host, flows);
  const came = new VnetHdr();
  let k = 0;
  for (const size of breaths) {
    for (let j = 0; j < size && k < inputs.length; j++, k++) {
      const f = build(inputs[k].d);
      const at = (k % SMALL) * FRAME + 256;
      host.bytes.set(f, at);
      came.clear();
      came.flags = inputs[k].csum;
      if (inputs[k].csum === VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        came.csumStart = headerLength(inputs[k].d).l4;
        came.csumOffset = 16;
      }
      gro.receive(k % SMALL, at, f.length, came);
    }
    gro.flush();
  }
  return host;
}

// ---- the reference: Linux's rules on descriptions ----------------------------------------

const eq = (a?: number[], b?: number[]) => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

function sameFlow(a: Desc, b: Desc): boolean {
  return (
    !!a.ipv6 === !!b.ipv6 && eq(a.dst, b.dst) && eq(a.src, b.src) && eq(a.vlan, b.vlan) && eq(a.saddr, b.saddr) && eq(a.daddr, b.daddr) &&
    a.sport === b.sport && a.dport === b.dport && (!a.ipv6 || (a.flowLabel ?? 0) === (b.flowLabel ?? 0))
  );
}

interface Held {
  first: Desc;
  csum: number;
  payloads: Uint8Array[];
  mss: number;
  nextSeq: number;
  orFlags: number;
  fixed: boolean;
}

function reference(inputs: In[], breaths: number[], flows = 8): Out[] {
  const out: Out[] = [];
  let held: Held[] = [];
  const alone = (d: Desc, csum: number) => {
    const { l4 } = headerLength(d);
    const ncs = csum === VIRTIO_NET_HDR_F_NEEDS_CSUM;
    out.push({ bytes: build(d), flags: csum, gsoType: 0, gsoSize: 0, hdrLen: 0, csumStart: ncs ? l4 : 0, csumOffset: ncs ? 16 : 0 });
  };
  const emit = (h: Held) => {
    held = held.filter((x) => x !== h);
    if (h.payloads.length === 1) return alone(h.first, h.csum);
    const payload = Buffer.concat(h.payloads);
    const d: Desc = { ...h.first, flags: (h.first.flags ?? ACK) | h.orFlags, payload };
    const { l4, payload: hl } = headerLength(d);
    const l4Len = hl - l4 + payload.length;
    const sum = plainSum(new Uint8Array(0), 0, 0, pseudoSum(d, l4Len));
    const v6 = !!d.ipv6;
    out.push({
      bytes: build({ ...d, csumField: sum }),
      flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
      gsoType: (v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4) | ((d.flags! & CWR) !== 0 ? VIRTIO_NET_HDR_GSO_ECN : 0),
      gsoSize: h.mss,
      hdrLen: hl,
      csumStart: l4,
      csumOffset: 16,
    });
  };
  let k = 0;
  for (const size of breaths) {
    for (let j = 0; j < size && k < inputs.length; j++, k++) {
      const { d, csum } = inputs[k];
      if (d.udp) {
        alone(d, csum);
        continue;
      }
      const p = held.find((h) => sameFlow(h.first, d)) ?? null;
      const candidate = !(d.badCsum && csum === 0) && !d.ipOptions && !d.pad;
      if (!candidate) {
        if (p) emit(p);
        alone(d, csum);
        continue;
      }
      const flags = d.flags ?? ACK;
      const len = d.payload.length;
      let merged = false;
      if (p) {
        const f = p.first;
        const ipLen = headerLength(f).payload - headerLength(f).l3 + p.payloads.reduce((a, b) => a + b.length, 0);
        const count = p.payloads.length;
        let idOk = true;
        let fixed = p.fixed;
        if (!d.ipv6) {
          const inc = (d.id ?? 0) === (((f.id ?? 0) + count) & 0xffff);
          fixed = d.df !== false && d.id === f.id && (count === 1 || p.fixed);
          idOk = fixed || (!p.fixed && inc);
        }
        const ok =
          (flags & CWR) === 0 &&
          ((flags ^ (f.flags ?? ACK)) & ~(CWR | FIN | PSH)) === 0 &&
          (d.window ?? 501) === (f.window ?? 501) &&
          (d.ack ?? 0) === (f.ack ?? 0) &&
          eq(d.tcpOptions, f.tcpOptions) &&
          (d.ttl ?? 64) === (f.ttl ?? 64) &&
          (d.tos ?? 0) === (f.tos ?? 0) &&
          (d.df ?? true) === (f.df ?? true) &&
          idOk &&
          (d.seq ?? 0) === p.nextSeq &&
          len >= 1 && len <= p.mss &&
          ipLen + len < 65536 && headerLength(f).l3 + ipLen + len <= 65535;
        if (ok) {
          p.payloads.push(d.payload);
          p.nextSeq = (p.nextSeq + len) >>> 0;
          p.orFlags |= flags & (FIN | PSH);
          if (!d.ipv6) p.fixed = fixed;
          merged = true;
        }
      }
      let final = merged ? len < p!.mss : len < 1;
      if (flags & (URG | PSH | RST | SYN | FIN)) final = true;
      if (p && (!merged || final)) emit(p);
      if (merged) continue;
      const verified = csum === 0 ? VIRTIO_NET_HDR_F_DATA_VALID : csum;
      if (final) {
        alone(d, verified);
        continue;
      }
      if (held.length === flows) emit(held[0]);
      held.push({ first: d, csum: verified, payloads: [d.payload], mss: len, nextSeq: ((d.seq ?? 0) + len) >>> 0, orFlags: 0, fixed: false });
    }
    while (held.length) emit(held[0]);
  }
  return out;
}

// ---- seeded traffic ------------------------------------------------------------------------

function traffic(seed: number, nFlows: number, perFlow: number, chaos: boolean): { inputs: In[]; breaths: number[] } {
  const r = rng(seed);
  const flows = Array.from({ length: nFlows }, (_, f) => {
    const ipv6 = f % 3 === 2;
    const base: Desc = ipv6
      ? { ipv6: true, saddr: [0xfd, 0, ...Array(13).fill(0), f + 1], daddr: [0xfd, 0, ...Array(13).fill(0), 0xfe], flowLabel: f * 17, sport: 30000 + f, dport: 5201, payload: new Uint8Array(0) }
      : { saddr: [10, 0, 0, f + 1], daddr: [10, 0, 1, 1], sport: 30000 + f, dport: 5201, vlan: f % 4 === 1 ? [100] : undefined, payload: new Uint8Array(0) };
    const mss = [1448, 1448, 1000, 536][f % 4];
    return { base, mss, seq: Math.floor(r() * 2 ** 32), id: Math.floor(r() * 65536), fixedId: f % 5 === 4, window: 501, opts: f % 2 === 0 ? [1, 1, 8, 10, 0, 0, 0, f, 0, 0, 0, 1] : undefined, ack: 7, ttl: 64, tos: 0, df: true };
  });
  const streams: In[][] = flows.map((fl, f) => {
    const segs: In[] = [];
    for (let i = 0; i < perFlow; i++) {
      const short = r() < 0.08;
      const len = short ? 1 + Math.floor(r() * (fl.mss - 1)) : fl.mss;
      let flags = ACK;
      if (r() < 0.05) flags |= PSH;
      if (chaos && r() < 0.02) flags |= CWR;
      if (chaos && r() < 0.01) flags |= URG;
      if (i === perFlow - 1) flags |= FIN | PSH;
      if (chaos && r() < 0.01) flags |= ECE;
      if (chaos && r() < 0.03) fl.window += 1;
      // Each header field a segment must share with its flow's to join it changes now and
      // then: every comparison GRO makes is exercised both ways.
      if (chaos && r() < 0.03) fl.ack += 1000;
      if (chaos && r() < 0.01) fl.ttl ^= 1;
      if (chaos && r() < 0.01) fl.tos ^= 0x10;
      if (chaos && r() < 0.01 && !fl.base.ipv6) fl.df = !fl.df;
      const d: Desc = { ...fl.base, seq: fl.seq, id: fl.id, flags, window: fl.window, tcpOptions: fl.opts, ack: fl.ack, ttl: fl.ttl, tos: fl.tos, df: fl.df, payload: bytes(len, r) };
      fl.seq = (fl.seq + len) >>> 0;
      if (!fl.fixedId) fl.id = (fl.id + 1) & 0xffff;
      const x = r();
      const csum = x < 0.6 ? 0 : x < 0.9 ? VIRTIO_NET_HDR_F_DATA_VALID : VIRTIO_NET_HDR_F_NEEDS_CSUM;
      if (csum === VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        const { l4, payload } = headerLength(d);
        d.csumField = pseudoSum(d, payload - l4 + len) % 65535; // the folded seed a guest leaves
      }
      segs.push({ d, csum, flow: f });
      if (chaos && r() < 0.02) segs.push({ d: { ...d, flags: ACK, csumField: undefined, payload: new Uint8Array(0) }, csum: 0, flow: f }); // a pure ACK
    }
    return segs;
  });
  // Interleave the flows as a NIC queue would, with UDP between.
  const inputs: In[] = [];
  const pos = streams.map(() => 0);
  let left = streams.reduce((a, s) => a + s.length, 0);
  while (left > 0) {
    const f = Math.floor(r() * streams.length);
    if (pos[f] >= streams[f].length) continue;
    const burst = 1 + Math.floor(r() * 6);
    for (let b = 0; b < burst && pos[f] < streams[f].length; b++, left--) inputs.push(streams[f][pos[f]++]);
    if (r() < 0.05) inputs.push({ d: { saddr: [10, 9, 9, 9], daddr: [10, 9, 9, 8], udp: true, sport: 53, dport: 53, payload: bytes(100, r) }, csum: 0, flow: -1 });
  }
  if (chaos) {
    for (let i = 0; i + 1 < inputs.length; i++) {
      const x = r();
      if (x < 0.03) [inputs[i], inputs[i + 1]] = [inputs[i + 1], inputs[i]]; // reorder
      else if (x < 0.05) inputs.splice(i, 1); // loss
      else if (x < 0.07) inputs.splice(i, 0, { ...inputs[i] }); // duplicate
      else if (x < 0.08 && !inputs[i].d.udp) inputs[i] = { ...inputs[i], d: { ...inputs[i].d, seq: ((inputs[i].d.seq ?? 0) + 1_000_000) >>> 0 } }; // out of window
      else if (x < 0.09 && !inputs[i].d.udp) inputs[i] = { ...inputs[i], csum: 0, d: { ...inputs[i].d, badCsum: true, csumField: undefined } }; // no partial-sum seed: nothing vouches for it
      else if (x < 0.095 && !inputs[i].d.udp) inputs[i] = { ...inputs[i], d: { ...inputs[i].d, pad: 6 } };
      else if (x < 0.1 && !inputs[i].d.udp && !inputs[i].d.ipv6) inputs[i] = { ...inputs[i], d: { ...inputs[i].d, ipOptions: [1, 1, 1, 0] } };
    }
  }
  const breaths: number[] = [];
  for (let n = 0; n < inputs.length; ) {
    const b = 1 + Math.floor(r() * 96);
    breaths.push(b);
    n += b;
  }
  return { inputs, breaths };
}

// ---- the checks ------------------------------------------------------------------------------

function flowKey(b: Uint8Array): string {
  const v6 = (b[12] === 0x86 && b[13] === 0xdd) || (b[16] === 0x86 && b[17] === 0xdd);
  const l3 = b[12] === 0x81 ? 18 : 14;
  const l4 = v6 ? l3 + 40 : l3 + ((b[l3] & 15) << 2);
  return `${Buffer.from(b.subarray(v6 ? l3 + 8 : l3 + 12, v6 ? l3 + 40 : l3 + 20)).toString('hex')}:${(b[l4] << 8) | b[l4 + 1]}`;
}

function payloadOf(b: Uint8Array): Uint8Array {
  const v6 = (b[12] === 0x86 && b[13] === 0xdd) || (b[16] === 0x86 && b[17] === 0xdd);
  const l3 = b[12] === 0x81 ? 18 : 14;
  const proto = v6 ? b[l3 + 6] : b[l3 + 9];
  const l4 = v6 ? l3 + 40 : l3 + ((b[l3] & 15) << 2);
  const end = v6 ? l3 + 40 + ((b[l3 + 4] << 8) | b[l3 + 5]) : l3 + ((b[l3 + 2] << 8) | b[l3 + 3]);
  return b.subarray(proto === 17 ? l4 + 8 : l4 + ((b[l4 + 12] >> 4) << 2), end);
}

function streamsOf(frames: Uint8Array[]): Map<string, Buffer> {
  const m = new Map<string, Buffer[]>();
  for (const f of frames) {
    const k = flowKey(f);
    if (!m.has(k)) m.set(k, []);
    m.get(k)!.push(Buffer.from(payloadOf(f)));
  }
  return new Map([...m].map(([k, v]) => [k, Buffer.concat(v)]));
}

/**
 * The outputs equal the reference's, header for header and byte for byte; at least
 * `minSupers` super-frames; every input frame left once (delivered, or released after its
 * bytes were merged or gathered).
 */
function expectReference(host: Host, inputs: In[], breaths: number[], minSupers: number): void {
  const want = reference(inputs, breaths);
  expect(host.out.length).toBe(want.length);
  host.out.forEach((o, i) => {
    const w = want[i];
    expect({ ...o, bytes: undefined }, `output ${i}`).toEqual({ ...w, bytes: undefined });
    expect(Buffer.from(o.bytes).equals(Buffer.from(w.bytes)), `output ${i} bytes`).toBe(true);
  });
  const supers = host.out.filter((o) => o.gsoType !== VIRTIO_NET_HDR_GSO_NONE).length;
  expect(supers).toBeGreaterThan(minSupers); // it did coalesce
  const small = [...host.handlesOut, ...host.released].filter((h) => h >= 0 && h < SMALL);
  expect(small.length).toBe(inputs.length);
}

describe('GRO (tcp_gro_receive)', () => {
  const scenarios: [string, number, number, number, boolean][] = [
    ['in-order bulk flows', 1, 3, 200, false],
    ['mixed flows beyond the table (12 flows, 8 slots)', 2, 12, 80, false],
    ['reordering, loss, duplicates, out-of-window, bad checksums, padding, IP options, CWR/URG, window changes', 3, 6, 250, true],
    ['the same chaos, another seed', 4, 10, 150, true],
  ];
  for (const [name, seed, nFlows, perFlow, chaos] of scenarios) {
    for (const gather of [false, true]) {
      it(`${name}${gather ? ', gathered into the destination' : ''}: byte for byte and header for header as the reference`, () => {
        const { inputs, breaths } = traffic(seed, nFlows, perFlow, chaos);
        const host = coalesce(inputs, breaths, 8, gather);
        expectReference(host, inputs, breaths, chaos ? 20 : 50);
        // Every frame still holds what was written into it: a frame leaves GRO as it came
        // (gathered, the first segment's headers are completed for the copy and put back).
        expect(inputs.length).toBeLessThan(SMALL);
        inputs.forEach((x, k) => {
          const f = build(x.d);
          expect(Buffer.from(host.bytes.subarray(k * FRAME + 256, k * FRAME + 256 + f.length)).equals(Buffer.from(f)), `frame ${k}`).toBe(true);
        });
      });
    }

    it(`${name}: every payload byte once, in the order it came; GSO of each super-frame gives back its segments`, () => {
      const { inputs, breaths } = traffic(seed, nFlows, perFlow, chaos);
      const host = coalesce(inputs, breaths);
      const sent = streamsOf(inputs.map((x) => build(x.d)));
      const got = streamsOf(host.out.map((o) => o.bytes));
      expect([...got.keys()].sort()).toEqual([...sent.keys()].sort());
      for (const [k, v] of sent) expect(got.get(k)!.equals(v), `flow ${k}`).toBe(true);
      // Cut every super-frame back: the segments that went in, byte for byte (IPv4 ids,
      // lengths, seq, flags and checksums as sent), in order.
      const plan = new GsoPlan();
      const back: Uint8Array[] = [];
      const buf = new Uint8Array(65536);
      for (const o of host.out) {
        if (o.gsoType === VIRTIO_NET_HDR_GSO_NONE) {
          const c = o.bytes.slice();
          if (o.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) expect(completeChecksum(c, 0, c.length, o.csumStart, o.csumOffset)).toBe(true);
          back.push(c);
          continue;
        }
        const n = gsoPrepare(plan, o.bytes, 0, o.bytes.length, o.gsoType, o.gsoSize);
        for (let i = 0; i < n; i++) back.push(buf.slice(0, gsoWriteSegment(plan, i, buf, 0)));
      }
      // Per flow, in order: what went in. A NEEDS_CSUM input comes back with its checksum
      // completed, and a fixed-id input with incrementing ids (GSO for TCPV4 increments, as
      // Linux's does without FIXEDID): both compared with those fields set the same.
      const byFlow = (frames: Uint8Array[]) => {
        const m = new Map<string, Buffer[]>();
        for (const f of frames) {
          const k = flowKey(f);
          if (!m.has(k)) m.set(k, []);
          m.get(k)!.push(Buffer.from(f));
        }
        return m;
      };
      const norm = (f: Buffer) => {
        const c = Buffer.from(f);
        const l3 = c[12] === 0x81 ? 18 : 14;
        if (c[l3] >> 4 === 4) for (const o of [l3 + 4, l3 + 5, l3 + 10, l3 + 11]) c[o] = 0;
        return c;
      };
      const sentBack = byFlow(inputs.map((x) => build({ ...x.d, csumField: undefined })));
      const gotBack = byFlow(back);
      for (const [k, segs] of sentBack) {
        const g = gotBack.get(k)!;
        expect(g.length, `flow ${k} segments`).toBe(segs.length);
        segs.forEach((sg, i) => {
          const same = g[i].equals(sg) || norm(g[i]).equals(norm(sg));
          if (!same) console.log(k, i, g[i].length, sg.length, [...g[i]].map((x, j) => (x !== sg[j] ? `${j}:${x}/${sg[j]}` : "")).filter(Boolean).slice(0, 10).join(" "));
          expect(same, `flow ${k} segment ${i} after GRO then GSO`).toBe(true);
        });
      }
    });
  }

  for (const gather of [false, true]) {
    it(`a flow of more segments than are deferred (${GRO_DEFER_SEGMENTS}) in one breath${gather ? ', gathered' : ''}: copied on from there, as the reference`, () => {
      // Flow 3 of traffic() sends 536-byte segments: 122 fit a super-frame.
      const { inputs } = traffic(6, 4, 400, false);
      const one = inputs.filter((x) => x.flow === 3);
      expect(one.length).toBeGreaterThan(300);
      expectReference(coalesce(one, [one.length], 8, gather), one, [one.length], 1);
    });
  }

  it('a full super-frame pool merges nothing and loses nothing', () => {
    const { inputs, breaths } = traffic(5, 4, 100, false);
    const host = new Host();
    (host as unknown as { freeSupers: number[] }).freeSupers = [];
    const gro = new Gro(host);
    const came = new VnetHdr();
    for (let k = 0; k < inputs.length; k++) {
      const f = build(inputs[k].d);
      host.bytes.set(f, k * FRAME + 256);
      came.clear();
      came.flags = VIRTIO_NET_HDR_F_DATA_VALID;
      gro.receive(k, k * FRAME + 256, f.length, came);
      if (k % 50 === 49) gro.flush();
    }
    gro.flush();
    expect(breaths.length).toBeGreaterThan(0);
    expect(host.out.length).toBe(inputs.length);
    expect(gro.noBuffer).toBeGreaterThan(0);
    // Nothing merged: every frame leaves as it came (in flow order; flows interleave differently).
    const sent = inputs.map((x) => Buffer.from(build(x.d)).toString('hex')).sort();
    const got = host.out.map((o) => Buffer.from(o.bytes).toString('hex')).sort();
    expect(got).toEqual(sent);
    expect(host.out.every((o) => o.gsoType === VIRTIO_NET_HDR_GSO_NONE)).toBe(true);
  });
});

describe('GRO on the data path', () => {
  it('receives, merges and delivers without allocating', () => {
    // A host that keeps nothing: the frames are refilled in place every round.
    const { inputs } = traffic(6, 4, 64, false);
    const frames = inputs.map((x) => build(x.d));
    const bytes = new Uint8Array(new SharedArrayBuffer(SMALL * FRAME + 8 * 65792));
    let supers = 0;
    let delivered = 0;
    const host: GroHost = {
      bytes,
      superFrameBytes: 65535,
      allocSuper: () => SMALL + (supers++ & 7),
      superOffset: (h) => SMALL * FRAME + (h - SMALL) * 65792 + 256,
      deliver: () => void delivered++,
      release: () => undefined,
    };
    const gro = new Gro(host);
    const came = new VnetHdr();
    came.flags = VIRTIO_NET_HDR_F_DATA_VALID;
    frames.forEach((f, k) => bytes.set(f, k * FRAME + 256));
    const round = () => {
      for (let k = 0; k < frames.length; k++) {
        bytes[k * FRAME + 256] = frames[k][0]; // touch, as a device would rewrite the frame
        gro.receive(k, k * FRAME + 256, frames[k].length, came);
        if ((k & 63) === 63) gro.flush();
      }
      gro.flush();
    };
    for (let i = 0; i < 200; i++) round();
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < 200; i++) round();
      best = Math.min(best, process.memoryUsage().heapUsed - before);
    }
    expect(gro.merged).toBeGreaterThan(0);
    expect(delivered).toBeGreaterThan(0);
    // 200 rounds × 256 segments: 16 bytes each would be 800 KB.
    expect(best).toBeLessThan(64 * 1024);
  });
});

describeNeeding(missing({ tools: ['tshark'] }), 'tests that need tshark (Debian packages tshark, tcpdump)')('tshark checks the super-frames', () => {
  it('checksums completed from the NEEDS_CSUM seed are good; IP lengths are right', () => {
    const { inputs, breaths } = traffic(1, 3, 200, false);
    const host = coalesce(inputs, breaths);
    const supers = host.out.filter((o) => o.gsoType !== VIRTIO_NET_HDR_GSO_NONE);
    for (const o of supers) expect(completeChecksum(o.bytes, 0, o.bytes.length, o.csumStart, o.csumOffset)).toBe(true);
    const file = tmp.file('gro.pcap');
    writeFileSync(file, pcapFile(supers.map((o) => o.bytes)));
    const out = run('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=|', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'tcp.len', '-e', 'frame.len']);
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    expect(rows.length).toBe(supers.length);
    rows.forEach(([ip, tcp, tcpLen], i) => {
      if (supers[i].bytes[12] === 0x08 || supers[i].bytes[16] === 0x08) expect(ip, `super-frame ${i} ip`).toBe('1');
      expect(tcp, `super-frame ${i} tcp`).toBe('1');
      expect(Number(tcpLen)).toBe(supers[i].bytes.length - supers[i].hdrLen);
    });
  });
});
