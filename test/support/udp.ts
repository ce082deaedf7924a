/** Loopback UDP helpers for tests of datagram ports (udp, vxlan). */
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';

/** A port on 127.0.0.1 that was free a moment ago (bound and closed again). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** A socket bound to 127.0.0.1:port (0: any); `cleanup` gets its close. */
export async function boundUdp(cleanup: (() => Promise<void> | void)[], port = 0): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  cleanup.push(() => new Promise<void>((r) => s.close(() => r())));
  await new Promise<void>((r) => s.bind(port, '127.0.0.1', r));
  return s;
}

/** `n` sockets bound to 127.0.0.1 (several 4-tuples: the kernel hashes them over a port's queue sockets). */
export function boundUdps(cleanup: (() => Promise<void> | void)[], n: number): Promise<dgram.Socket[]> {
  return Promise.all(Array.from({ length: n }, () => boundUdp(cleanup)));
}

/** UDP sockets bound to local port `port`, as the kernel lists them (`ss`). */
export function udpSocketsOn(port: number): number {
  return execFileSync('ss', ['-Huln', `sport = :${port}`], { encoding: 'utf8' }).split('\n').filter((l) => l.trim() !== '').length;
}

/** Sends `b` to 127.0.0.1:port from `s`. */
export function sendUdp(s: dgram.Socket, b: Buffer, port: number): Promise<void> {
  return new Promise<void>((r, j) => s.send(b, port, '127.0.0.1', (e) => (e ? j(e) : r())));
}
