/**
 * Tap devices (/dev/net/tun): TUNSETIFF creates the interface and attaches this fd to it;
 * closing the last fd of a tap that is not persistent removes it. Interface settings
 * (MTU, up) through the classic SIOC ioctls on any socket.
 */
import { c } from './libc.js';
import { check } from './errors.js';
import {
  AF_INET, IFF_UP, IFNAMSIZ, O_NONBLOCK, O_RDWR, SIOCGIFFLAGS, SIOCSIFFLAGS, SIOCSIFMTU, SOCK_DGRAM, TUNSETIFF,
  TUNSETOFFLOAD, TUNSETVNETHDRSZ,
} from './constants.js';
import { open } from './fd.js';
import { ioctl, socket } from './socket.js';

function ifreq(name: string): Uint8Array {
  const n = Buffer.from(name);
  if (n.length === 0 || n.length >= IFNAMSIZ) throw new Error(`interface name '${name}' must be 1 to ${IFNAMSIZ - 1} bytes`);
  const r = new Uint8Array(40); // struct ifreq: name[16] + a 24-byte union
  r.set(n);
  return r;
}

/** Creates (or attaches to) tap/tun `name` with IFF_* `flags`; returns the non-blocking fd and the name the kernel gave. */
export function openTun(name: string, flags: number): { fd: number; name: string } {
  const fd = open('/dev/net/tun', O_RDWR | O_NONBLOCK);
  const r = ifreq(name);
  new DataView(r.buffer).setUint16(IFNAMSIZ, flags, true);
  try {
    ioctl(fd, TUNSETIFF, r, `TUNSETIFF '${name}'`);
  } catch (e) {
    c().close(fd);
    throw e;
  }
  const end = r.indexOf(0);
  return { fd, name: Buffer.from(r.subarray(0, end < 0 ? IFNAMSIZ : end)).toString() };
}

/** The size of the virtio_net_hdr that prefixes every packet read or written (IFF_VNET_HDR). */
export function setVnetHeaderSize(fd: number, size: number): void {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setInt32(0, size, true);
  ioctl(fd, TUNSETVNETHDRSZ, v, `TUNSETVNETHDRSZ ${size}`);
}

/** Which offloads (TUN_F_CSUM, TUN_F_TSO4…) the reader accepts; 0: whole, checksummed packets only. */
export function setOffload(fd: number, flags: number): void {
  // TUNSETOFFLOAD takes the flags as the ioctl's integer argument, not through a pointer.
  check(c().ioctl_int(fd, TUNSETOFFLOAD, flags), 'ioctl', `TUNSETOFFLOAD 0x${flags.toString(16)}`);
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
