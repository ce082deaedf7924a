/**
 * The names of the data plane's counters, as `ethtool -S` prints them: per queue and per
 * port. The counter blocks themselves are lib/counters.ts; the pool's names live beside the
 * pool (queues/pool.ts).
 */
import type { MustAgree, NamesAgree } from '../lib/counters.js';

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
  'rx_gro_merged',
  'rx_gro_packets',
  'rx_gro_csum_bad',
  'rx_gro_no_buffer',
  'rx_gro_tx_full',
  'rx_gro_gathered',
  'rx_gso_packets',
  'rx_gso_segments',
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
  /** Segments GRO appended to a super-frame (each left the queue inside one). */
  rx_gro_merged,
  /** Super-frames GRO made (counted once each). */
  rx_gro_packets,
  /** TCP segments GRO found with a bad checksum (passed on as they came). */
  rx_gro_csum_bad,
  /** Merges given up for want of a free super-frame. */
  rx_gro_no_buffer,
  /** Frames GRO let go that found their tx ring full (dropped). */
  rx_gro_tx_full,
  /** Super-frames written straight from their segments into a guest's ring (no copy into a super-frame first). */
  rx_gro_gathered,
  /**
   * Super-frames that reached this queue whole although its chain does not take frags (a
   * reload, a cpumap hop) and were cut here; each of their rx_gso_segments segments is one
   * of `packets` (the super-frame itself is not), so
   *   Σ ports' frames onward = Σ queues' packets − rx_gso_segments + rx_gso_packets.
   */
  rx_gso_packets,
  rx_gso_segments,
}
type _QueueNamesAgree = MustAgree<NamesAgree<typeof QUEUE_COUNTERS, typeof Q>>;

/**
 * Per-port device counters, written by the port's device thread.
 * Every frame a port reads from its medium is counted in rx_packets and then in exactly
 * one of: a queue's rx<q>_packets, rx_no_buffer, rx_ring_full, rx_flow_drop (a rule with
 * `action -1`/`-2`), rx_dropped (too large, malformed). Every frame handed to the port for
 * transmit is counted in tx_packets or tx_dropped.
 * A super-frame (GSO) received and cut here is one rx_packets and one rx_gso_packets; its
 * rx_gso_segments segments then each end in one of the exits above, so
 *   rx_packets − rx_gso_packets + rx_gso_segments = Σ exits.
 * A super-frame handed whole to a queue whose programs take it (rx_gso_whole) is one frame
 * all the way, like any other.
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
  'rx_gso_packets',
  'rx_gso_segments',
  'tx_gso_packets',
  'tx_gso_segments',
  'tx_csum_sw',
  'rx_rps',
  'rx_gso_whole',
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
  /** Super-frames received and cut into segments here (each also in rx_packets, once). */
  rx_gso_packets,
  /** Segments made from them: each goes on as a frame of its own (rx<q>_packets or a drop). */
  rx_gso_segments,
  /** Super-frames this port could not take, cut into segments here (each in tx_packets once). */
  tx_gso_packets,
  tx_gso_segments,
  /** Partial checksums completed in software for a port that does not take them. */
  tx_csum_sw,
  /**
   * Frames a device thread steered onto a queue worker's rx ring: the thread hop of a medium
   * with one queue (a socket, a file), as Linux RPS. Not an exit counter (each is also a
   * queue's rx<q>_packets). 0 for media the queue workers poll themselves.
   */
  rx_rps,
  /**
   * Super-frames handed on whole (one frame, one packet) to a queue whose chain takes them
   * (ProgramModule.frags): not cut here, so not in rx_gso_packets. Not an exit counter.
   */
  rx_gso_whole,
}
type _PortNamesAgree = MustAgree<NamesAgree<typeof PORT_COUNTERS, typeof P>>;
