/**
 * BPF_MAP_TYPE_CPUMAP: key = destination queue, value = queue size (bpf_cpumap_val.qsize,
 * > 0; optionally followed by a program fd word, which must be 0). A present key sets
 * REDIRECT_CPU with redirectIndex = the key: the packet is re-steered to that queue's
 * worker, which runs its own chain on it. Keys must be below the switch's queue count.
 */
import { Redirect, type RedirectMap, type XdpContext } from '../context.js';
import type { MapSpec, SharedMap } from './map.js';
import { MapError } from './shared.js';
import { SLOT_HEADER, SlotMap, createSlotMap } from './slot-map.js';

export function createCpumap(spec: MapSpec, queues: number): SharedMap {
  return createSlotMap(spec, queues, [4, 8]);
}

export class Cpumap extends SlotMap implements RedirectMap {
  constructor(shared: SharedMap, _queue: number) {
    super(shared);
  }

  protected check(index: number, qsize: number): void {
    if (index >= this.queues) throw new MapError(`cpumap update: queue ${index} does not exist (the switch has ${this.queues} queues)`);
    if (qsize < 1) throw new MapError('cpumap update: qsize must be at least 1');
  }

  redirectLookup(ctx: XdpContext, key: number, _flags: number): boolean {
    if (key >>> 0 !== key || key >= this.maxEntries || key >= this.queues) return false;
    if (this.words[SLOT_HEADER + key] === 0) return false; // one word, tear-free
    ctx.redirectKind = Redirect.CPU;
    ctx.redirectIndex = key;
    return true;
  }
}
