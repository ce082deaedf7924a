/**
 * xdp — the data path's headline figures, as xdp-bench reports them, 64-byte frames:
 *   drop      (reads each packet's Ethernet header, as xdp-bench's read-data)
 *   tx        (swaps MACs and hairpins out of the ingress port)
 *   redirect  (to a second port, `null`)
 * `drop`, `tx`, `redirect` are per-queue figures, run to completion: queue worker 0 polls
 * its RX queue of a `gen` port that recycles pre-written frames (pktgen's clone_skb, as a
 * NIC's DMA costs the CPU nothing), runs the program and transmits on the egress port's
 * queue side itself — one thread. The `:e2e` rows are today's pipeline in the same run: a
 * device thread writes every frame and steers it into the worker's ring (a thread hop);
 * their ratio is what run to completion buys.
 * Honest rates, as xdp-bench prints them: rx/s is what the queue took; xmit/s and redir/s
 * what actually left (xdp_tx_xmit, xdp_redirect); err/s the TX-side-full drops (xdp_tx_full).
 * In the same run three references:
 *   ref:postmessage  one postMessage per packet carrying its bytes to a worker running drop
 *   ref:piscina      a piscina pool running drop over batches of 64 packets
 *   ref:ring         the bare ring: descriptors passed between two threads, no program
 */
import { Switch } from '../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';
import { line, sleep, type BenchMode, type BenchResult } from '../harness.js';
import { postMessageRate } from '../baselines/postmessage.js';
import { piscinaRate } from '../baselines/piscina.js';
import { ringCeiling } from '../baselines/ring.js';

interface Case {
  mode: string;
  kind: 'drop' | 'tx' | 'redirect';
  banner: string;
  program: { name: string; params: Record<string, unknown> };
  gen: Record<string, unknown>;
}

/** Per-queue, run to completion on pre-written frames. */
const RTC = { recycle: true };
/** Today's pipeline: the device thread writes every frame and hands it to the worker's ring. */
const E2E = { thread: 'device' };
const DROP = { name: 'drop', params: { readData: true } };
const TX = { name: 'tx', params: {} };
const REDIRECT = { name: 'redirect', params: { port: 'out0' } };
const CASES: Case[] = [
  { mode: 'drop', kind: 'drop', banner: 'Dropping packets on gen0 (ifindex 1; driver xswitch-gen, queue 0 polled by its worker, pre-written frames)', program: DROP, gen: RTC },
  { mode: 'tx', kind: 'tx', banner: 'Hairpinning (XDP_TX) packets on gen0 (ifindex 1; driver xswitch-gen, queue 0 polled by its worker, pre-written frames)', program: TX, gen: RTC },
  { mode: 'redirect', kind: 'redirect', banner: 'Redirecting from gen0 (ifindex 1; driver xswitch-gen, pre-written frames) to out0 (ifindex 2; driver xswitch-null)', program: REDIRECT, gen: RTC },
  { mode: 'drop:e2e', kind: 'drop', banner: 'Dropping packets on gen0 (device thread writes every frame → ring → worker)', program: DROP, gen: E2E },
  { mode: 'tx:e2e', kind: 'tx', banner: 'Hairpinning (XDP_TX) on gen0 (device thread writes every frame → ring → worker → ring → device)', program: TX, gen: E2E },
  { mode: 'redirect:e2e', kind: 'redirect', banner: 'Redirecting gen0 → out0 (device thread writes every frame → ring → worker → null queue side)', program: REDIRECT, gen: E2E },
];

/**
 * Runs one switch case — a gen device (64-byte frames) feeding one queue worker running
 * `program`, egress ports as given — and returns the queue's rate in packets/s with the
 * exit breakdown. `prepare` runs once the switch is up (fill maps, …).
 */
