/**
 * Running a program outside the switch (offline runs, tests, benchmarks): load it as the
 * switch does (programs/loader.ts: parameters validated, maps created, setup() run), then
 * build the verdict function with a clock of the caller's choosing, and feed it packets
 * through one reusable XdpContext over a small frame area.
 */
import { XdpContext } from '../context.js';
import { importProgram, loadProgram, type LoadedProgram } from '../loader.js';
import { openMap, type XdpMap } from '../maps/index.js';
import type { PortInfo, ProgramEnv, XdpProgram } from '../program.js';
import { FrameArea, XDP_PACKET_HEADROOM } from '../../queues/frames.js';

export interface OfflineEnv {
  queue: number;
  queues: number;
  ports: PortInfo[];
  now?: () => number;
  log?: (m: string) => void;
}

/** Ports p1…pN with ifindex 1…N, for runs that have no switch configuration. */
export function defaultPorts(n: number): PortInfo[] {
  return Array.from({ length: n }, (_, i) => ({ name: `p${i + 1}`, ifindex: i + 1 }));
}

export async function load(name: string, params: Record<string, unknown>, opts: { queues: number; ports: PortInfo[]; baseDir?: string }): Promise<LoadedProgram> {
  return loadProgram({ name, params }, { baseDir: opts.baseDir ?? process.cwd(), queues: opts.queues, ports: opts.ports });
}

export interface Instance {
  prog: XdpProgram;
  maps: Record<string, XdpMap>;
}

/** Builds the verdict function in this thread, with env.now when given. */
export async function instantiateOffline(lp: LoadedProgram, env: OfflineEnv): Promise<Instance> {
  const m = await importProgram(lp.specifier);
  const maps: Record<string, XdpMap> = {};
  for (const [name, shared] of Object.entries(lp.maps)) maps[name] = openMap(shared, Math.max(0, env.queue));
  const penv: ProgramEnv = { params: lp.params, maps, queue: env.queue, queues: env.queues, ports: env.ports, log: env.log ?? (() => {}), now: env.now };
  return { prog: m.create(penv), maps };
}

/**
 * One frame and one context: load(bytes) copies a packet in at the standard headroom and
 * points the context at it, as a queue worker's ctx.load(desc) does.
 */
export class PacketSlot {
  readonly area: FrameArea;
  readonly ctx: XdpContext;

  constructor(portCount: number, frameSize = 2048) {
    this.area = FrameArea.create(1, frameSize);
    this.ctx = new XdpContext(frameSize, portCount, this.area.frameViews(), this.area.frameDataViews());
    this.ctx.point(0);
  }

  /** Copies `bytes` in; false when they do not fit the frame. */
  load(bytes: Uint8Array, ingressIfindex: number, queue = 0, hash = 0): boolean {
    const ctx = this.ctx;
    if (bytes.length > this.area.frameSize - XDP_PACKET_HEADROOM) return false;
    ctx.packet.set(bytes, XDP_PACKET_HEADROOM);
    ctx.data = ctx.dataMeta = XDP_PACKET_HEADROOM;
    ctx.dataEnd = XDP_PACKET_HEADROOM + bytes.length;
    ctx.ingressIfindex = ingressIfindex;
    ctx.rxQueueIndex = queue;
    ctx.hash = hash;
    ctx.redirectKind = 0;
    ctx.redirectIndex = 0;
    return true;
  }

  /** The packet as the program left it (a copy). */
  bytes(): Uint8Array {
    return this.ctx.packet.slice(this.ctx.data, this.ctx.dataEnd);
  }
}
