/**
 * Opening UDP sockets for the udp and vxlan ports: names resolved once, binds with clear
 * errors, and sends that reach the kernel before send() returns.
 *
 * dgram.send on an unconnected socket first passes the address through the socket's
 * `lookup` — by default dns.lookup, which answers even an IP literal on a later tick. A
 * device thread transmits whole bursts without yielding, so every send of a burst would
 * reach libuv only after the burst, long after transmit() returned and after the staging
 * slots it used were reused (see datagram-sender.ts). Addresses here are resolved at open,
 * so the socket's lookup just hands the literal back, synchronously, and the send goes to
 * libuv at once.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { formatHostPort, type HostPort } from './address.js';

/** Resolves a host name once (dgram.send would look it up on every send). */
export async function resolveHost(a: HostPort): Promise<HostPort> {
  const r = await lookup(a.host, { family: a.family });
  return { host: r.address, port: a.port, family: r.family === 6 ? 6 : 4 };
}

/** Binds a UDP socket, rejecting with a message that names the address. */
export function bindUdp(socket: dgram.Socket, at: HostPort, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(new Error(`${what}: cannot bind ${formatHostPort(at)}: ${e.message}`));
    socket.once('error', onError);
    socket.bind({ port: at.port, address: at.host, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}


/** The lookup of every port socket: addresses are IP literals already (resolveHost at open). */
function literalLookup(address: string, family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, typeof family === 'number' ? family : address.includes(':') ? 6 : 4);
}

/** A UDP socket whose sends are handed to the kernel (or libuv's queue) before send() returns. */
export function createUdpSocket(family: 4 | 6): dgram.Socket {
  return dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup: literalLookup as unknown as dgram.SocketOptions['lookup'] });
}