export async function switchRate(
  program: { name: string; params: Record<string, unknown> },
  seconds: number,
  opts: { ports?: SwitchConfig['ports']; flows?: number; prepare?: (sw: Switch) => void; gen?: Record<string, unknown> } = {},
) {
  const config: SwitchConfig = {
    ...CONFIG_DEFAULTS,
    queues: 1,
    ports: [{ name: 'gen0', type: 'gen', flows: opts.flows ?? 64, size: 64, ...(opts.gen ?? {}) }, ...(opts.ports ?? [{ name: 'out0', type: 'null' }])],
    programs: [{ queues: [0], chain: [{ ...program, continueOn: [] }] }],
  };
  const sw = await Switch.start(config);
  opts.prepare?.(sw);
  const q = () => sw.stats().queues;
  const r = await rates(() => {
    const s = q();
    return [s.rx0_packets, s.rx0_xdp_tx_xmit, s.rx0_xdp_redirect, s.rx0_xdp_tx_full];
  }, seconds);
  const s = q();
  const summary = await sw.stop();
  return {
    pps: r[0],
    /** Transmitted (XDP_TX that left), redirected, and TX-side-full drops, per second. */
    xmitPps: r[1],
    redirectPps: r[2],
    errPps: r[3],
    drop: s.rx0_xdp_drop,
    tx: s.rx0_xdp_tx_xmit,
    redirect: s.rx0_xdp_redirect,
    txFull: s.rx0_xdp_tx_full,
    ringFull: summary.stats.ports.gen0.rx_ring_full,
    unaccounted: summary.unaccounted,
  };
}

/** Per-second rates of several growing counters sampled together (after a warm-up). */
async function rates(read: () => number[], seconds: number, warmup = 0.5): Promise<number[]> {
  await sleep(warmup * 1000);
  const t0 = process.hrtime.bigint();
  const a = read();
  await sleep(seconds * 1000);
  const b = read();
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  return b.map((v, i) => (v - a[i]) / dt);
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
    const perQueue: Record<string, number> = {};
    for (const c of CASES) {
      if (!opts.json) console.log(c.banner);
      const r = await switchRate(c.program, opts.seconds, { gen: c.gen });
      // The headline is what the verdict achieved: packets dropped, transmitted, redirected.
      const out = c.kind === 'drop' ? r.pps - r.errPps : c.kind === 'tx' ? r.xmitPps : r.redirectPps;
      const base = c.mode.endsWith(':e2e') ? perQueue[c.kind] : undefined;
      if (base === undefined) perQueue[c.kind] = out;
      const res: BenchResult = {
        mode: c.mode,
        mpps: out / 1e6,
        rxMpps: r.pps / 1e6,
        errMpps: r.errPps / 1e6,
        targetMpps: targets[c.mode],
        vsPostMessage: out / pm,
        vsPiscina: out / pi,
        ofRingCeiling: out / ring,
        // The per-queue row against its own end-to-end row, measured in the same run.
        ...(base !== undefined ? { perQueueOverE2e: base / out } : {}),
        ...(c.mode === 'redirect' && perQueue.drop ? { ofDrop: out / perQueue.drop } : {}),
        txFull: r.txFull,
        rxRingFull: r.ringFull,
        unaccounted: r.unaccounted,
      };
      const cols: [number, string][] =
        c.kind === 'drop'
          ? [[r.pps, 'rx/s'], [r.pps, 'err,drop/s']]
          : c.kind === 'tx'
            ? [[r.pps, 'rx/s'], [r.xmitPps, 'xmit/s'], [r.errPps, 'err/s']]
            : [[r.pps, 'rx/s'], [r.redirectPps, 'redir/s'], [r.errPps, 'err/s']];
      say(res, 'Summary', cols);
      if (!opts.json) {
        const target = targets[c.mode] !== undefined ? ` (target ${targets[c.mode]})` : '';
        const vs = base !== undefined ? `, per-queue row ${(base / out).toFixed(1)}× this` : '';
        console.log(`  ${c.mode}: ${(out / 1e6).toFixed(2)} Mpps${target}, ${(out / pm).toFixed(1)}× postMessage, ${(out / pi).toFixed(1)}× piscina, ${((100 * out) / ring).toFixed(0)}% of the bare ring${vs}`);
      }
    }
  },
};
export default mode;
