/**
 * null — a port with no medium: it never receives, and what the switch transmits out of
 * it is counted (tx_packets) and discarded. The redirect benchmark's egress, and a
 * placeholder while wiring a configuration.
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
};
export default nullPort;
