/**
 * Binding an AF_XDP-style socket into a running switch (the control-plane half of
 * bind(2) on an XDP socket): the socket goes to queue `queue` under endpoint id `id`,
 * sending out of port `port`; a program reaches it by putting `id` in an xskmap slot
 * (examples/xsk/redirect-program.ts fills slot q with ids[q]).
 */
import type { Switch } from '../switch.js';
import { workerUrl } from '../../lib/worker-url.js';
import type { XskShared } from './xsk-shared.js';
import type { XskBinding } from './xsk.js';
import type { DoorbellHandle } from '../../queues/doorbell.js';

/**
 * Returns the queue worker's doorbell: hand it to the application's XskSocket.attachSwitchBell
 * (XskApp.attachSwitchBell for an app in its own thread) so its submits wake the worker.
 */
export async function bindXsk(sw: Switch, shared: XskShared, port: string, queue: number, id: number): Promise<DoorbellHandle> {
  const egressPort = sw.config.ports.findIndex((p) => p.name === port);
  if (egressPort < 0) throw new Error(`no port named '${port}' (ports: ${sw.config.ports.map((p) => p.name).join(', ')})`);
  if (!(Number.isInteger(queue) && queue >= 0 && queue < sw.config.queues)) throw new Error(`queue ${queue} does not exist (0 … ${sw.config.queues - 1})`);
  if (!(Number.isInteger(id) && id >= 0 && id < 1024)) throw new Error(`endpoint id ${id} out of range 0 … 1023`);
  const binding: XskBinding = { ...shared, egressPort };
  await sw.bindEndpoint(queue, id, workerUrl('switch/endpoints/xsk').href, binding);
  return sw.queueDoorbell(queue);
}

/** Unbinds endpoint `id` from `queue` (packets redirected to it are then dropped and counted). */
export async function unbindXsk(sw: Switch, queue: number, id: number): Promise<void> {
  await sw.bindEndpoint(queue, id, '', null);
}
