/**
 * What a program module is.
 *
 * A module's default export is a ProgramModule: it declares its parameters and maps, and
 * create() builds the verdict function for one queue. The loader (loader.ts) validates the
 * parameters and creates the maps in shared memory in the main thread, before any worker
 * runs the program — as libbpf creates an ELF's `.maps` before attaching — then each
 * queue worker imports the module and calls create() with the same maps attached.
 *
 *   export default defineProgram({
 *     name: 'count-udp',
 *     params: { port: { type: 'number', default: 53, description: 'UDP port to count' } },
 *     maps: () => ({ hits: { type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 1 } }),
 *     create(env) { return (ctx) => XDP_PASS; },
 *   });
 */
import type { XdpContext } from './context.js';
import type { MapSpec, XdpMap } from './maps/index.js';

/** Returns a verdict (programs/verdicts.ts). Must not allocate per call. */
export type XdpProgram = (ctx: XdpContext) => number;

export type ParamType = 'number' | 'string' | 'boolean' | 'string[]' | 'number[]';

export interface ParamSpec {
  type: ParamType;
  default?: unknown;
  required?: boolean;
  description: string;
}

export type Params = Record<string, unknown>;

export interface PortInfo {
  name: string;
  ifindex: number;
}

export interface ProgramEnv {
  /** Validated parameters, defaults filled in. */
  params: Params;
  /** The maps the module declared, attached in this thread. */
  maps: Record<string, XdpMap>;
  /** The RX queue this instance runs on (-1 outside a queue, e.g. offline runs). */
  queue: number;
  /** Number of queues in the switch. */
  queues: number;
  ports: PortInfo[];
  /** Reports an event to the main thread's log (not for per-packet use). */
  log(message: string): void;
  /**
   * Monotonic clock in nanoseconds (bpf_ktime_get_ns). Absent in the live switch, where a
   * program reads performance.now() itself (sparingly: it costs tens of ns); offline runs
   * supply the capture's timestamps so time-dependent programs replay deterministically.
   */
  now?: () => number;
}

/** What setup() gets: the maps attached in the main thread, before any queue runs. */
export interface SetupEnv {
  params: Params;
  maps: Record<string, XdpMap>;
  /** The switch's ports, when the loader knows them (may be empty). */
  ports: PortInfo[];
}

export interface ProgramModule {
  name: string;
  description: string;
  params?: Record<string, ParamSpec>;
  /** The maps to create, given the validated parameters. */
  maps?: (params: Params) => Record<string, MapSpec>;
  /**
   * Fills the maps from the parameters (routes, blocklists), once, in the main thread,
   * after the maps are created and before any queue runs the program. Not called again
   * when a worker restarts, so control-plane edits to the maps are kept.
   */
  setup?(env: SetupEnv): void;
  /**
   * True: the program takes a GSO super-frame (up to 64 KB, one packet of many segments)
   * whole, as an XDP program loaded with BPF_F_XDP_HAS_FRAGS takes multi-buffer frames. Only
   * for programs that read headers and do not care how much payload follows (l2 forwarding,
   * steering): `ctx.dataEnd − ctx.data` may then exceed an MTU. Without it (the default) a
   * super-frame is cut into segments before the program runs, so it sees what a NIC
   * without TSO would have carried. A chain takes super-frames only when all its programs do.
   */
  frags?: boolean;
  create(env: ProgramEnv): XdpProgram;
}

export function defineProgram(m: ProgramModule): ProgramModule {
  return m;
}
