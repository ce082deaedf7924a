/**
 * Guest program: transmits fixed frames as fast as its TX ring allows (a pktgen inside a
 * VM), for the VM → VM benchmark. params: dstMac (default broadcast), size (default 64),
 * count (0 = forever), spread (how many TX queue pairs to send on in turn, default 1).
 */
import { defineGuest } from '../../guest/program.js';
import { macBytes, put16 } from '../../lib/net/packets.js';

const frame = new Uint8Array(1514);
let size = 64;
let count = 0;
let sent = 0;
let spread = 1;

export default defineGuest({
  counters: ['blasted'],
  start(env) {
    const dst = macBytes(typeof env.params.dstMac === 'string' ? env.params.dstMac : 'ff:ff:ff:ff:ff:ff');
    frame.set(dst, 0);
    frame.set(env.mac, 6);
    put16(frame, 12, 0x88b5); // IEEE local experimental ethertype
    size = typeof env.params.size === 'number' ? env.params.size : 64;
    count = typeof env.params.count === 'number' ? env.params.count : 0;
    spread = typeof env.params.spread === 'number' ? Math.max(1, env.params.spread) : 1;
  },
  receive() {},
  tick(env) {
    const c = env.counterIndex('blasted');
    let n = 0;
    for (; n < 256 && (count === 0 || sent < count); n++) {
      if (!env.send(frame, 0, size, spread === 1 ? 0 : sent % spread)) break;
      sent++;
      env.counters[c]++;
    }
    return n;
  },
});
