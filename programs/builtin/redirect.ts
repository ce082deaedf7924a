/**
 * redirect — send every packet out of one port (bpf_redirect), optionally by ingress:
 * `port` sends everything to one port; `pairs` forwards between two ports both ways
 * (a two-port wire: what comes in on one goes out of the other).
 *
 * Parameters: `port` (port name or ifindex), or `pairs` (two port names).
 * Maps: none.
 */
import { defineProgram } from '../program.js';
import { Verdict } from '../verdicts.js';
import type { PortInfo } from '../program.js';

function ifindexOf(ports: PortInfo[], name: string): number {
  const p = ports.find((x) => x.name === name || String(x.ifindex) === name);
  if (!p) throw new Error(`redirect: no port named '${name}' (ports: ${ports.map((x) => x.name).join(', ')})`);
  return p.ifindex;
}

export default defineProgram({
  name: 'redirect',
  description: 'Redirect every packet to a port (or between a pair of ports)',
  // Reads nothing of the packet: a super-frame crosses whole (BPF_F_XDP_HAS_FRAGS).
  frags: true,
  params: {
    port: { type: 'string', description: 'egress port name or ifindex' },
    pairs: { type: 'string[]', description: 'two port names forwarded to each other' },
  },
  create(env) {
    const pairs = env.params.pairs as string[] | undefined;
    if (pairs !== undefined) {
      if (pairs.length !== 2) throw new Error('redirect: pairs takes exactly two port names');
      const a = ifindexOf(env.ports, pairs[0]);
      const b = ifindexOf(env.ports, pairs[1]);
      return (ctx) => (ctx.ingressIfindex === a ? ctx.redirect(b) : ctx.ingressIfindex === b ? ctx.redirect(a) : Verdict.ABORTED);
    }
    if (env.params.port === undefined) throw new Error('redirect: give `port` or `pairs`');
    const out = ifindexOf(env.ports, String(env.params.port));
    return (ctx) => ctx.redirect(out);
  },
});
