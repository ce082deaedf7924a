/**
 * Port types by name: each is switch/ports/<type>.ts, default-exporting a PortType.
 * The main thread imports a type to validate options and learn its counters; the device
 * thread imports the compiled module by URL.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PortConfig, PortType } from './port.js';
import { workerUrl } from '../../lib/worker-url.js';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const NAME = /^[a-z][a-z0-9-]*$/;

export function portTypeExists(type: string): boolean {
  return NAME.test(type) && type !== 'port' && type !== 'index' && existsSync(fileURLToPath(new URL(`./${type}${EXT}`, import.meta.url)));
}

export async function importPortType(type: string): Promise<PortType> {
  if (!portTypeExists(type)) throw new Error(`unknown port type '${type}' (known: ${knownPortTypes().join(', ')})`);
  return ((await import(new URL(`./${type}${EXT}`, import.meta.url).href)) as { default: PortType }).default;
}

/** URL of the compiled module a device thread loads. */
export function portModuleUrl(type: string): string {
  return workerUrl(`switch/ports/${type}`).href;
}

export function knownPortTypes(): string[] {
  return ['gen', 'null', 'pcap', 'udp', 'stream', 'vxlan', 'virtio', 'vhost-user', 'afpacket', 'tap'].filter(portTypeExists);
}

/** Resolves a port's file options (PortType.pathOptions) against `dir`, in place. */
export async function resolvePortPaths(port: PortConfig, dir: string): Promise<void> {
  if (!portTypeExists(port.type)) return; // the meaning pass reports the unknown type
  for (const key of (await importPortType(port.type)).pathOptions ?? []) {
    const v = port[key];
    if (typeof v === 'string' && v !== '' && !path.isAbsolute(v)) port[key] = path.resolve(dir, v);
  }
}
