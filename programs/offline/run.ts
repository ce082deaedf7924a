/**
 * `xswitch prog run`: a program over a capture without a live switch, as
 * BPF_PROG_TEST_RUN / `bpftool prog run` do it — verdict counts, and every packet as the
 * program left it, with its verdict, in a pcapng file.
 *
 * Captures larger than one chunk run in parallel: chunks of `chunkSize` packets go to a
 * piscina pool (short independent tasks, which is what piscina is for), each worker with
 * its own instance of the program over the same shared maps, and the results are put back
 * in capture order. For a program whose verdicts do not depend on what earlier packets
 * left in its maps (router, redirect-map, ddos without rate limiting) the outcome is the
 * same as a sequential run — a test holds it to that. Programs that learn or count
 * per flow (l2switch, ddos rate limiting) see the packets in a different interleaving,
 * as a multi-queue switch would; use --workers 1 for an exact replay.
 */
import { availableParallelism } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Piscina } from 'piscina';
import { REDIRECT_BROADCAST, REDIRECT_CPU, REDIRECT_PORT, REDIRECT_XSK } from '../context.js';
import type { LoadedProgram } from '../loader.js';
import type { PortInfo } from '../program.js';
import { VERDICT_NAMES, XDP_REDIRECT } from '../verdicts.js';
import { createWriter, encodeComment, PacketMeta } from '../../lib/pcap/writer.js';
import { workerUrl } from '../../lib/worker-url.js';
import { XDP_PACKET_HEADROOM } from '../../queues/frames.js';
import { loadCapture, type SharedCapture } from './capture.js';
import { runChunk, type ChunkClock, type ChunkResult } from './chunk.js';
import { PacketSlot, defaultPorts, instantiateOffline, load } from './instance.js';
import type { ChunkTask } from './task.js';

export interface RunOptions {
  program: string;
  params: Record<string, unknown>;
  pcap: string;
  out?: string;
  /** Parallel workers (1 = sequential, in this thread). Default: available cores, at most 8. */
  workers?: number;
  chunkSize?: number;
  ports?: PortInfo[];
  /** ifindex the packets arrive on. */
  ingress?: number;
  queue?: number;
  queues?: number;
  frameSize?: number;
  baseDir?: string;
}

export interface RunSummary {
  program: string;
  file: string;
  packets: number;
  workers: number;
  chunks: number;
  seconds: number;
  /** By verdict name (ABORTED … REDIRECT; UNKNOWN for any other value). */
  verdicts: Record<string, number>;
  /** REDIRECT targets: `port <name>`, `xsk <id>`, `queue <q>`, `broadcast`. */
  redirects: Record<string, number>;
  oversize: number;
  thrown: number;
  firstError: string | null;
  out?: string;
  /** Per-packet verdicts and output (for tests and --json consumers that want them). */
  results: ChunkResult[];
}

export const DEFAULT_CHUNK = 16384;

function target(r: ChunkResult, k: number, ports: PortInfo[]): string {
  const i = r.redirectIndex[k];
  switch (r.redirectKinds[k]) {
    case REDIRECT_PORT:
      return `port ${ports[i]?.name ?? `#${i + 1}`}`;
    case REDIRECT_XSK:
      return `xsk ${i}`;
    case REDIRECT_CPU:
      return `queue ${i}`;
    case REDIRECT_BROADCAST:
      return 'broadcast';
    default:
      return 'none';
  }
}

