/**
 * Device-level fuzzing of the virtio-net device: a hostile guest, written here by hand
 * against the transport and the rings, posts random and half-valid descriptor chains on
 * split or packed rings, 1 or 2 queue pairs, with MRG_RXBUF and EVENT_IDX on or off, and
 * the device is polled and sent frames between. After every device call the guest memory
 * is compared with a copy taken before it, and every byte that changed must be one the
 * device may write:
 *
 *   - a used-ring field of a live queue (split: the used ring; packed: bytes 8–15 of a
 *     ring descriptor, or the device event structure);
 *   - for a frame the device says it delivered: inside the first used.len bytes of the
 *     writable buffers of a chain it returned, found by this file's own chain walker
 *     over the memory as it was before the call (a reference reading, not the device's);
 *   - for a frame it dropped after writing part of it (MRG_RXBUF running out of buffers):
 *     inside some writable descriptor the guest posted.
 *
 * Every buffer sits in its own slot with a guard area after it, and everything outside
 * the slots is a guard too, so a stray write shows as a changed guard byte. The checker
 * also reads each delivered frame back (header, num_buffers, every data byte), checks
 * used.len on both queues (TX entries 0, RX entries summing to header + frame), and that
 * every chain and frame lands in exactly one counter.
 *
 * A "crash" is anything that breaks these rules, or an exception out of the device.
 * Nothing here is imported by the product; the test (test/switch/endpoints/virtio/fuzz.test.ts) runs a few
 * thousand rounds per configuration, `npm run bench -- fuzz` runs 100,000.
 */
import { GuestMemory } from '../../queues/virtqueue-memory.js';
import { VirtioNetDevice } from '../../switch/endpoints/virtio-net-device.js';
import * as T from '../../queues/virtio-transport.js';
import * as V from '../../queues/virtqueue.js';
import { PACKED_DESC_F_AVAIL, PACKED_DESC_F_USED, packedLayout } from '../../queues/virtqueue-packed.js';

export interface FuzzConfig {
  packed: boolean;
  pairs: number;
  mrg: boolean;
  eventIdx: boolean;
}

export interface FuzzResult {
  config: string;
  rounds: number;
  /** Rounds that broke a rule or threw (target 0). */
  crashes: number;
  /** The first one, with its seed and round so it can be replayed. */
  firstCrash: string | null;
  /** Coverage, so a run that exercises only one outcome is visible. */
  stats: {
    framesFromGuest: number;
    framesToGuest: number;
    mergedFrames: number;
    indirectRx: number;
    needsReset: number;
    transmits: number;
  };
}

/** Every combination: split/packed × 1/2 pairs × MRG_RXBUF × EVENT_IDX. */
export function fuzzConfigs(): FuzzConfig[] {
  const out: FuzzConfig[] = [];
  for (const packed of [false, true])
    for (const pairs of [1, 2])
      for (const mrg of [false, true])
        for (const eventIdx of [false, true]) out.push({ packed, pairs, mrg, eventIdx });
  return out;
}

export function configName(c: FuzzConfig): string {
  return `${c.packed ? 'packed' : 'split'} ${c.pairs}qp${c.mrg ? ' mrg' : ''}${c.eventIdx ? ' event-idx' : ''}`;
}

/** mulberry32: a small seeded generator, so a failing round can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ── guest memory map ─────────────────────────────────────────────────────────
const MEM = 0x20000;
const Q = 16;
/** Queue q's rings at QBASE(q) (one 4 KiB page each; queues 0–3). */
const QBASE = (q: number) => 0x1000 * (1 + q);
/** Indirect tables: 32 of 16 entries, read-only for the device. */
const TABLES = 0x6000;
const TABLE_COUNT = 32;
/** Buffer slots: SLOT_BUF bytes of buffer, then a guard up to the next slot. */
const BUFFERS = 0x8000;
const SLOT = 0x900;
const SLOT_BUF = 0x800;
const SLOTS = 32;
const BUFFERS_END = BUFFERS + SLOT * SLOTS; // 0x1a000; a guard to MEM after it
const HDR = V.NET_HDR_BYTES;
const { VIRTQ_DESC_F_NEXT: NEXT, VIRTQ_DESC_F_WRITE: WRITE, VIRTQ_DESC_F_INDIRECT: INDIRECT } = V;
const AV = PACKED_DESC_F_AVAIL;
const US = PACKED_DESC_F_USED;

