/**
 * XDP program for AF_XDP-style sockets, as xdpsock's kernel side: redirect every packet
 * into the xskmap slot of its RX queue (bpf_redirect_map(&xsks, rx_queue_index, XDP_DROP)).
 * A queue whose slot is empty drops. params.ids[q] fills slot q with an endpoint id at
 * load time (sw.bindEndpoint(q, id, …) binds the socket under that id).
 */
import { defineProgram } from '../../programs/program.js';
import type { RedirectMap } from '../../programs/context.js';
import { XDP_DROP } from '../../programs/verdicts.js';

const u32 = (v: number) => new Uint8Array(Uint32Array.of(v).buffer);

export default defineProgram({
  name: 'xsk-redirect',
  description: 'Redirect every packet to the AF_XDP-style socket in its queue’s xskmap slot',
  params: { ids: { type: 'number[]', default: [], description: 'endpoint id per slot (queue); -1 leaves it empty' } },
  maps: () => ({ xsks: { type: 'xskmap', keySize: 4, valueSize: 4, maxEntries: 64 } }),
  setup(env) {
    (env.params.ids as number[]).forEach((id, q) => {
      if (id >= 0) env.maps.xsks.update(u32(q), u32(id));
    });
  },
  create(env) {
    const xsks = env.maps.xsks as unknown as RedirectMap;
    return (ctx) => ctx.redirectMap(xsks, ctx.rxQueueIndex, XDP_DROP);
  },
});
