/**
 * The control side of one port's flow steering (main thread): runs ethtool commands
 * against the port's state, publishes each change to the device thread (shared.ts), and
 * prints what ethtool would print. One SteeringControl per port; it is the only writer
 * of its SharedSteering.
 */
import { CounterBlock } from '../lib/counters.js';
import { EthtoolError, parseChannels, parseNtuple, parseRxfh } from './grammar.js';
import { formatChannels, formatRule, formatRules, formatRxFlowHash, formatRxfh } from './print.js';
import { newSharedSteering, publish, type SharedSteering } from './shared.js';
import { PortSteering } from './state.js';

/** ethtool's long and short option names for the commands a flow file may hold. */
export const SET_OPTIONS: Record<string, 'N' | 'X' | 'L'> = {
  '-N': 'N', '-U': 'N', '--config-ntuple': 'N', '--config-nfc': 'N',
  '-X': 'X', '--set-rxfh-indir': 'X', '--rxfh': 'X',
  '-L': 'L', '--set-channels': 'L',
};

export class SteeringControl {
  readonly state: PortSteering;
  readonly shared: SharedSteering;
  private readonly counterBlock: CounterBlock;
  /**
   * Why this port's steering cannot change while it runs, or null. Set for a port whose RX
   * queues its queue workers receive themselves (run to completion): like a NIC with
   * `ntuple-filters: off [fixed]`, it refuses -N/-U/-X/-L, saying why.
   */
  fixed: string | null = null;

  constructor(readonly port: string, queues: number, shared?: SharedSteering) {
    this.state = new PortSteering(port, queues);
    this.shared = shared ?? newSharedSteering(port);
    this.counterBlock = CounterBlock.fromShared(this.shared.counters);
    publish(this.shared, this.state);
  }

  /**
   * Runs `-N|-U|-X|-L ARGS…` (the words after the device name) and publishes the result.
   * Returns ethtool's output lines; throws EthtoolError (`arg` indexes `args`).
   */
  exec(option: string, args: string[]): string[] {
    const kind = SET_OPTIONS[option];
    if (!kind) throw new EthtoolError(`${option} is not a flow-steering option (use -N, -U, -X or -L)`, -1);
    if (this.fixed !== null) {
      const what = kind === 'N' ? 'rmgr: Cannot insert RX class rule' : kind === 'X' ? 'Cannot set RX flow hash configuration' : 'Cannot set device channel parameters';
      throw new EthtoolError(`${what}: Operation not supported (${this.fixed})`, -1);
    }
    let out: string[];
    if (kind === 'N') out = this.state.applyNtuple(parseNtuple(args));
    else if (kind === 'X') out = this.state.applyRxfh(parseRxfh(args));
    else out = this.state.applyChannels(parseChannels(args));
    this.publish();
    return out;
  }

  /** Same as exec with a command line, e.g. `-N flow-type udp4 dst-port 53 action 1`. */
  run(line: string): string[] {
    const [option, ...args] = line.trim().split(/\s+/);
    return this.exec(option, args);
  }

  /** Re-publishes the current state (after direct edits of `state`). */
  publish(): number {
    return publish(this.shared, this.state);
  }

  /** `ethtool -n DEV`, `-n DEV rule N`, `-x DEV [context N]`, `-l DEV`, `-n DEV rx-flow-hash T`. */
  showRules(): string {
    return formatRules(this.state);
  }
  showRule(loc: number): string {
    const r = this.state.rules.get(loc);
    if (!r) throw new EthtoolError('rxclass: Cannot get RX class rule: No such file or directory');
    return formatRule(r);
  }
  showRxfh(context = 0): string {
    return formatRxfh(this.state, this.port, context);
  }
  showChannels(): string {
    return formatChannels(this.state, this.port);
  }
  showRxFlowHash(type: string, context?: number): string {
    return formatRxFlowHash(this.state, type, context);
  }

  /** Steering counters (rx_steer_*), as published by the device thread. */
  counters(): Record<string, number> {
    return this.counterBlock.snapshot();
  }
}
