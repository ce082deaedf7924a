/**
 * AF_XDP-style application: counts what the switch redirects to its socket and drops it
 * (xdpsock's rxdrop). Runs as a worker started with startXskApp('examples/xsk/rx-drop', shared).
 */
import { runXskApp } from '../../switch/endpoints/xsk-app.js';

runXskApp({
  counters: ['packets', 'bytes'],
  setup(_sock, c) {
    return (_umem, _addr, length) => {
      c[0]++;
      c[1] += length;
    };
  },
});
