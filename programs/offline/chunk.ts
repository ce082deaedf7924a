/**
 * The loop an offline run spends its time in: packets [start, end) of a shared capture
 * through one program instance, in order, each with its capture timestamp as the clock.
 * Sequential runs call it once over everything; parallel runs call it per chunk in
 * piscina workers (task.ts). Output: the packets as the program left them (concatenated),
 * their lengths, verdicts and redirect targets.
 */
import { REDIRECT_NONE } from '../context.js';
import { XDP_REDIRECT } from '../verdicts.js';
import type { SharedCapture } from './capture.js';
import type { Instance, PacketSlot } from './instance.js';

export interface ChunkResult {
  start: number;
  count: number;
  /** Output bytes, packet i at outOffsets[i]. */
  out: Uint8Array;
  outOffsets: Uint32Array;
  outLengths: Uint32Array;
  verdicts: Uint8Array;
  /** redirectKind (REDIRECT_*) and redirectIndex for REDIRECT verdicts; broadcast port bitmap in broadcast. */
  redirectKinds: Uint8Array;
  redirectIndex: Int32Array;
  /** Packets the frame could not hold (longer than frame size − headroom): verdict ABORTED. */
  oversize: number;
  /** Packets whose program threw: verdict ABORTED (bpf_prog_test_run reports the error). */
  thrown: number;
  firstError: string | null;
}

export interface ChunkClock {
  ns: number;
}

export function runChunk(
  inst: Instance,
  slot: PacketSlot,
  clock: ChunkClock,
  cap: SharedCapture,
  start: number,
  end: number,
  ingressIfindex: number,
  queue: number,
): ChunkResult {
  const data = new Uint8Array(cap.data);
  const offsets = new Uint32Array(cap.offsets);
  const lengths = new Uint32Array(cap.lengths);
  const ts = new Float64Array(cap.tsNs);
  const n = end - start;
  let total = 0;
  for (let i = start; i < end; i++) total += lengths[i] + 512; // room for adjustHead/adjustTail growth
  const out = new Uint8Array(total);
  const res: ChunkResult = {
    start,
    count: n,
    out,
    outOffsets: new Uint32Array(n),
    outLengths: new Uint32Array(n),
    verdicts: new Uint8Array(n),
    redirectKinds: new Uint8Array(n),
    redirectIndex: new Int32Array(n),
    oversize: 0,
    thrown: 0,
    firstError: null,
  };
  const ctx = slot.ctx;
  let at = 0;
  for (let k = 0; k < n; k++) {
    const i = start + k;
    const len = lengths[i];
    const pkt = data.subarray(offsets[i], offsets[i] + len);
    res.outOffsets[k] = at;
    if (!slot.load(pkt, ingressIfindex, queue)) {
      res.oversize++;
      res.verdicts[k] = 0;
      out.set(pkt, at);
      res.outLengths[k] = len;
      at += len + 512;
      continue;
    }
    clock.ns = ts[i];
    let v: number;
    try {
      v = inst.prog(ctx);
    } catch (e) {
      v = 0;
      res.thrown++;
      res.firstError ??= `packet ${i + 1}: ${(e as Error).message}`;
    }
    // Any other value is dropped with a warning in Linux (SPEC §5): report it as is.
    res.verdicts[k] = v >= 0 && v <= 255 ? v : 255;
    if (v === XDP_REDIRECT) {
      res.redirectKinds[k] = ctx.redirectKind;
      res.redirectIndex[k] = ctx.redirectIndex;
    } else res.redirectKinds[k] = REDIRECT_NONE;
    const outLen = ctx.dataEnd - ctx.data;
    out.set(ctx.packet.subarray(ctx.data, ctx.dataEnd), at);
    res.outLengths[k] = outLen;
    at += len + 512;
  }
  return res;
}
