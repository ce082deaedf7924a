import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMap, openMap, type MapType } from '../../../programs/maps/index.js';
import { lpmKey } from '../../../programs/parse/addr.js';
import { randInt, rng } from '../rng.js';

// The reader runs the compiled maps: build once.
beforeAll(() => {
  // Workers run dist/, which `npm test` builds before the suite.
});

const N = 256;

function valueOf(k: number, g: number): Uint8Array {
  return new Uint8Array(Int32Array.of(k, g, g, g).buffer);
}

async function hammer(kind: MapType, maxEntries: number) {
  const keySize = kind === 'lpm_trie' ? 8 : kind === 'array' ? 4 : 2;
  const shared = createMap({ type: kind, keySize, valueSize: 16, maxEntries }, 1);
  const map = openMap(shared, 0);
  const keyOf = (k: number) =>
    kind === 'lpm_trie' ? lpmKey({ addr: Uint8Array.of(10, k, 0, 0), len: 16 }) : kind === 'array' ? Uint8Array.of(k, 0, 0, 0) : Uint8Array.of(k & 255, k >> 8);
  if (kind === 'lpm_trie') map.update(lpmKey({ addr: Uint8Array.of(10, 0, 0, 0), len: 8 }), valueOf(1000, 0));
  if (kind === 'array') for (let k = 0; k < N; k++) map.update(keyOf(k), valueOf(k, 0)); // every element exists
  const stopSab = new SharedArrayBuffer(4);
  const worker = new Worker(new URL('./reader-worker.mjs', import.meta.url), { workerData: { shared, kind, n: N, stopSab } });
  const done = new Promise<{ reads: number; hits: number; torn: number; wrong: number; first: number[][] }>((resolve, reject) => {
    worker.on('message', (m) => m !== 'ready' && resolve(m));
    worker.on('error', reject);
  });
  await new Promise<void>((resolve) => worker.once('message', () => resolve()));
  const r = rng(7);
  let writes = 0;
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    for (let i = 0; i < 1000; i++, writes++) {
      const k = randInt(r, N);
      const x = r();
      if (kind !== 'array' && x < 0.3) map.delete(keyOf(k));
      else map.update(keyOf(k), valueOf(k, writes));
    }
  }
  Atomics.store(new Int32Array(stopSab), 0, 1);
  const res = await done;
  await worker.terminate();
  return { ...res, writes };
}

describe('maps under concurrent writes from the main thread while a Worker reads', () => {
  const cases: [MapType, number][] = [
    ['hash', N],
    ['lru_hash', N / 2], // smaller than the key set: inserts evict all the time
    ['lpm_trie', N + 1],
    ['array', N],
  ];
  for (const [kind, max] of cases) {
    it(`${kind}: no torn value and no value of another key`, async () => {
      const res = await hammer(kind, max);
      expect(res.first, JSON.stringify(res.first)).toEqual([]);
      expect(res.torn).toBe(0);
      expect(res.wrong).toBe(0);
      expect(res.writes).toBeGreaterThan(10_000);
      expect(res.hits).toBeGreaterThan(10_000);
    });
  }
});