class Violation extends Error {}

interface Seg {
  addr: number;
  /** Address bits 32–63 (a valid buffer has 0). */
  hi: number;
  len: number;
  write: boolean;
}
interface Chain {
  segs: Seg[];
  /** Ring descriptors the chain takes (packed: how far the used position moves). */
  count: number;
  /** Packed: the buffer id (in the chain's last descriptor). */
  id: number;
  indirect: boolean;
}

export function fuzzVirtio(cfg: FuzzConfig, seed: number, rounds: number): FuzzResult {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const name = configName(cfg);
  const dev = new VirtioNetDevice({ mac: '52:54:00:00:00:0f', maxPairs: cfg.pairs + 1, maxQueueSize: 256 });
  const mem = GuestMemory.create(MEM);
  const bytes = Buffer.from(mem.sab);
  const before = Buffer.alloc(MEM);
  const now32 = new Int32Array(mem.sab);
  const was32 = new Int32Array(before.buffer, before.byteOffset, MEM >> 2);
  const dv = mem.view;
  const transport = T.createTransport();
  const t = new Int32Array(transport);
  const err = dev.attach(mem.sab, transport);
  if (err !== null) throw new Error(err);
  const nq = 2 * cfg.pairs;
  const layouts = Array.from({ length: nq }, (_, q) => (cfg.packed ? packedLayout(QBASE(q), Q) : V.contiguousLayout(QBASE(q), Q)));

  // Guest-side state per queue (reset at each bring-up).
  const availIdx = new Array<number>(nq).fill(0); // split: next avail idx; packed: next position
  const availWrap = new Array<number>(nq).fill(1);
  const usedShadow = new Array<number>(nq).fill(0); // split: next used idx expected; packed: next used position
  const usedWrap = new Array<number>(nq).fill(1);
  let indirectNegotiated = false;
  let live = false;
  let slotCursor = 0;

  const frame = new Uint8Array(12000);
  for (let i = 0; i < frame.length; i++) frame[i] = (i * 7 + (i >> 8)) & 0xff;
  let framesIn = 0;
  const sink = {
    receive: (src: Uint8Array, off: number, len: number) => {
      if (off < 0 || len < 14 || off + len > src.length) throw new Violation(`the device handed the switch a frame [${off}, +${len}) outside its ${src.length}-byte area`);
      if (len > 65536) throw new Violation(`the device handed the switch a ${len}-byte frame (over 64 KiB is tx_drop_oversize)`);
      framesIn++;
      return true;
    },
  };
  const stats = { framesFromGuest: 0, framesToGuest: 0, mergedFrames: 0, indirectRx: 0, needsReset: 0, transmits: 0 };

  // ── the guest's side of the transport ──────────────────────────────────────
  const status = (v: number): number => {
    t[T.kStatusReq] = v;
    Atomics.add(t, T.kReqSeq, 1);
    dev.poll(0, sink);
    return t[T.kStatus];
  };
  const up = () => {
    bytes.fill(0, 0, TABLES); // rings
    availIdx.fill(0);
    availWrap.fill(1);
    usedShadow.fill(0);
    usedWrap.fill(1);
    status(0);
    status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER);
    indirectNegotiated = r() < 0.8;
    const feats = [V.VIRTIO_F_VERSION_1];
    if (indirectNegotiated) feats.push(V.VIRTIO_RING_F_INDIRECT_DESC);
    if (cfg.mrg) feats.push(V.VIRTIO_NET_F_MRG_RXBUF);
    if (cfg.eventIdx) feats.push(V.VIRTIO_RING_F_EVENT_IDX);
    if (cfg.packed) feats.push(V.VIRTIO_F_RING_PACKED);
    if (cfg.pairs > 1) feats.push(V.VIRTIO_NET_F_MQ);
    const [lo, hi] = V.featureWords(feats);
    t[T.kDriverFeaturesLo] = lo | 0;
    t[T.kDriverFeaturesHi] = hi | 0;
    t[T.kPairs] = cfg.pairs;
    status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER | V.STATUS_FEATURES_OK);
    layouts.forEach((l, q) => {
      t[T.queueWord(q, T.QSIZE)] = l.size;
      t[T.queueWord(q, T.QDESC)] = l.desc;
      t[T.queueWord(q, T.QDRIVER)] = l.avail;
      t[T.queueWord(q, T.QDEVICE)] = l.used;
      t[T.queueWord(q, T.QREADY)] = 1;
    });
    const s = status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER | V.STATUS_FEATURES_OK | V.STATUS_DRIVER_OK);
    live = (s & V.STATUS_DRIVER_OK) !== 0 && (s & V.STATUS_DEVICE_NEEDS_RESET) === 0;
    if (!live) throw new Violation(`bring-up refused (status 0x${s.toString(16)})`);
  };

  // ── descriptors ────────────────────────────────────────────────────────────
  const writeDesc = (at: number, addr: number, hi: number, len: number, a: number, b: number) => {
    // split: a = flags, b = next; packed: a = id, b = flags (same byte offsets 12 and 14)
    dv.setUint32(at, addr >>> 0, true);
    dv.setUint32(at + 4, hi >>> 0, true);
    dv.setUint32(at + 8, len >>> 0, true);
    dv.setUint16(at + 12, a & 0xffff, true);
    dv.setUint16(at + 14, b & 0xffff, true);
  };
  /** A fresh slot: nothing else posted recently points there. */
  const slot = () => BUFFERS + SLOT * (slotCursor++ % SLOTS);
  /** A writable buffer: mostly a slot; sometimes anywhere in the buffer area, past memory, or above 4 GiB. */
  const writableBuf = (len: number): [number, number, number] => {
    const k = r();
    if (k < 0.9) return [slot(), 0, Math.min(len, SLOT_BUF)];
    if (k < 0.95) return [BUFFERS + int(MEM - BUFFERS), 0, len]; // wild: may cover guards, may run past memory
    if (k < 0.98) return [MEM - int(64), 0, len];
    return [slot(), 1 + int(3), len];
  };
  /** A readable buffer: anywhere at all, or out of memory. */
  const readableAddr = (len: number): [number, number] => {
    const k = r();
    if (k < 0.6) return [BUFFERS + int(Math.max(1, MEM - BUFFERS - len)), 0];
    if (k < 0.8) return [int(BUFFERS), 0];
    if (k < 0.9) return [MEM - int(64), 0];
    return [int(0x100000000), r() < 0.5 ? 0 : 1];
  };
  const randomFlags = () => {
    let f = int(8);
    if (r() < 0.05) f |= int(0x10000);
    return f;
  };
  /**
   * One descriptor of pure garbage (writable ones still only into the buffer area or past
   * memory). In a table entry INDIRECT does not make it a table: a packed ring ignores the
   * flag there (virtio 1.2 §2.8.7), so a WRITE entry is a writable buffer whatever else is set
   * (in a split table INDIRECT is nested and refused; the split stream stays as it was).
   */
  const garbage = (at: number, packed: boolean, tableEntry = false) => {
    const f = randomFlags();
    const len = r() < 0.9 ? int(3000) : int(0x100000000);
    let addr: number;
    let hi = 0;
    if ((f & WRITE) !== 0 && ((f & INDIRECT) === 0 || (tableEntry && packed))) [addr, hi] = r() < 0.8 ? [BUFFERS + int(MEM - BUFFERS), 0] : [MEM + int(MEM), 0];
    else if ((f & INDIRECT) !== 0 && r() < 0.7) addr = TABLES + 256 * int(TABLE_COUNT);
    else [addr, hi] = readableAddr(len);
    const l = (f & INDIRECT) !== 0 && r() < 0.6 ? 16 * (1 + int(Q)) : len;
    if (packed) writeDesc(at, addr, hi, l, r() < 0.9 ? int(Q) : int(0x10000), (f & 7) | (r() < 0.5 ? AV : 0) | (r() < 0.3 ? US : 0));
    else writeDesc(at, addr, hi, l, f, r() < 0.9 ? int(Q + 2) : int(0x10000));
  };

  /** The segments of one posted chain: RX writable, TX a header + frame split up. */
  const chainSegs = (rx: boolean): [number, number, number][] => {
    const out: [number, number, number][] = [];
    if (rx) {
      const n = 1 + int(cfg.mrg && r() < 0.5 ? 3 : 2);
      for (let k = 0; k < n; k++) {
        const small = cfg.mrg && r() < 0.5;
        out.push(writableBuf(small ? 1 + int(300) : r() < 0.8 ? SLOT_BUF : 1 + int(SLOT_BUF)));
      }
    } else if (r() < 0.02) {
      // Over 64 KiB, in one buffer or header + data (readable: it may cover rings and tables).
      const big = 65536 + 1 + int(2000);
      if (r() < 0.5) out.push([int(0x2000), 0, HDR + big]);
      else out.push([int(0x2000), 0, HDR], [int(0x2000), 0, big]);
    } else {
      const total = r() < 0.1 ? int(HDR + 14) : HDR + 14 + int(1600);
      // Lay the header and frame out in a slot, then cut it into 1–3 readable pieces.
      const a = slot();
      const len = Math.min(total, SLOT_BUF);
      bytes.fill(0, a, a + Math.min(HDR, len));
      for (let k = HDR; k < len; k++) bytes[a + k] = (k * 13 + a) & 0xff;
      const cuts = int(3);
      let at = 0;
      for (let k = 0; k <= cuts; k++) {
        const piece = k === cuts ? len - at : int(len - at + 1);
        if (r() < 0.03) {
          const [ra, rh] = readableAddr(piece);
          out.push([ra, rh, piece]);
        } else out.push([a + at, 0, piece]);
        at += piece;
      }
    }
    return out;
  };

  /** Posts one half-valid chain on queue q (split: at head `head`; packed: at the guest's position). */
  const post = (q: number) => {
    const rx = q % 2 === 0;
    const l = layouts[q];
    const segs = chainSegs(rx);
    const indirect = r() < 0.25;
    const flagW = rx ? WRITE : 0;
    if (!cfg.packed) {
      const head = int(Q);
      if (indirect) {
        const table = TABLES + 256 * int(TABLE_COUNT);
        segs.forEach(([a, hi, len], k) => writeDesc(table + 16 * k, a, hi, len, flagW | (k < segs.length - 1 ? NEXT : 0), k + 1));
        writeDesc(l.desc + 16 * head, table, 0, 16 * segs.length, INDIRECT, 0);
      } else {
        // Chain through distinct descriptors starting at head.
        const used = new Set<number>([head]);
        const ids = [head];
        for (let k = 1; k < segs.length; k++) {
          let d = int(Q);
          while (used.has(d)) d = (d + 1) % Q;
          used.add(d);
          ids.push(d);
        }
        segs.forEach(([a, hi, len], k) => writeDesc(l.desc + 16 * ids[k], a, hi, len, flagW | (k < segs.length - 1 ? NEXT : 0), k < segs.length - 1 ? ids[k + 1] : 0));
      }
      const idx = availIdx[q];
      dv.setUint16(l.avail + 4 + 2 * (idx % Q), head, true);
      availIdx[q] = (idx + 1) & 0xffff;
      dv.setUint16(l.avail + 2, availIdx[q], true);
    } else {
      const bits = () => (availWrap[q] === 1 ? AV : US);
      const id = int(Q);
      const step = () => {
        availIdx[q] = (availIdx[q] + 1) % Q;
        if (availIdx[q] === 0) availWrap[q] ^= 1;
      };
      if (indirect) {
        // A packed indirect table: entries in order, NEXT ignored; the ring descriptor points at it.
        const table = TABLES + 256 * int(TABLE_COUNT);
        segs.forEach(([a, hi, len], k) => writeDesc(table + 16 * k, a, hi, len, 0, flagW));
        writeDesc(l.desc + 16 * availIdx[q], table, 0, 16 * segs.length, id, INDIRECT | bits());
        step();
      } else {
        segs.forEach(([a, hi, len], k) => {
          writeDesc(l.desc + 16 * availIdx[q], a, hi, len, id, flagW | (k < segs.length - 1 ? NEXT : 0) | bits());
          step();
        });
      }
    }
  };

  // ── the reference chain walker (reads `before`, the memory as the device found it) ──
  const rd32 = (a: number) => before.readUInt32LE(a);
  const rd16 = (a: number) => before.readUInt16LE(a);
  const inMem = (a: number, hi: number, len: number) => hi === 0 && a + len <= MEM;
  const walkSplit = (l: V.SplitLayout, head: number): Chain | string => {
    const segs: Seg[] = [];
    let d = head;
    for (let steps = 0; ; steps++) {
      if (d >= Q || steps > Q) return `chain from head ${head} leaves the table or loops`;
      const at = l.desc + 16 * d;
      const flags = rd16(at + 12);
      if ((flags & INDIRECT) !== 0) {
        const table = rd32(at);
        const n = rd32(at + 8) / 16;
        let k = 0;
        for (let tsteps = 0; ; tsteps++) {
          if (k >= n || tsteps > n) return `indirect chain from head ${head} leaves its table`;
          const e = table + 16 * k;
          const f = rd16(e + 12);
          segs.push({ addr: rd32(e), hi: rd32(e + 4), len: rd32(e + 8), write: (f & WRITE) !== 0 });
          if ((f & NEXT) === 0) break;
          k = rd16(e + 14);
        }
        return { segs, count: 1, id: head, indirect: true };
      }
      segs.push({ addr: rd32(at), hi: rd32(at + 4), len: rd32(at + 8), write: (flags & WRITE) !== 0 });
      if ((flags & NEXT) === 0) return { segs, count: 1, id: head, indirect: false };
      d = rd16(at + 14);
    }
  };
  const walkPacked = (l: V.SplitLayout, pos: number): Chain | string => {
    const segs: Seg[] = [];
    let i = pos;
    for (let count = 1; count <= Q; count++) {
      const at = l.desc + 16 * i;
      const flags = rd16(at + 14);
      const id = rd16(at + 12);
      if ((flags & INDIRECT) !== 0) {
        const table = rd32(at);
        for (let k = 0; k < rd32(at + 8) / 16; k++) {
          const e = table + 16 * k;
          segs.push({ addr: rd32(e), hi: rd32(e + 4), len: rd32(e + 8), write: (rd16(e + 14) & WRITE) !== 0 });
        }
        return { segs, count, id, indirect: true };
      }
      segs.push({ addr: rd32(at), hi: rd32(at + 4), len: rd32(at + 8), write: (flags & WRITE) !== 0 });
      if ((flags & NEXT) === 0) return { segs, count, id, indirect: false };
      i = (i + 1) % Q;
    }
    return `packed chain at ${pos} longer than the queue`;
  };

  // ── checks after each device call ──────────────────────────────────────────
  /** Bytes the device may write in this call, beyond the ring fields: allowedMask[a] === allowedGen. */
  const allowedMask = new Uint32Array(MEM);
  let allowedGen = 1;
  const allow = (from: number, to: number) => allowedMask.fill(allowedGen, from, to);
  const clearAllowed = () => allowedGen++;
  /** Ring queues whose used area may change in this call (bit per queue). */
  let ringMask = 0;
  /** Writes into any posted writable descriptor are allowed (a frame dropped midway). */
  let anyWritable = false;

  const ringField = (a: number): number => {
    // Which queue's device-writable field a lies in, or -1.
    for (let q = 0; q < nq; q++) {
      const l = layouts[q];
      if (cfg.packed) {
        if (a >= l.desc && a < l.desc + 16 * Q && (a - l.desc) % 16 >= 8) return q;
        if (a >= l.used && a < l.used + 4) return q;
      } else if (a >= l.used && a < l.used + V.usedRingBytes(Q)) return q;
    }
    return -1;
  };
  /** Any descriptor with WRITE in an RX table or an indirect table, as the guest left it: a byte mask, built when first needed in a round. */
  const writableMask = new Uint32Array(MEM);
  let writableGen = 0;
  let writableMaskBuilt = false;
  const postedWritable = (a: number): boolean => {
    if (!writableMaskBuilt) {
      writableMaskBuilt = true;
      writableGen++;
      const tables: [number, number][] = [[TABLES, TABLE_COUNT * 16]];
      for (let q = 0; q < nq; q += 2) tables.push([layouts[q].desc, Q]);
      for (const [base, n] of tables) {
        for (let k = 0; k < n; k++) {
          const e = base + 16 * k;
          const f = cfg.packed && base !== TABLES ? rd16(e + 14) : rd16(e + 12) | rd16(e + 14);
          if ((f & WRITE) === 0 || rd32(e + 4) !== 0) continue;
          // One that runs past memory is refused whole, so it never counts.
          const addr = rd32(e);
          const len = rd32(e + 8);
          if (addr + len <= MEM) writableMask.fill(writableGen, addr, addr + len);
        }
      }
    }
    return writableMask[a] === writableGen;
  };
  /** 4 KiB pages check() found changed, so accept() copies only those. */
  const dirtyPages: number[] = [];
  const checkByte = (what: string, a: number) => {
    const q = ringField(a);
    if (q >= 0) {
      if ((ringMask & (1 << q)) === 0) throw new Violation(`${what}: wrote queue ${q}'s used area at 0x${a.toString(16)} without cause`);
      return;
    }
    if (allowedMask[a] === allowedGen) return;
    if (anyWritable && a >= BUFFERS && postedWritable(a)) return;
    const where = a < TABLES ? 'a ring' : a < BUFFERS ? 'an indirect table' : a < BUFFERS_END && (a - BUFFERS) % SLOT < SLOT_BUF ? 'a buffer outside what used.len reports' : 'a guard area';
    throw new Violation(`${what}: wrote 0x${before[a].toString(16)}→0x${bytes[a].toString(16)} at 0x${a.toString(16)} (${where})`);
  };
  const check = (what: string) => {
    if (bytes.equals(before)) return;
    // Narrow down: one memcmp per 4 KiB, then words, then bytes.
    for (let p = 0; p < MEM; p += 4096) {
      if (bytes.compare(before, p, p + 4096, p, p + 4096) === 0) continue;
      dirtyPages.push(p);
      for (let w = p >> 2; w < (p + 4096) >> 2; w++) {
        if (now32[w] === was32[w]) continue;
        for (let a = 4 * w; a < 4 * w + 4; a++) if (bytes[a] !== before[a]) checkByte(what, a);
      }
    }
  };
  const accept = () => {
    for (const p of dirtyPages) before.set(bytes.subarray(p, p + 4096), p);
    dirtyPages.length = 0;
  };

  /** After a transmit that succeeded: the used entries it added, each chain, used.len, the frame read back. */
  const checkDelivered = (q: number, off: number, len: number) => {
    const l = layouts[q];
    const chainAt = (i: number): [Chain, number] => {
      let c: Chain | string;
      let ulen: number;
      if (!cfg.packed) {
        const e = l.used + 4 + 8 * ((usedShadow[q] + i) % Q);
        const id = bytes.readUInt32LE(e);
        ulen = bytes.readUInt32LE(e + 4);
        if (id >= Q) throw new Violation(`RX used id ${id} ≥ Q`);
        c = walkSplit(l, id);
      } else {
        const pos = usedShadow[q];
        const at = l.desc + 16 * pos;
        const f = bytes.readUInt16LE(at + 14);
        const want = usedWrap[q] === 1 ? AV | US : 0;
        if ((f & (AV | US)) !== want) throw new Violation(`packed RX used descriptor at ${pos} not marked used (flags 0x${f.toString(16)})`);
        ulen = bytes.readUInt32LE(at + 8);
        c = walkPacked(l, pos);
        if (typeof c !== 'string') {
          if (bytes.readUInt16LE(at + 12) !== c.id) throw new Violation(`packed RX used id ${bytes.readUInt16LE(at + 12)} is not the chain's id ${c.id}`);
          if ((f & WRITE) === 0) throw new Violation('packed RX used descriptor without WRITE though the device wrote');
          usedShadow[q] += c.count;
          if (usedShadow[q] >= Q) {
            usedShadow[q] -= Q;
            usedWrap[q] ^= 1;
          }
        }
      }
      if (typeof c === 'string') throw new Violation(`device returned a chain the guest never posted: ${c}`);
      if (c.segs.some((s) => !s.write)) throw new Violation('device wrote a frame into a chain with a readable buffer');
      if (c.segs.some((s) => !inMem(s.addr, s.hi, s.len))) throw new Violation('device used a chain with a buffer outside guest memory');
      const room = c.segs.reduce((n, s) => n + s.len, 0);
      if (ulen > room) throw new Violation(`used.len ${ulen} > the chain's ${room} writable bytes`);
      if (ulen === 0) throw new Violation('used.len 0 for a delivered frame');
      if (c.indirect) stats.indirectRx++;
      return [c, ulen];
    };
    let got = 0;
    const gather = (c: Chain, n: number) => {
      for (const s of c.segs) {
        const take = Math.min(s.len, n);
        allow(s.addr, s.addr + take);
        if (got + take > read.length) throw new Violation(`a delivered frame runs past ${read.length} bytes`);
        read.set(bytes.subarray(s.addr, s.addr + take), got);
        got += take;
        n -= take;
        if (n === 0) break;
      }
    };
    const [first, firstLen] = chainAt(0);
    gather(first, firstLen);
    if (got < HDR) throw new Violation(`first RX buffer used.len ${firstLen} < the ${HDR}-byte header`);
    const numBuffers = read[10] | (read[11] << 8);
    if (numBuffers < 1 || (!cfg.mrg && numBuffers !== 1)) throw new Violation(`num_buffers ${numBuffers}${cfg.mrg ? '' : ' without MRG_RXBUF'}`);
    let total = firstLen;
    const chains = [first];
    for (let i = 1; i < numBuffers; i++) {
      if (!cfg.packed && i >= Q) throw new Violation(`num_buffers ${numBuffers} > Q`);
      const [c, ulen] = chainAt(i);
      gather(c, ulen);
      chains.push(c);
      total += ulen;
    }
    if (!cfg.packed) usedShadow[q] = (usedShadow[q] + numBuffers) & 0xffff;
    if (total !== len + HDR) throw new Violation(`used.len sums to ${total}, the frame + header is ${len + HDR}`);
    if (numBuffers > 1) stats.mergedFrames++;
    // The frame read back, unless two of its buffers overlap (a wild guest may do that).
    const segs = chains.flatMap((c) => c.segs).sort((x, y) => x.addr - y.addr);
    const overlap = segs.some((s, i) => i > 0 && segs[i - 1].addr + segs[i - 1].len > s.addr);
    if (!overlap) {
      for (let k = 0; k < 10; k++) if (read[k] !== 0) throw new Violation(`header byte ${k} is ${read[k]}, not 0`);
      for (let k = 0; k < len; k++) {
        if (read[HDR + k] !== frame[off + k]) throw new Violation(`frame byte ${k} reads ${read[HDR + k]}, sent ${frame[off + k]}`);
      }
    }
  };

  const read = new Uint8Array(0x20000);

  /** TX used entries (split) carry len 0: the device writes nothing into a guest's TX buffers. */
  const checkTxUsed = () => {
    for (let q = 1; q < nq; q += 2) {
      const l = layouts[q];
      if (!cfg.packed) {
        for (let k = 0; k < Q; k++) {
          const e = l.used + 4 + 8 * k;
          if (bytes.compare(before, e, e + 8, e, e + 8) === 0) continue;
          if (bytes.readUInt32LE(e + 4) !== 0) throw new Violation(`TX used entry ${k} has len ${bytes.readUInt32LE(e + 4)}`);
          if (bytes.readUInt32LE(e) >= Q) throw new Violation(`TX used entry ${k} names head ${bytes.readUInt32LE(e)}`);
        }
      } else {
        for (let k = 0; k < Q; k++) {
          const e = l.desc + 16 * k;
          if (bytes.compare(before, e + 8, e + 16, e + 8, e + 16) === 0) continue;
          const f = bytes.readUInt16LE(e + 14);
          if (bytes.readUInt32LE(e + 8) !== 0 || (f & WRITE) !== 0) throw new Violation(`packed TX used descriptor ${k}: len ${bytes.readUInt32LE(e + 8)} flags 0x${f.toString(16)}`);
          if (((f & AV) !== 0) !== ((f & US) !== 0)) throw new Violation(`packed TX used descriptor ${k}: AVAIL and USED differ (0x${f.toString(16)})`);
        }
      }
    }
  };

  // ── rounds ─────────────────────────────────────────────────────────────────
  let crashes = 0;
  let firstCrash: string | null = null;
  bytes.fill(0xa5, BUFFERS, MEM);
  for (let round = 0; round < rounds; round++) {
    try {
      if (!dev.describe().live || round % 50 === 0 || r() < 0.01) up();
      // The guest's writes for this round.
      for (let k = 0, n = int(3); k < n; k++) {
        const q = int(nq);
        garbage(layouts[q].desc + 16 * int(Q), cfg.packed);
      }
      // Table entries in the ring's own format (packed: flags at byte 14), so a writable one still points only into the buffer area.
      for (let k = 0, n = int(4); k < n; k++) garbage(TABLES + 16 * int(TABLE_COUNT * 16), cfg.packed, true);
      for (let k = 0, n = int(4); k < n; k++) post(2 * int(cfg.pairs));
      for (let k = 0, n = int(3); k < n; k++) post(2 * int(cfg.pairs) + 1);
      if (!cfg.packed && r() < 0.05) {
        // A head or an index the rules forbid.
        const q = int(nq);
        const l = layouts[q];
        dv.setUint16(l.avail + 4 + 2 * (availIdx[q] % Q), r() < 0.5 ? int(0x10000) : int(Q), true);
        if (r() < 0.3) dv.setUint16(l.avail + 2, int(0x10000), true);
        else dv.setUint16(l.avail + 2, (availIdx[q] = (availIdx[q] + 1) & 0xffff), true);
      }
      // The guest's own writes and the bring-up are not the device's.
      before.set(bytes);
      dirtyPages.length = 0;
      // Descriptors and tables change only here, between rounds: the writable mask holds for the round.
      writableMaskBuilt = false;

      const c0 = dev.counters();
      let polled = 0;
      let roundFrames = 0;
      let sent = 0;
      let ok = 0;
      for (let k = 0; k < 3; k++) {
        clearAllowed();
        anyWritable = false;
        ringMask = 0;
        for (let q = 1; q < nq; q += 2) ringMask |= 1 << q; // TX used areas and event fields
        framesIn = 0;
        const n = dev.poll(1 + int(64), sink);
        polled += n;
        stats.framesFromGuest += framesIn;
        roundFrames += framesIn;
        check('poll');
        checkTxUsed();
        accept();
        for (let j = 0, m = 1 + int(4); j < m; j++) {
          const len = r() < 0.9 ? 14 + int(1600) : 14 + int(9000);
          const off = int(frame.length - len);
          const queue = int(4);
          const pair = queue % cfg.pairs;
          const rxq = 2 * pair;
          clearAllowed();
          ringMask = 1 << rxq;
          const s0 = usedShadow[rxq];
          const w0 = usedWrap[rxq];
          sent++;
          const delivered = dev.transmit(frame, off, len, queue);
          if (delivered) {
            ok++;
            stats.framesToGuest++;
            checkDelivered(rxq, off, len);
          } else {
            ringMask = 0; // a dropped frame adds no used entry
            anyWritable = cfg.mrg; // but may have filled buffers before it ran out
            if (usedShadow[rxq] !== s0 || usedWrap[rxq] !== w0) throw new Violation('dropped frame moved the used position');
          }
          check(`transmit #${j} (${len} bytes to queue ${queue}, ${delivered ? 'delivered' : 'dropped'})`);
          anyWritable = false;
          accept();
        }
        if (r() < 0.7) {
          ringMask = 0;
          for (let q = 0; q < nq; q += 2) ringMask |= 1 << q;
          dev.flush();
          check('flush');
          if (!cfg.packed && dev.describe().live) {
            for (let q = 0; q < nq; q += 2) {
              const idx = bytes.readUInt16LE(layouts[q].used + 2);
              if (idx !== usedShadow[q]) throw new Violation(`RX queue ${q}: used idx ${idx} after flush, ${usedShadow[q]} entries added`);
            }
          }
          accept();
        }
      }
      const c1 = dev.counters();
      const d = (k: string) => c1[k] - c0[k];
      stats.transmits += sent;
      if (d('needs_reset') > 0) stats.needsReset += d('needs_reset');
      // Every chain the device took is a frame or one drop counter; every frame sent is delivered or one drop.
      const txDrops = d('tx_drop_short') + d('tx_drop_oversize') + d('tx_drop_malformed');
      if (roundFrames + txDrops !== polled) throw new Violation(`the device took ${polled} chains: ${roundFrames} frames + ${txDrops} drops`);
      const rxDrops = d('rx_drop_malformed') + d('rx_drop_no_desc') + d('rx_drop_too_big') + d('rx_drop_not_ready');
      if (ok + rxDrops !== sent) throw new Violation(`${sent} frames sent to the guest, ${ok} delivered + ${rxDrops} dropped`);
    } catch (e) {
      crashes++;
      if (firstCrash === null) firstCrash = `${name} seed ${seed} round ${round}: ${e instanceof Violation ? '' : 'threw: '}${(e as Error).message}`;
      // Start over from a clean guest so one failure is not counted again each round.
      try {
        bytes.fill(0, 0, BUFFERS);
        bytes.fill(0xa5, BUFFERS, MEM);
        up();
      } catch {
        /* the next round tries again */
      }
    }
  }
  dev.detach();
  if (!frame.every((b, i) => b === ((i * 7 + (i >> 8)) & 0xff))) {
    crashes++;
    firstCrash ??= `${name} seed ${seed}: the device changed the switch's frame it was sending`;
  }
  return { config: name, rounds, crashes, firstCrash, stats };
}
