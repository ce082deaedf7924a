/**
 * null — a port with no medium: it never receives, and what the switch transmits out of
 * it is counted (tx_packets) and discarded. The redirect benchmark's egress, and a
 * placeholder while wiring a configuration. Queue workers transmit to it themselves (its
 * queue side), so a redirect to null never crosses a thread.
 * Options: none.
 */
import type { Port, PortType } from './port.js';

class NullPort implements Port {
  async open(): Promise<void> {}
  transmit(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

const nullPort: PortType = {
  type: 'null',
  options: {},
  create: () => new NullPort(),
  // Run to completion: each queue worker discards what it sends here itself (no thread hop).
  queueSides: () => ({ rx: false, tx: true }),
  openQueue: () => ({ transmit: () => true }),
};
export default nullPort;
