/**
 * One QueueEngine run in the calling thread, as a queue worker runs it, with no other
 * thread involved: queue 0 polls its RX queue of a `gen` port that recycles pre-written
 * frames (pktgen's clone_skb), runs the program and transmits on the egress port's queue
 * side itself. What the `engine` bench mode measures (thread CPU time per packet) and what
 * a profiler (`node --cpu-prof dist/bench/engine/profile.js CASE`) looks at.
 *
 * Cases: drop, tx, redirect (to a `null` port), xsk (xskmap redirect into an AF_XDP-style
 * socket whose application side this thread drains between timed stretches, untimed).
 * Each case should run in a fresh thread (bench/engine/worker.ts): V8's type feedback of
 * one case must not make the next case's call sites polymorphic, as no real worker sees.
 */
import { createLayout } from '../../switch/layout.js';
import { QueueEngine } from '../../switch/queue-engine.js';
import { instantiate, loadProgram } from '../../programs/loader.js';
import { CONFIG_DEFAULTS } from '../../switch/config-types.js';
import genType from '../../switch/ports/gen.js';
import nullType from '../../switch/ports/null.js';
import { createXskShared } from '../../switch/endpoints/xsk-shared.js';
import { openXskEndpoint } from '../../switch/endpoints/xsk.js';
import { XskSocket } from '../../switch/endpoints/xsk-socket.js';
import { Q } from '../../switch/counters.js';
import { threadCpuNs } from '../../lib/native/cputime.js';

export const ENGINE_CASES = ['drop', 'tx', 'redirect', 'xsk'] as const;
export type EngineCase = (typeof ENGINE_CASES)[number];

export interface EngineRig {
  engine: QueueEngine;
  /** Runs breaths until `n` packets were taken; returns thread CPU ns spent in the breaths. */
  run(n: number): { packets: number; ns: number };
  /** The same without reading the clock (for a profiler). */
  spin(n: number): number;
}

const PROGRAMS: Record<EngineCase, { name: string; params: Record<string, unknown> }> = {
  drop: { name: 'drop', params: { readData: true } },
  tx: { name: 'tx', params: {} },
  redirect: { name: 'redirect', params: { port: 'out0' } },
  xsk: { name: new URL('../../examples/xsk/redirect-program.js', import.meta.url).pathname, params: { ids: [0] } },
};

export async function engineRig(kase: EngineCase): Promise<EngineRig> {
  const portConfigs = [
    { name: 'gen0', type: 'gen', flows: 64, size: 64, recycle: true },
    { name: 'out0', type: 'null' },
  ];
  const ports = portConfigs.map((p, i) => ({ name: p.name, ifindex: i + 1 }));
  const config = { ...CONFIG_DEFAULTS, queues: 1, ports: portConfigs, programs: [] };
  const layout = createLayout(config, []);
  const lp = await loadProgram(PROGRAMS[kase], { baseDir: '.', queues: 1, ports });
  const engine = new QueueEngine(layout, 0, await instantiate(lp, { queue: 0, queues: 1, ports, log() {} }));
  const genIo = engine.attachQueueSide(0, 'gen0', true, true, () => {});
  genIo.side = genType.openQueue!(portConfigs[0], genIo);
  const nullIo = engine.attachQueueSide(1, 'out0', false, true, () => {});
  nullIo.side = nullType.openQueue!(portConfigs[1], nullIo);
  engine.ingressOpen = true;

  let drain = () => {};
  if (kase === 'xsk') {
    const shared = createXskShared({ frames: 8192, ringSize: 4096 });
    engine.endpoints.push(openXskEndpoint(shared, 0));
    const sock = XskSocket.attach(shared);
    sock.refill();
    const noop = () => {};
    drain = () => {
      while (sock.receive(4096, noop) !== 0);
      sock.refill();
    };
  }
  // Breaths per timed stretch (a clock read costs ~1.6 µs through koffi): 32 × 64 = 2048
  // packets fit the xsk socket's 4096-entry rings; without a socket, longer stretches.
  const STRETCH = kase === 'xsk' ? 32 : 1024;
  const c = engine.counters.values;
  return {
    engine,
    run(n) {
      let packets = 0;
      let ns = 0;
      while (packets < n) {
        const t0 = threadCpuNs();
        for (let b = 0; b < STRETCH; b++) packets += engine.breathe();
        ns += threadCpuNs() - t0;
        drain();
      }
      if (kase === 'xsk' && c[Q.xdp_redirect_err] !== 0) throw new Error(`xsk: ${c[Q.xdp_redirect_err]} packets not delivered (the rig's drain fell behind)`);
      return { packets, ns };
    },
    spin(n) {
      let packets = 0;
      while (packets < n) {
        for (let b = 0; b < STRETCH; b++) packets += engine.breathe();
        drain();
      }
      return packets;
    },
  };
}
