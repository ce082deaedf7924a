/** The worker side of the postMessage reference: the drop program's work per message. */
import { parentPort } from 'node:worker_threads';

let n = 0;
let sink = 0;
parentPort!.on('message', (b: Uint8Array) => {
  sink ^= (b[12] << 8) | b[13]; // read the EtherType, as drop's read-data does
  if ((++n & 255) === 0) parentPort!.postMessage(n + (sink & 0));
});
