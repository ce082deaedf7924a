/**
 * Counters in shared memory, named as `ethtool -S` names them.
 *
 * A CounterBlock is a Float64Array over a SharedArrayBuffer (exact to 2^53) with a fixed
 * list of names. Each block has one writer (a queue worker, a device thread) that adds
 * locally during a breath and publishes once per breath with plain stores; any thread may
 * read at any time and sees values at most one breath old. The few counters with several
 * writers (pool recycle_ring_full) are updated with Atomics on an Int32 shadow instead.
 */
export class CounterBlock {
  readonly values: Float64Array;
  readonly index: ReadonlyMap<string, number>;

  constructor(
    readonly names: readonly string[],
    readonly sab: SharedArrayBuffer = new SharedArrayBuffer(names.length * 8),
  ) {
    this.values = new Float64Array(sab);
    this.index = new Map(names.map((n, i) => [n, i]));
  }

  get(name: string): number {
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`no counter named ${name}`);
    return this.values[i];
  }

  /** Copies name → value pairs out (control plane, tests; allocates). */
  snapshot(prefix = ''): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.names.length; i++) out[prefix + this.names[i]] = this.values[i];
    return out;
  }

  /** The shape a block crosses a thread boundary in. */
  toShared(): SharedCounters {
    return { names: [...this.names], sab: this.sab };
  }

  static fromShared(s: SharedCounters): CounterBlock {
    return new CounterBlock(s.names, s.sab);
  }
}

export interface SharedCounters {
  names: string[];
  sab: SharedArrayBuffer;
}

/**
 * Per-queue counters, written by queue worker q; printed as rx<q>_<name>.
 * Exit counters (each packet a queue took lands in exactly one):
 * xdp_drop, xdp_aborted, xdp_invalid, xdp_tx_xmit, xdp_tx_full, xdp_redirect,
 * xdp_redirect_err, xdp_pass. tx_frames is not an exit counter: it is what the ports'
 * tx_packets + tx_dropped add up to.
 */
export const QUEUE_COUNTERS = [
  'packets',
  'bytes',
  'xdp_drop',
  'xdp_aborted',
  'xdp_invalid',
  'xdp_tx_xmit',
  'xdp_tx_full',
  'xdp_redirect',
  'xdp_redirect_err',
  'xdp_pass',
  'tx_frames',
  'breaths',
  'sleeps',
  'restarts',
] as const;
export const QUEUE_EXIT_COUNTERS = [
  'xdp_drop',
  'xdp_aborted',
  'xdp_invalid',
  'xdp_tx_xmit',
  'xdp_tx_full',
  'xdp_redirect',
  'xdp_redirect_err',
  'xdp_pass',
] as const;
export const enum Q {
  packets,
  bytes,
  xdp_drop,
  xdp_aborted,
  xdp_invalid,
  xdp_tx_xmit,
  xdp_tx_full,
  xdp_redirect,
  xdp_redirect_err,
  xdp_pass,
  /** Frames this queue put on ports' tx rings: TX, redirects to ports, broadcast copies, endpoint transmits. */
  tx_frames,
  breaths,
  sleeps,
  restarts,
}

/**
 * Per-port device counters, written by the port's device thread.
 * Every frame a port reads from its medium is counted in rx_packets and then in exactly
 * one of: a queue's rx<q>_packets, rx_no_buffer, rx_ring_full, rx_flow_drop (a rule with
 * `action -1`/`-2`), rx_dropped (too large, malformed). Every frame handed to the port for
 * transmit is counted in tx_packets or tx_dropped.
 */
export const PORT_COUNTERS = [
  'rx_packets',
  'rx_bytes',
  'rx_no_buffer',
  'rx_ring_full',
  'rx_flow_drop',
  'rx_dropped',
  'tx_packets',
  'tx_bytes',
  'tx_dropped',
] as const;
export const enum P {
  rx_packets,
  rx_bytes,
  rx_no_buffer,
  rx_ring_full,
  rx_flow_drop,
  rx_dropped,
  tx_packets,
  tx_bytes,
  tx_dropped,
}

/** Per-pool counters (Linux page_pool names, printed with the rx_pp_ prefix). */
export const POOL_COUNTERS = [
  'alloc_fast',
  'alloc_refill',
  'alloc_empty',
  'recycle_cached',
  'recycle_ring',
  'recycle_ring_full',
] as const;
export const enum PP {
  alloc_fast,
  alloc_refill,
  alloc_empty,
  recycle_cached,
  recycle_ring,
  recycle_ring_full,
}
