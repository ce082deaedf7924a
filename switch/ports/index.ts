/**
 * Port types by name: each is switch/ports/<type>.ts, default-exporting a PortType.
 * The main thread imports a type to validate options and learn its counters; the device
 * thread imports the compiled module by URL.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PortType } from './port.js';
import { workerUrl } from '../worker-url.js';

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
  return ['gen', 'null', 'pcap', 'udp', 'stream', 'vxlan', 'virtio'].filter(portTypeExists);
}
