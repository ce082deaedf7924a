/**
 * Maps: shared-memory key/value stores every queue worker and the control plane see.
 *
 * A map is created once in the main thread from its MapSpec (createMap), crosses to each
 * worker as a SharedMap (plain data + SharedArrayBuffers, structured-cloneable), and is
 * attached there with openMap. The map types live one per file beside this one; the
 * concurrency scheme they share (writer lock + per-entry seqlock) is in shared.ts.
 *
 * Beyond XdpMap, each type offers hot-path methods that do not allocate (documented in
 * its file): ArrayMap.lookupIndexWords/readWord/addU64, HashMap.keyBytes + findScratch/
 * lookupScratch/acquire/release/updateScratch, LpmTrie.lookupAt/lookupV4 (straight from
 * packet bytes), and redirectLookup on devmap, devmap_hash, xskmap and cpumap.
 */
import { ArrayMap, createArray } from './array.js';
import { Cpumap, createCpumap } from './cpumap.js';
import { DevmapHash, createDevmapHash } from './devmap-hash.js';
import { Devmap, createDevmap } from './devmap.js';
import { HashMap, createHash } from './hash.js';
import { LpmTrie, createLpmTrie } from './lpm-trie.js';
import type { MapSpec, MapType, SharedMap, XdpMap } from './map.js';
import { MapError } from './shared.js';
import { Xskmap, createXskmap } from './xskmap.js';

export { MapError, BPF_ANY, BPF_NOEXIST, BPF_EXIST, MAP_TYPE_IDS } from './shared.js';
export { ArrayMap } from './array.js';
export { HashMap } from './hash.js';
export { LpmTrie } from './lpm-trie.js';
export { Devmap } from './devmap.js';
export { DevmapHash } from './devmap-hash.js';
export { Xskmap } from './xskmap.js';
export { Cpumap } from './cpumap.js';

export type { MapType, MapSpec, SharedMap, XdpMap } from './map.js';

interface MapImpl {
  create(spec: MapSpec, queues: number): SharedMap;
  open(shared: SharedMap, queue: number): XdpMap;
}

const IMPLS: Record<MapType, MapImpl> = {
  array: { create: (s) => createArray(s, 1), open: (m, q) => new ArrayMap(m, q) },
  percpu_array: { create: (s, n) => createArray(s, n), open: (m, q) => new ArrayMap(m, q) },
  hash: { create: (s) => createHash(s, 1), open: (m, q) => new HashMap(m, q) },
  percpu_hash: { create: (s, n) => createHash(s, n), open: (m, q) => new HashMap(m, q) },
  lru_hash: { create: (s) => createHash(s, 1), open: (m, q) => new HashMap(m, q) },
  lpm_trie: { create: (s) => createLpmTrie(s), open: (m, q) => new LpmTrie(m, q) },
  devmap: { create: (s, n) => createDevmap(s, n), open: (m, q) => new Devmap(m, q) },
  devmap_hash: { create: (s, n) => createDevmapHash(s, n), open: (m, q) => new DevmapHash(m, q) },
  xskmap: { create: (s, n) => createXskmap(s, n), open: (m, q) => new Xskmap(m, q) },
  cpumap: { create: (s, n) => createCpumap(s, n), open: (m, q) => new Cpumap(m, q) },
};

function impl(type: string): MapImpl {
  const i = (IMPLS as Record<string, MapImpl | undefined>)[type];
  if (!i) throw new MapError(`unknown map type '${type}' (known: ${Object.keys(IMPLS).join(', ')})`);
  return i;
}

/** Main thread: allocates the map's shared memory. `queues` = the switch's queue count. */
export function createMap(spec: MapSpec, queues: number): SharedMap {
  if (!Number.isInteger(queues) || queues < 1) throw new MapError(`createMap: queues must be a positive integer, got ${queues}`);
  // Copy the spec: it crosses threads and must not be shared with the module's object.
  const s: MapSpec = { type: spec.type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: spec.maxEntries, flags: spec.flags ?? 0 };
  const shared = impl(s.type).create(s, queues);
  shared.queues = queues;
  return shared;
}

/** Any thread: attaches a map. `queue` picks the copy a per-queue map's hot path uses. */
export function openMap(shared: SharedMap, queue: number): XdpMap {
  return impl(shared.spec.type).open(shared, queue);
}
