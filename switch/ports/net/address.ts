/**
 * Addresses in port options: `host:port` (IPv4, a name, or `[v6]:port`) for UDP/TCP, or a
 * file system path for a UNIX socket (anything containing a `/`).
 */
import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
  /** 4 or 6 (a host name resolves as IPv4). */
  family: 4 | 6;
}

/** Parses `host:port` (port optional when `defaultPort` is given); throws a message naming the problem. */
export function parseHostPort(text: unknown, defaultPort?: number): HostPort {
  if (typeof text !== 'string' || text.length === 0) throw new Error(`'${String(text)}' is not a host:port string`);
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else {
    const i = text.lastIndexOf(':');
    if (i >= 0 && text.indexOf(':') !== i) throw new Error(`'${text}': write an IPv6 address as [addr]:port`);
    host = i >= 0 ? text.slice(0, i) : text;
    portText = i >= 0 ? text.slice(i + 1) : undefined;
  }
  if (host.length === 0) throw new Error(`'${text}' has no host`);
  let port: number;
  if (portText === undefined || portText === '') {
    if (defaultPort === undefined) throw new Error(`'${text}' has no port (host:port)`);
    port = defaultPort;
  } else {
    port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 0 && port <= 65535)) throw new Error(`'${text}': port '${portText}' is not a number from 0 to 65535`);
  }
  const ipv = isIP(host);
  return { host, port, family: ipv === 6 ? 6 : 4 };
}

export function formatHostPort(a: { host: string; port: number; family: 4 | 6 }): string {
  return a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** True when an address option names a UNIX socket path rather than host:port. */
export function isSocketPath(text: string): boolean {
  return text.includes('/');
}
