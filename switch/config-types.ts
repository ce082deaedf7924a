/**
 * The switch's configuration as the supervisor takes it, after the YAML file has been
 * parsed and validated (daemon/config/). Every field here has its default filled in.
 */
import type { PortConfig } from './ports/port.js';
import type { Params } from '../programs/program.js';

export interface ProgramRef {
  /** A built-in program name (programs/builtin/<name>.ts) or a path to a module. */
  name: string;
  params: Params;
  /** Verdicts that continue to the next program of the chain (libxdp's chain_call_actions). */
  continueOn: string[];
}

export interface QueuePrograms {
  /** The queues this chain runs on. */
  queues: number[];
  chain: ProgramRef[];
}

/** What a queue runs when no entry of `programs` names it: pass every packet to the stack. */
export const DEFAULT_CHAIN: readonly ProgramRef[] = Object.freeze([Object.freeze({ name: 'pass', params: {}, continueOn: ['PASS'] })]);

/** The chain queue `q` runs under `programs` (the first entry naming it, else DEFAULT_CHAIN). */
export function chainOf(programs: readonly QueuePrograms[], q: number): ProgramRef[] {
  return programs.find((p) => p.queues.includes(q))?.chain ?? [...DEFAULT_CHAIN];
}

/** Whether `chain` is the default: `pass` alone, without parameters (its continueOn is moot: nothing follows it). */
export function isDefaultChain(chain: readonly ProgramRef[]): boolean {
  return chain.length === 1 && chain[0].name === 'pass' && Object.keys(chain[0].params).length === 0;
}

export interface SwitchConfig {
  /** Number of RX queues (channels, `ethtool -L combined N`), one worker thread each. */
  queues: number;
  /** Bytes per frame: 2048, 4096, or 16384 for MTU 9000 jumbo frames. */
  frameSize: number;
  /** Frames in each port's pool. */
  poolFrames: number;
  /**
   * Super-frames (64 KB + headroom, for GRO towards VMs that take GSO) in each pool; 0 or
   * absent: none, and no GRO. 16 is plenty for one breath of 8 flows per egress port.
   */
  superFrames?: number;
  /** Entries in every rx and tx ring (a power of two). */
  ringSize: number;
  /** Descriptors a queue worker takes per breath (NAPI weight). */
  budget: number;
  /**
   * Threads that may spin: the switch runs at most this many queue workers (more queues
   * share them, as a CPU polls several NIC queues). Default: the cores available to the
   * process (os.availableParallelism()).
   */
  cpus?: number;
  /**
   * Microseconds a queue worker keeps polling after its last packet before it sleeps
   * (Linux's net.core.busy_poll; DPDK polls always). 0 (default): it polls SPIN_MS (200 µs)
   * after any breath, then naps and sleeps: an idle switch costs ~1% of a core, and the first
   * packet after a quiet spell pays a wake-up (~0.2 ms on a VM whose idle vCPU halts). A
   * window of tens of milliseconds keeps sparse traffic (a ping every 20 ms) off that path,
   * at a core per worker while packets keep coming.
   */
  busyPoll?: number;
  ports: PortConfig[];
  /** Program chains; queues with no chain run DEFAULT_CHAIN. */
  programs: QueuePrograms[];
  /** Flow-steering file (ethtool -N/-X/-L lines naming ports); absent: flow-hash spread. */
  steering?: string;
  /** Where the configuration came from (for messages and relative paths). */
  source?: string;
}

export const CONFIG_DEFAULTS = {
  queues: 1,
  frameSize: 2048,
  poolFrames: 8192,
  ringSize: 2048,
  budget: 64,
} as const;
