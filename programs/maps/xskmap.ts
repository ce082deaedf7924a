/**
 * BPF_MAP_TYPE_XSKMAP: slot → socket endpoint, for bpf_redirect_map to an AF_XDP-style
 * socket. Value: the endpoint id (u32) the switch gave the socket when it bound.
 * A present slot sets REDIRECT_XSK with redirectIndex = endpoint id; an empty slot is a
 * miss (the low two flag bits are the verdict). Whether the endpoint is bound to this
 * queue is the queue worker's check (SPEC §4: a mismatch drops).
 */
import { Redirect, type RedirectMap, type XdpContext } from '../context.js';
import type { MapSpec, SharedMap } from './map.js';
import { SLOT_HEADER, SlotMap, createSlotMap } from './slot-map.js';

export function createXskmap(spec: MapSpec, queues: number): SharedMap {
  return createSlotMap(spec, queues, [4]);
}

export class Xskmap extends SlotMap implements RedirectMap {
  constructor(shared: SharedMap, _queue: number) {
    super(shared);
  }

  protected check(): void {}

  redirectLookup(ctx: XdpContext, key: number, _flags: number): boolean {
    if (key >>> 0 !== key || key >= this.maxEntries) return false;
    const id = this.words[SLOT_HEADER + key] - 1; // one word, tear-free
    if (id < 0) return false;
    ctx.redirectKind = Redirect.XSK;
    ctx.redirectIndex = id;
    return true;
  }
}
