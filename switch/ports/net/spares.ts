/**
 * Frames taken from the pool ahead of a recvmmsg, one per datagram it may bring (the udp and
 * vxlan ports, on a device thread or a queue worker). Taking a frame ahead is not receiving
 * a packet, so what allocFrame counts for an empty pool (rx_packets, rx_no_buffer) is undone
 * here: a datagram that finds no frame waits in the socket (the kernel counts its own drops).
 */
interface FrameSource {
  allocFrame(): number;
  readonly counters: Float64Array;
}

/** Fills spares[have, want) from the pool; returns how many spares there are now. */
export function takeSpares(io: FrameSource, spares: Int32Array, have: number, want: number, iRxPackets: number, iNoBuffer: number): number {
  while (have < want) {
    const f = io.allocFrame();
    if (f < 0) {
      io.counters[iRxPackets]--;
      io.counters[iNoBuffer]--;
      break;
    }
    spares[have++] = f;
  }
  return have;
}
