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
  /** Extra virtio-net-pci properties (e.g. 'csum=off,guest_csum=off'). */
  device?: string;
  /** TCP port the guest accepts one transfer on (xs.recv). */
  recv?: number;
  /** More QEMU arguments (shared memory for vhost-user, -smp). */
  args?: string[];
  /** More kernel command line (xs.tcp=…). */
  append?: string;
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
    '-append', `console=ttyS0 quiet panic=-1 xs.ip=${nic.ip} xs.peer=${nic.peer} xs.linger=${lingerS}${nic.recv === undefined ? '' : ` xs.recv=${nic.recv}`}${nic.tcp ? ` xs.tcp=${nic.tcp} xs.bytes=${nic.bytes ?? 0}` : ''}${nic.append ? ' ' + nic.append : ''}`,
    ...(nic.args ?? []),
    '-netdev', `${nic.netdev},id=n0`,
    '-device', `virtio-net-pci,netdev=n0,mac=${nic.mac},romfile=${nic.device === undefined ? '' : `,${nic.device}`}`,
  ]);
}

/**
 * A guest on a vhost-user socket (the switch is the back-end): RAM shared through a memfd,
 * QEMU reconnecting every second when the socket goes away, and `vectors=0` (legacy INTx)
 * because QEMU 7.2 under TCG segfaults on vhost-user with MSI-X (PEERS.md).
 */
export function startVhostGuest(
  procs: Procs,
  guest: Guest,
  o: { socket: string; mac: string; ip: string; peer: string; queues?: number; device?: string; append?: string; smp?: number; args?: string[] },
  lingerS = 20,
): Proc {
  const q = o.queues ?? 1;
  return startGuest(
    procs,
    guest,
    {
      netdev: `vhost-user,chardev=c0${q > 1 ? `,queues=${q}` : ''}`,
      mac: o.mac,
      ip: o.ip,
      peer: o.peer,
      device: `vectors=0${q > 1 ? ',mq=on' : ''}${o.device ?? ''}`,
      append: o.append,
      args: [
        '-object', 'memory-backend-memfd,id=mem,size=128M,share=on' /* = -m */,
        '-numa', 'node,memdev=mem',
        '-chardev', `socket,id=c0,path=${o.socket},reconnect=1`,
        ...(o.smp !== undefined ? ['-smp', String(o.smp)] : []),
        ...(o.args ?? []),
      ],
    },
    lingerS,
  );
}
