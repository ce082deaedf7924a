/**
 * Maps: shared-memory key/value stores every queue worker and the control plane see.
 *
 * A map is created once in the main thread from its MapSpec (createMap), crosses to each
 * worker as a SharedMap (plain data + SharedArrayBuffers, structured-cloneable), and is
 * attached there with openMap. The map types live one per file beside this one.
 */
export type MapType =
  | 'array'
  | 'percpu_array'
  | 'hash'
  | 'percpu_hash'
  | 'lru_hash'
  | 'lpm_trie'
  | 'devmap'
  | 'devmap_hash'
  | 'xskmap'
  | 'cpumap';

export interface MapSpec {
  type: MapType;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
}

/** A map as it crosses threads. */
export interface SharedMap {
  spec: MapSpec;
  /** Number of per-queue copies for percpu maps. */
  queues: number;
  buffers: SharedArrayBuffer[];
}

/** A map attached in one thread. Keys and values are byte arrays of the spec's sizes. */
export interface XdpMap {
  readonly spec: MapSpec;
  /** Copies the value for `key` into `out` (valueSize bytes); false when absent. Does not allocate. */
  lookupInto(key: Uint8Array, out: Uint8Array): boolean;
  /** Inserts or replaces; throws MapError (full map, bad sizes, BPF_NOEXIST/BPF_EXIST). */
  update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  /** Removes `key`; false when absent. */
  delete(key: Uint8Array): boolean;
  /** Every (key, value) pair (control plane; allocates). */
  entries(): Iterable<[Uint8Array, Uint8Array]>;
}

export class MapError extends Error {}

export function createMap(spec: MapSpec, queues: number): SharedMap {
  throw new MapError(`map type '${spec.type}' is not available yet (queues ${queues})`);
}

export function openMap(shared: SharedMap, queue: number): XdpMap {
  throw new MapError(`map type '${shared.spec.type}' is not available yet (queue ${queue})`);
}
