/** Opening UDP sockets for the udp and vxlan ports: names resolved once, binds with clear errors. */
import type dgram from 'node:dgram';
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

