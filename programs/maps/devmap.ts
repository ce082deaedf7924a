/**
 * BPF_MAP_TYPE_DEVMAP: slot → egress port, for bpf_redirect_map.
 *
 * Value: the port's ifindex (port index + 1), u32, or bpf_devmap_val { ifindex, prog fd = 0 }.
 * redirectMap(devmap, key, flags):
 *   - a present key sets REDIRECT_PORT with redirectIndex = ifindex − 1;
 *   - BPF_F_BROADCAST ignores the key and marks ctx.broadcastPorts for every port in the
 *     map (not the ingress port with BPF_F_EXCLUDE_INGRESS) and sets REDIRECT_BROADCAST;
 *     with no port left it is a miss;
 *   - a miss (absent key, or an ifindex the switch has no port for) returns false and the
 *     context returns the low two flag bits as the verdict.
 */
import { Redirect, type RedirectMap, type XdpContext } from '../context.js';
import { BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS } from '../verdicts.js';
import type { MapSpec, SharedMap } from './map.js';
import { MapError } from './shared.js';
import { H_HIGH, SLOT_HEADER, SlotMap, createSlotMap } from './slot-map.js';

export function createDevmap(spec: MapSpec, queues: number): SharedMap {
  return createSlotMap(spec, queues, [4, 8]);
}

/** Clears ctx.broadcastPorts; returns the port index to leave out (-1: none). Shared with devmap_hash. */
export function markBroadcast(ctx: XdpContext, flags: number): number {
  ctx.broadcastPorts.fill(0);
  return (flags & BPF_F_EXCLUDE_INGRESS) !== 0 ? ctx.ingressIfindex - 1 : -1;
}

export class Devmap extends SlotMap implements RedirectMap {
  constructor(shared: SharedMap, _queue: number) {
    super(shared);
  }

  protected check(_index: number, ifindex: number): void {
    if (ifindex < 1) throw new MapError(`devmap update: ifindex ${ifindex} is not a port (ifindex = port index + 1, from 1)`);
  }

  redirectLookup(ctx: XdpContext, key: number, flags: number): boolean {
    const w = this.words;
    if ((flags & BPF_F_BROADCAST) !== 0) {
      const exclude = markBroadcast(ctx, flags);
      const ports = ctx.portCount;
      let any = false;
      const high = Atomics.load(w, H_HIGH); // pairs with the store in SlotMap.update()
      for (let i = 0; i < high; i++) {
        const port = w[SLOT_HEADER + i] - 2; // one word, tear-free: ifindex − 1
        if (port < 0 || port >= ports || port === exclude) continue;
        ctx.broadcastPorts[port] = 1;
        any = true;
      }
      if (!any) return false;
      ctx.redirectKind = Redirect.BROADCAST;
      return true;
    }
    if (key >>> 0 !== key || key >= this.maxEntries) return false;
    const port = w[SLOT_HEADER + key] - 2; // one word, tear-free; the port it names needs no other data
    if (port < 0 || port >= ctx.portCount) return false;
    ctx.redirectKind = Redirect.PORT;
    ctx.redirectIndex = port;
    return true;
  }
}
