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

export interface SwitchConfig {
  /** Number of RX queues (channels, `ethtool -L combined N`), one worker thread each. */
  queues: number;
  /** Bytes per frame: 2048, or 4096 for jumbo frames. */
  frameSize: number;
  /** Frames in each port's pool. */
  poolFrames: number;
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
  ports: PortConfig[];
  /** Program chains; queues with no chain run `pass`. */
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
