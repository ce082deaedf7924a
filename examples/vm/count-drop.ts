/**
 * Guest program: counts what arrives (per queue pair, in the base counters) and drops it.
 * The VM-delivery benchmark's sink, and the multi-queue test's witness. With params.ip it
 * still answers nothing: it is a sink.
 */
import { defineGuest } from '../../guest/program.js';

export default defineGuest({
  receive() {
    // Counting happens in the VM loop (rx_packets, rx_bytes, rx_q<p>); nothing else to do.
  },
});
