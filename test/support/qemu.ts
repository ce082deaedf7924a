/**
 * QEMU guests for the real-peer tests: the guest from guest.ts, TCG (no KVM here), one
 * virtio-net NIC on a given `-netdev` backend, serial console on stdout.
 */
import type { Guest } from './guest.js';
import type { Proc, Procs } from './procs.js';

export interface GuestNic {
  /** The -netdev value without `id=` (e.g. 'dgram,local.type=inet,…' or 'stream,…'). */
  netdev: string;
  mac: string;
  /** Address with prefix (192.0.2.11/24) and the peer to ping. */
  ip: string;
  peer: string;
  /** A TCP transfer after the pings: this guest listens (server) or sends `bytes` (client). */
  tcp?: 'server' | 'client';
  bytes?: number;
}

export function startGuest(procs: Procs, guest: Guest, nic: GuestNic, lingerS = 20): Proc {
  return procs.start('qemu-system-x86_64', [
    '-accel', 'tcg',
    '-m', '128',
    '-nographic',
    '-no-reboot',
    '-nodefaults',
    '-serial', 'stdio',
    '-kernel', guest.kernel,
    '-initrd', guest.initrd,
    '-append', `console=ttyS0 quiet panic=-1 xs.ip=${nic.ip} xs.peer=${nic.peer} xs.linger=${lingerS}${nic.tcp ? ` xs.tcp=${nic.tcp} xs.bytes=${nic.bytes ?? 0}` : ''}`,
    '-netdev', `${nic.netdev},id=n0`,
    '-device', `virtio-net-pci,netdev=n0,mac=${nic.mac},romfile=`,
  ]);
}
