/**
 * xdp — the data path's headline figures, as xdp-bench reports them: one `gen` device
 * feeding one queue worker with 64-byte frames, running
 *   drop      (reads each packet's Ethernet header, as xdp-bench's read-data)
 *   tx        (swaps MACs and hairpins out of the ingress port)
 *   redirect  (to a second port)
 * and in the same run three references:
 *   ref:postmessage  one postMessage per packet carrying its bytes to a worker running drop
 *   ref:piscina      a piscina pool running drop over batches of 64 packets
 *   ref:ring         the bare ring: descriptors passed between two threads, no program
 */
import { Switch } from '../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';
import { line, rate, type BenchMode, type BenchResult } from '../harness.js';
import { postMessageRate } from '../baselines/postmessage.js';
import { piscinaRate } from '../baselines/piscina.js';
import { ringCeiling } from '../baselines/ring.js';

interface Case {
  mode: 'drop' | 'tx' | 'redirect';
  banner: string;
  program: { name: string; params: Record<string, unknown> };
}

const CASES: Case[] = [
  { mode: 'drop', banner: 'Dropping packets on gen0 (ifindex 1; driver xswitch-gen)', program: { name: 'drop', params: { readData: true } } },
  { mode: 'tx', banner: 'Hairpinning (XDP_TX) packets on gen0 (ifindex 1; driver xswitch-gen)', program: { name: 'tx', params: {} } },
  { mode: 'redirect', banner: 'Redirecting from gen0 (ifindex 1; driver xswitch-gen) to out0 (ifindex 2; driver xswitch-null)', program: { name: 'redirect', params: { port: 'out0' } } },
];

/**
 * Runs one switch case — a gen device (64-byte frames) feeding one queue worker running
 * `program`, egress ports as given — and returns the queue's rate in packets/s with the
 * exit breakdown. `prepare` runs once the switch is up (fill maps, …).
 */
export async function switchRate(
  program: { name: string; params: Record<string, unknown> },
  seconds: number,
  opts: { ports?: SwitchConfig['ports']; flows?: number; prepare?: (sw: Switch) => void } = {},
) {
  const config: SwitchConfig = {
    ...CONFIG_DEFAULTS,
    queues: 1,
    ports: [{ name: 'gen0', type: 'gen', flows: opts.flows ?? 64, size: 64 }, ...(opts.ports ?? [{ name: 'out0', type: 'null' }])],
    programs: [{ queues: [0], chain: [{ ...program, continueOn: [] }] }],
  };
  const sw = await Switch.start(config);
  opts.prepare?.(sw);
  const q = () => sw.stats().queues;
  const pps = await rate(() => q().rx0_packets, seconds);
  const s = q();
  const summary = await sw.stop();
  return {
    pps,
    drop: s.rx0_xdp_drop,
    tx: s.rx0_xdp_tx_xmit,
    redirect: s.rx0_xdp_redirect,
    txFull: s.rx0_xdp_tx_full,
    ringFull: summary.stats.ports.gen0.rx_ring_full,
    unaccounted: summary.unaccounted,
  };
}

const mode: BenchMode = {
  name: 'xdp',
  description: 'drop / tx / redirect through one queue worker fed by one gen device, against postMessage, piscina and bare-ring references',
  async run(opts, report) {
    const refs: BenchResult[] = [];
    const say = (r: BenchResult, label: string, cols: [number, string][]) => {
      report(r);
      if (!opts.json) console.log(line(label, cols));
    };
    const pm = await postMessageRate(opts.seconds);
    const pmRes = { mode: 'ref:postmessage', mpps: pm / 1e6 };
    refs.push(pmRes);
    say(pmRes, 'ref:postmessage', [[pm, 'rx/s'], [pm, 'err,drop/s']]);
    const pi = await piscinaRate(opts.seconds);
    const piRes = { mode: 'ref:piscina', mpps: pi / 1e6 };
    refs.push(piRes);
    say(piRes, 'ref:piscina', [[pi, 'rx/s'], [pi, 'err,drop/s']]);
    const ring = await ringCeiling(opts.seconds);
    const ringRes = { mode: 'ref:ring', mpps: ring / 1e6 };
    say(ringRes, 'ref:ring', [[ring, 'rx/s']]);
    const targets: Record<string, number> = { drop: 40, tx: 20, redirect: 15 };
    for (const c of CASES) {
      if (!opts.json) console.log(c.banner);
      const r = await switchRate(c.program, opts.seconds);
      const res: BenchResult = {
        mode: c.mode,
        mpps: r.pps / 1e6,
        targetMpps: targets[c.mode],
        vsPostMessage: r.pps / pm,
        vsPiscina: r.pps / pi,
        ofRingCeiling: r.pps / ring,
        txFull: r.txFull,
        rxRingFull: r.ringFull,
        unaccounted: r.unaccounted,
      };
      const cols: [number, string][] =
        c.mode === 'drop' ? [[r.pps, 'rx/s'], [r.pps, 'err,drop/s']] : c.mode === 'tx' ? [[r.pps, 'rx/s'], [r.pps, 'xmit/s']] : [[r.pps, 'rx/s'], [r.pps, 'redir/s']];
      say(res, 'Summary', cols);
      if (!opts.json) {
        console.log(`  ${c.mode}: ${(r.pps / 1e6).toFixed(2)} Mpps (target ${targets[c.mode]}), ${(r.pps / pm).toFixed(1)}× postMessage, ${(r.pps / pi).toFixed(1)}× piscina, ${((100 * r.pps) / ring).toFixed(0)}% of the bare ring`);
      }
    }
  },
};
export default mode;
