/**
 * What the daemon needs of a running switch, and how it starts the real one. The Switch
 * (switch/switch.ts) is such a switch as it is, with no adapter in between: defaultStart
 * returns it under this interface, so the compiler checks that it fits. Tests pass a
 * recorder instead.
 */
import type { CaptureTarget } from '../switch/capture/capture.js';
import type { QueuePrograms, SwitchConfig } from '../switch/config-types.js';
import type { LoadedProgram, ProgramRefInput } from '../programs/loader.js';
import { Switch, type LogEvent, type StopSummary } from '../switch/switch.js';

export interface SwitchLike extends CaptureTarget {
  /** Flat ethtool -S list; still readable after stop() (the counter blocks outlive the threads). */
  flatStats(): Record<string, number>;
  stop(): Promise<StopSummary>;
  /** Makes each queue run its chain of `perQueue` (the default where none); unchanged queues are not touched. */
  configurePrograms(perQueue: readonly QueuePrograms[]): Promise<void>;
  portControl(port: string, msg: unknown): Promise<unknown>;
  /** A port's own figures (switch/ports/port.ts status()). */
  portStatus(port: string): Promise<Record<string, unknown>>;
  /** Installs new steering state on a port (a reload with a different flow file). */
  setSteering(port: string, module: string, shared: unknown): Promise<void>;
  /** Whether the port's RX queues are received by the queue workers (its steering then cannot change). */
  receivesOnQueues(port: string): boolean;
  /** Every program loaded so far, with its maps (`map list/dump`). */
  loadedPrograms(): LoadedProgram[];
  /** Loads (and builds once) a chain without running it (`trace`). */
  loadChain(refs: ProgramRefInput[]): Promise<{ chain: LoadedProgram[] }>;
}

export type SteeringMap = Map<string, { module: string; shared: unknown; rules?: boolean }>;
export type LogLevel = LogEvent['level'];
export type StartSwitch = (config: SwitchConfig, log: (message: string, level?: LogLevel) => void, steering: SteeringMap) => Promise<SwitchLike>;

/** Starts the real switch; its workers' log events are written by the daemon, off the data path. */
export async function defaultStart(config: SwitchConfig, log: (m: string, level?: LogLevel) => void, steering: SteeringMap): Promise<SwitchLike> {
  const sw = await Switch.start(config, { steering });
  sw.on('log', (e: LogEvent) => log(e.message, e.level));
  return sw;
}
