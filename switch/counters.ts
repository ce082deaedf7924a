/**
 * The names of the data plane's counters, as `ethtool -S` prints them: per queue and per
 * port. The counter blocks themselves are lib/counters.ts; the pool's names live beside the
 * pool (queues/pool.ts).
 */
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
  'rx_rps',
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
  /**
   * Frames a device thread steered onto a queue worker's rx ring: the thread hop of a medium
   * with one queue (a socket, a file), as Linux RPS. Not an exit counter (each is also a
   * queue's rx<q>_packets). 0 for media the queue workers poll themselves.
   */
  rx_rps,
}
