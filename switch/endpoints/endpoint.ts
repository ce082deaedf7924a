/**
 * A queue endpoint: something a queue worker delivers packets to by copy and takes
 * packets from for transmit — an AF_XDP-style socket bound to (port, queue), or the
 * switch's local stack receiving PASS.
 *
 * Contract: queue worker q is the only thread that calls these methods on an endpoint
 * bound to q, so the endpoint's switch-side ring ends (FILL and TX consumer, RX and
 * COMPLETION producer) each have exactly one thread, as SPSC rings require.
 */
export interface QueueEndpoint {
  /**
   * Copies the packet src[offset, offset + length) into the endpoint. Returns false when
   * it was dropped; the endpoint counts why (rx_ring_full, rx_fill_ring_empty_descs, …).
   * Must not allocate.
   */
  deliver(src: Uint8Array, offset: number, length: number, ingressPort: number): boolean;
  /**
   * Moves up to `budget` packets the application queued for transmit to `emit`, which
   * copies them into the switch and sends them out of `egressPort`. Returns how many were
   * taken. Must not allocate.
   */
  pollTx(budget: number, emit: TxEmit): number;
  /** Once per breath: publish ring indices, wake the application if it asked to be. */
  flush(): void;
  /**
   * Before the queue worker sleeps: ask the application to ring the worker's doorbell when
   * it posts work (need_wakeup). Returns false when work is already waiting (do not sleep).
   */
  prepareSleep?(): boolean;
  /** After the worker wakes: the application may stop ringing. */
  endSleep?(): void;
  /**
   * True when the application rings the queue worker's own doorbell when it posts work, so
   * the worker may sleep until rung; absent or false: the worker must look again soon.
   */
  wakesWorker?(): boolean;
}

/** Sends a copy of src[offset, offset + length) out of port index `egressPort`; false when dropped. */
export type TxEmit = (src: Uint8Array, offset: number, length: number, egressPort: number) => boolean;
