/**
 * Tap devices (/dev/net/tun): TUNSETIFF creates the interface and attaches this fd to it;
 * closing the last fd of a tap that is not persistent removes it.
 */
import { c } from './libc.js';
import { check } from './errors.js';
import { IFNAMSIZ, O_NONBLOCK, O_RDWR, TUNSETIFF, TUNSETOFFLOAD, TUNSETPERSIST, TUNSETVNETHDRSZ } from './constants.js';
import { open } from './fd.js';
import { ioctl } from './socket.js';
import { ifreq } from './netdev.js';

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

/** A persistent tap outlives its descriptors (another process, a VM, may attach later). */
export function setPersist(fd: number, on: boolean): void {
  check(c().ioctl_int(fd, TUNSETPERSIST, on ? 1 : 0), 'ioctl', `TUNSETPERSIST ${on ? 1 : 0}`);
}
