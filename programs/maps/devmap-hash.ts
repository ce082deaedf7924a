/**
 * BPF_MAP_TYPE_DEVMAP_HASH: like devmap, but keys are any u32 (e.g. an ifindex or a
 * tenant id), not dense indices. Value: the egress port's ifindex (u32). Broadcast scans
 * the entries (a devmap_hash holds a handful of ports). Built on the hash map.
 */
import { Redirect, type RedirectMap, type XdpContext } from '../context.js';
import { BPF_F_BROADCAST } from '../verdicts.js';
import { markBroadcast } from './devmap.js';
import { HashMap, createHash } from './hash.js';
import type { MapSpec, SharedMap } from './map.js';
import { MapError } from './shared.js';

export function createDevmapHash(spec: MapSpec, queues: number): SharedMap {
  if (spec.keySize !== 4 || spec.valueSize !== 4) throw new MapError(`devmap_hash map: keySize and valueSize must be 4, got ${spec.keySize}/${spec.valueSize}`);
  return createHash(spec, queues);
}

export class DevmapHash extends HashMap implements RedirectMap {
  private readonly one = new Int32Array(2);

  override update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    if (value.length === 4 && new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true) < 1)
      throw new MapError('devmap_hash update: ifindex must be at least 1 (ifindex = port index + 1)');
    super.update(key, value, flags);
  }

  redirectLookup(ctx: XdpContext, key: number, flags: number): boolean {
    if ((flags & BPF_F_BROADCAST) !== 0) {
      const exclude = markBroadcast(ctx, flags);
      let any = false;
      for (let e = 0; e < this.maxEntries; e++) {
        if (!this.isUsed(e)) continue;
        const port = this.words[this.valueWord(e)] - 1; // one word: tear-free
        if (port < 0 || port >= ctx.portCount || port === exclude) continue;
        ctx.broadcastPorts[port] = 1;
        any = true;
      }
      if (!any) return false;
      ctx.redirectKind = Redirect.BROADCAST;
      return true;
    }
    this.keyWords[0] = key;
    if (!this.lookupScratch(this.one)) return false;
    const port = this.one[0] - 1;
    if (port < 0 || port >= ctx.portCount) return false;
    ctx.redirectKind = Redirect.PORT;
    ctx.redirectIndex = port;
    return true;
  }
}
