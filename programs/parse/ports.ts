/** Port names in program parameters: a port's name or its ifindex (port index + 1). */
import type { PortInfo } from '../program.js';

export function resolveIfindex(ports: PortInfo[], what: string, nameOrIndex: string): number {
  const p = ports.find((x) => x.name === nameOrIndex);
  if (p) return p.ifindex;
  if (/^[1-9]\d*$/.test(nameOrIndex)) return Number(nameOrIndex);
  const known = ports.length ? ports.map((x) => `${x.name} (${x.ifindex})`).join(', ') : 'none known: give an ifindex';
  throw new Error(`${what}: no port named '${nameOrIndex}' (ports: ${known})`);
}
