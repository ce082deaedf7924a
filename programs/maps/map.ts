/**
 * The map contract: what a map is (its spec), how it crosses threads (SharedMap) and what
 * every attached map offers (XdpMap). The types implement it one per file beside this one;
 * index.ts is the registry that creates and opens them by type name.
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
  /** Number of per-queue copies for percpu maps (the switch's queue count for the others). */
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
  /** Every (key, value) pair (control plane; allocates). Per-queue maps: queues × round_up(valueSize, 8) bytes. */
  entries(): Iterable<[Uint8Array, Uint8Array]>;
}
