/**
 * AF_XDP-style application: a UDP echo responder. Every IPv4/UDP datagram to params.port
 * (default 7) goes back to its sender — MACs, IPs and ports swapped — out of the port it
 * came in on (the RX descriptor's options carry it; TX options name the egress port).
 * Everything else is counted and dropped.
 */
import { runXskApp } from '../../switch/endpoints/xsk-app.js';
import * as P from '../../lib/net/packets.js';

const out = new Int32Array(2);
const reply = new Uint8Array(4096);
const myMac = new Uint8Array(6);

runXskApp({
  counters: ['echoed', 'ignored', 'tx_full'],
  setup(sock, c, params) {
    const port = typeof params.port === 'number' ? params.port : 7;
    return (umem, addr, length, ingress) => {
      if (P.classify(umem, addr, length, out) !== P.PKT_UDP || P.be16(umem, out[0] + 2) !== port) {
        c[1]++;
        return;
      }
      P.copyMac(myMac, 0, umem, addr); // we answer from the address it was sent to
      const n = P.turnAround(reply, 0, umem, addr, out[0], out[1], myMac, 1);
      P.udpSwapPorts(reply, 34);
      if (sock.send(reply, 0, n, ingress)) c[0]++;
      else c[2]++;
    };
  },
});
