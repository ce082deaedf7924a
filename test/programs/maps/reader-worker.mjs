// Reader side of the torn-read test (runs the compiled maps from dist/). Reads one map in a
// loop until the main thread sets stop[0], checking every value it gets: words 1..3 must
// all equal (a writer writes them together) and word 0 must name the key it asked for.
import { parentPort, workerData } from 'node:worker_threads';
const { openMap } = await import(new URL('../../../dist/programs/maps/index.js', import.meta.url).href);

const { shared, kind, n, stopSab } = workerData;
const stop = new Int32Array(stopSab);
const map = openMap(shared, 0);
const out = new Int32Array(4);
const outBytes = new Uint8Array(out.buffer);
const key = new Uint8Array(shared.spec.keySize);
const addr = new Uint8Array(4);
let reads = 0, hits = 0, torn = 0, wrong = 0;
const first = [];
parentPort.postMessage('ready');
while (Atomics.load(stop, 0) === 0) {
  for (let i = 0; i < 256; i++) {
    const k = (reads * 7919 + i) % n;
    reads++;
    let hit;
    if (kind === 'lpm_trie') {
      addr[0] = 10; addr[1] = k; addr[2] = i; addr[3] = 1;
      hit = map.lookupAt(addr, 0, out) >= 0;
    } else if (kind === 'array') {
      hit = map.lookupIndexWords(k, out);
    } else {
      key[0] = k & 255; key[1] = k >> 8;
      hit = map.lookupInto(key, outBytes);
    }
    if (!hit) continue;
    hits++;
    if (out[1] !== out[2] || out[2] !== out[3]) { torn++; if (first.length < 5) first.push([...out]); }
    // An LPM miss of 10.k/16 falls back to 10/8, whose value names key 1000.
    else if (out[0] !== k && !(kind === 'lpm_trie' && out[0] === 1000)) { wrong++; if (first.length < 5) first.push([k, ...out]); }
  }
}
parentPort.postMessage({ reads, hits, torn, wrong, first });