export async function runOffline(o: RunOptions): Promise<RunSummary> {
  const ports = o.ports ?? defaultPorts(2);
  const queues = o.queues ?? 1;
  const queue = o.queue ?? 0;
  const ingress = o.ingress ?? 1;
  if (ingress < 1 || ingress > ports.length) throw new Error(`--ingress ${ingress}: ports have ifindex 1..${ports.length}`);
  if (queue < 0 || queue >= queues) throw new Error(`--queue ${queue}: queues are 0..${queues - 1}`);
  const frameSize = o.frameSize ?? 2048;
  const chunkSize = o.chunkSize ?? DEFAULT_CHUNK;
  if (!(chunkSize >= 1)) throw new Error(`chunk size ${chunkSize} must be at least 1`);
  const lp = await load(o.program, o.params, { queues, ports, baseDir: o.baseDir });
  const cap = loadCapture(o.pcap, 262144);
  const chunks = Math.max(1, Math.ceil(cap.count / chunkSize));
  const workers = Math.max(1, Math.min(o.workers ?? Math.min(8, availableParallelism()), chunks));
  const t0 = performance.now();
  const results = workers === 1 ? await sequential(lp, cap, ports, ingress, queue, queues, frameSize) : await parallel(lp, cap, ports, ingress, queue, queues, frameSize, chunkSize, workers);
  const seconds = (performance.now() - t0) / 1000;

  const summary: RunSummary = {
    program: lp.name,
    file: o.pcap,
    packets: cap.count,
    workers,
    chunks: workers === 1 ? 1 : chunks,
    seconds,
    verdicts: Object.fromEntries(VERDICT_NAMES.map((v) => [v, 0])),
    redirects: {},
    oversize: 0,
    thrown: 0,
    firstError: null,
    results,
  };
  for (const r of results) {
    summary.oversize += r.oversize;
    summary.thrown += r.thrown;
    summary.firstError ??= r.firstError;
    for (let k = 0; k < r.count; k++) {
      const v = r.verdicts[k];
      const name = v < VERDICT_NAMES.length ? VERDICT_NAMES[v] : 'UNKNOWN';
      summary.verdicts[name] = (summary.verdicts[name] ?? 0) + 1;
      if (v === XDP_REDIRECT) {
        const t = target(r, k, ports);
        summary.redirects[t] = (summary.redirects[t] ?? 0) + 1;
      }
    }
  }
  if (o.out) {
    writeOutput(o.out, cap, results, ports);
    summary.out = o.out;
  }
  return summary;
}

async function sequential(lp: LoadedProgram, cap: SharedCapture, ports: PortInfo[], ingress: number, queue: number, queues: number, frameSize: number): Promise<ChunkResult[]> {
  const clock: ChunkClock = { ns: 0 };
  const inst = await instantiateOffline(lp, { queue, queues, ports, now: () => clock.ns });
  return [runChunk(inst, new PacketSlot(ports.length, frameSize), clock, cap, 0, cap.count, ingress, queue)];
}

async function parallel(
  lp: LoadedProgram,
  cap: SharedCapture,
  ports: PortInfo[],
  ingress: number,
  queue: number,
  queues: number,
  frameSize: number,
  chunkSize: number,
  workers: number,
): Promise<ChunkResult[]> {
  const pool = new Piscina({ filename: workerUrl('programs/offline/task').href, minThreads: workers, maxThreads: workers, idleTimeout: 1000 });
  const runId = randomUUID();
  try {
    const tasks: Promise<ChunkResult>[] = [];
    for (let start = 0; start < cap.count; start += chunkSize) {
      const task: ChunkTask = { runId, program: lp, capture: cap, start, end: Math.min(cap.count, start + chunkSize), ingressIfindex: ingress, queue, queues, ports, frameSize };
      tasks.push(pool.run(task) as Promise<ChunkResult>);
    }
    return await Promise.all(tasks);
  } finally {
    await pool.destroy();
  }
}

/** pcapng, one interface per port; each packet with epb_verdict and a comment naming verdict and target. */
function writeOutput(file: string, cap: SharedCapture, results: ChunkResult[], ports: PortInfo[]): void {
  const w = createWriter(file, { format: 'pcapng', interfaces: ports.map((p) => p.name), snapLen: 262144 });
  const meta = new PacketMeta();
  const comments = new Map<string, Uint8Array>();
  const ts = new Float64Array(cap.tsNs);
  try {
    for (const r of results) {
      for (let k = 0; k < r.count; k++) {
        const v = r.verdicts[k];
        let text = v < VERDICT_NAMES.length ? `XDP_${VERDICT_NAMES[v]}` : `verdict ${v}`;
        if (v === XDP_REDIRECT) text += ` → ${target(r, k, ports)}`;
        let c = comments.get(text);
        if (c === undefined) comments.set(text, (c = encodeComment(text)));
        meta.verdict = v;
        meta.comment = c;
        meta.interfaceId = 0;
        const ns = cap.t0Nsec + ts[r.start + k];
        const carry = Math.floor(ns / 1e9);
        w.write(r.out, r.outOffsets[k], r.outLengths[k], cap.t0Sec + carry, Math.round(ns - carry * 1e9), r.outLengths[k], meta);
      }
    }
  } finally {
    w.close();
  }
}

/** Frame size minus headroom: the longest packet a run can hold. */
export function maxPacket(frameSize: number): number {
  return frameSize - XDP_PACKET_HEADROOM;
}
