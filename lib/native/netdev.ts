/** Interface settings through the classic SIOC ioctls (struct ifreq) on any socket of this network namespace. */
import { c } from './libc.js';
import { AF_INET, IFF_UP, IFNAMSIZ, SIOCGIFFLAGS, SIOCGIFMTU, SIOCSIFFLAGS, SIOCSIFMTU, SOCK_DGRAM } from './constants.js';
import { ioctl, socket } from './socket.js';

/** A struct ifreq naming `name` (16 bytes) with a zeroed 24-byte union. */
export function ifreq(name: string): Uint8Array {
  const n = Buffer.from(name);
  if (n.length === 0 || n.length >= IFNAMSIZ) throw new Error(`interface name '${name}' must be 1 to ${IFNAMSIZ - 1} bytes`);
  const r = new Uint8Array(40);
  r.set(n);
  return r;
}

function withInetSocket<T>(f: (fd: number) => T): T {
  const s = socket(AF_INET, SOCK_DGRAM);
  try {
    return f(s);
  } finally {
    c().close(s);
  }
}

export function setInterfaceMtu(name: string, mtu: number): void {
  const r = ifreq(name);
  new DataView(r.buffer).setInt32(IFNAMSIZ, mtu, true);
  withInetSocket((s) => ioctl(s, SIOCSIFMTU, r, `SIOCSIFMTU ${name} ${mtu}`));
}

export function setInterfaceUp(name: string, up: boolean): void {
  const r = ifreq(name);
  withInetSocket((s) => {
    ioctl(s, SIOCGIFFLAGS, r, `SIOCGIFFLAGS ${name}`);
    const v = new DataView(r.buffer);
    const flags = v.getUint16(IFNAMSIZ, true);
    v.setUint16(IFNAMSIZ, up ? flags | IFF_UP : flags & ~IFF_UP, true);
    ioctl(s, SIOCSIFFLAGS, r, `SIOCSIFFLAGS ${name}`);
  });
}

export function getInterfaceMtu(name: string): number {
  const r = ifreq(name);
  withInetSocket((s) => ioctl(s, SIOCGIFMTU, r, `SIOCGIFMTU ${name}`));
  return new DataView(r.buffer).getInt32(IFNAMSIZ, true);
}

/** IFF_* flags of an interface (IFF_UP: administratively up; IFF_RUNNING: carrier). */
export function getInterfaceFlags(name: string): number {
  const r = ifreq(name);
  withInetSocket((s) => ioctl(s, SIOCGIFFLAGS, r, `SIOCGIFFLAGS ${name}`));
  return new DataView(r.buffer).getUint16(IFNAMSIZ, true);
}
