/**
 * A vxlan port's TX side inside queue worker q (net/queue-tx.ts with VXLAN's header as the
 * prefix). By default (`transmit: auto` or `queues`) on the native path (recvmmsg/sendmmsg)
 * and with literal addresses (openQueue cannot wait for a name lookup); otherwise
 * (`transmit: device`, io: dgram, a name) the device thread sends, as before. It sends from
 * a socket of its own with an ephemeral port: VXLAN receivers accept any source port (Linux
 * sends from one per flow), so the peer sees nothing different.
 */
import { isIP } from 'node:net';
import * as native from '../../../lib/native/index.js';
import type { PortConfig, QueueIO } from '../port.js';
import { parseHostPort } from './address.js';
import { QueueTx } from './queue-tx.js';
import { DEFAULT_VXLAN_MTU, VXLAN_HLEN, VXLAN_PORT, writeVxlanHeader } from './vxlan-header.js';

/** Whether the queue workers can send for this port themselves (see the file comment). */
export function queueTxPossible(config: PortConfig): boolean {
  if (config.transmit === 'device' || config.io === 'dgram' || !native.available()) return false;
  try {
    const local = parseHostPort(config.local, VXLAN_PORT);
    const remote = parseHostPort(config.remote, (config.dstport as number | undefined) ?? VXLAN_PORT);
    return isIP(local.host) !== 0 && isIP(remote.host) !== 0 && local.family === remote.family;
  } catch {
    return false;
  }
}

/** Queue worker q's VXLAN sender for one port (its VNI's header on every datagram). */
export function vxlanQueueTx(config: PortConfig, io: QueueIO): QueueTx {
  const header = new Uint8Array(VXLAN_HLEN);
  writeVxlanHeader(header, 0, config.vni as number);
  return new QueueTx(io, {
    local: parseHostPort(config.local, VXLAN_PORT),
    to: parseHostPort(config.remote, (config.dstport as number | undefined) ?? VXLAN_PORT),
    mtu: (config.mtu as number | undefined) ?? DEFAULT_VXLAN_MTU,
    prefix: header,
    fd: null,
  });
}
