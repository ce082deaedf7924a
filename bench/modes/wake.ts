/**
 * wake — what an idle switch costs: the round trip of one datagram at a time through a
 * switch whose threads have gone to sleep (the wake-up latency of the NAPI-style back-off),
 * against a plain Node dgram relay in the same run, and the CPU an idle switch burns.
 *
 *   pinger (this thread) ──udp──▶ in ──▶ queue 0 (redirect) ──▶ out ──udp──▶ pinger
 *   pinger (this thread) ──udp──▶ ref:dgram-relay (worker: on 'message' → send) ──▶ pinger
 *
 * Pings are PING_GAP_MS apart, longer than a worker busy-polls (SPIN_MS in
 * switch/queue-worker.ts), so every ping finds the switch asleep (the worker in one of its
 * 1 ms naps, NAP_MS: `sleeps` counts those too):
 * socket → worker (poll() on its own socket of `in`) → sendmmsg on its socket of `out`; and
 * with the ports' `thread: device`, device thread of `in` (epoll) → doorbell → worker
 * (futex) → doorbell → device thread of `out` → socket (`idle-rtt/device`).
 * idle-cpu: process CPU time over `seconds` with no traffic, as % of one core.
 * idle-cpu/l2switch: the same for a switch running l2switch (the usual switching program,
 * whose clock word once cost a 1 ms timer on the main thread: programs/parse/ktime.ts).
 */
import dgram from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { availableParallelism, loadavg } from 'node:os';
import { Switch } from '../../switch/switch.js';
import { CONFIG_DEFAULTS, type SwitchConfig } from '../../switch/config-types.js';
import { line, sleep, type BenchMode } from '../harness.js';

const PINGS = 200;
const PING_GAP_MS = 5;

const RELAY = `
const { workerData, parentPort } = require('node:worker_threads');
const dgram = require('node:dgram');
const inp = dgram.createSocket('udp4'), out = dgram.createSocket('udp4');
inp.on('message', (m) => out.send(m));
out.connect(workerData.back, '127.0.0.1', () => inp.bind(0, '127.0.0.1', () => parentPort.postMessage(inp.address().port)));
parentPort.on('message', () => { inp.close(); out.close(); });
`;

function bound(s: dgram.Socket, port = 0): Promise<number> {
  return new Promise((r) => s.bind(port, '127.0.0.1', () => r(s.address().port)));
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  const p = await bound(s);
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Round trips (µs) of PINGS datagrams sent one at a time to `target`, answered on `sock`. */
async function pingPong(sock: dgram.Socket, target: number): Promise<number[]> {
  const frame = Buffer.alloc(64, 0);
  frame.fill(0xff, 0, 6);
  frame.writeUInt16BE(0x88b5, 12); // local experimental ethertype
  const rtts: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    await sleep(PING_GAP_MS);
    const t0 = process.hrtime.bigint();
    const back = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 1000);
      sock.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    sock.send(frame, target, '127.0.0.1');
    if (await back) rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return rtts;
}

function pct(xs: number[], p: number): number {
  const a = [...xs].sort((x, y) => x - y);
  return a[Math.min(a.length - 1, Math.floor(p * a.length))] ?? NaN;
}

async function viaRelay(): Promise<number[]> {
  const sock = dgram.createSocket('udp4');
  const back = await bound(sock);
  const w = new Worker(RELAY, { eval: true, workerData: { back } });
  const target = await new Promise<number>((r) => w.once('message', r));
  const rtts = await pingPong(sock, target);
  w.postMessage('stop');
  await w.terminate();
  sock.close();
  return rtts;
}

/** CPU of the whole process (every thread) over `seconds` of no traffic, as a fraction of a core. */
async function idleCpu(seconds: number): Promise<number> {
  // After the start-up settles.
  await sleep(500);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await sleep(seconds * 1000);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** An idle switch with two udp ports and l2switch (nothing is sent to it). */
async function idleL2switch(seconds: number): Promise<number> {
  const config: SwitchConfig = {
    ...CONFIG_DEFAULTS,
    queues: 1,
    ports: [
      { name: 'a', type: 'udp', local: '127.0.0.1:0', remote: `127.0.0.1:${await freeUdpPort()}` },
      { name: 'b', type: 'udp', local: '127.0.0.1:0', remote: `127.0.0.1:${await freeUdpPort()}` },
    ],
    programs: [{ queues: [0], chain: [{ name: 'l2switch', params: {}, continueOn: [] }] }],
  };
  const sw = await Switch.start(config);
  try {
    return await idleCpu(seconds);
  } finally {
    await sw.stop();
  }
}

/**
 * thread 'queue' (the default for udp ports with a fixed local port): the queue
 * worker receives and sends itself, one wake-up per datagram; 'device': the device threads
 * do (three wake-ups: device thread of `in` → worker → device thread of `out`).
 */
async function viaSwitch(seconds: number, thread: 'queue' | 'device'): Promise<{ rtts: number[]; idleCpu: number; sleeps: number }> {
  const sock = dgram.createSocket('udp4');
  const back = await bound(sock);
  const target = await freeUdpPort();
  const config: SwitchConfig = {
    ...CONFIG_DEFAULTS,
    queues: 1,
    ports: [
      { name: 'in', type: 'udp', local: `127.0.0.1:${target}`, thread },
      { name: 'out', type: 'udp', local: `127.0.0.1:${await freeUdpPort()}`, remote: `127.0.0.1:${back}`, thread },
    ],
    programs: [{ queues: [0], chain: [{ name: 'redirect', params: { port: 'out' }, continueOn: [] }] }],
  };
  const sw = await Switch.start(config);
  // Idle CPU: every thread of this process, no traffic.
  const idle = await idleCpu(seconds);
  const s0 = sw.stats().queues.rx0_sleeps;
  const rtts = await pingPong(sock, target);
  const sleeps = sw.stats().queues.rx0_sleeps - s0;
  await sw.stop();
  sock.close();
  return { rtts, idleCpu: idle, sleeps };
}

const mode: BenchMode = {
  name: 'wake',
  description: 'round trip of one datagram at a time through an idle switch (wake-up latency) against a plain Node relay, and the CPU of an idle switch',
  async run(opts, report) {
    const relay = await viaRelay();
    const sw = await viaSwitch(opts.seconds, 'queue');
    const dev = await viaSwitch(1, 'device');
    const l2 = await idleL2switch(opts.seconds);
    const r50 = pct(relay, 0.5);
    const s50 = pct(sw.rtts, 0.5);
    report({ mode: 'ref:dgram-relay-rtt', mpps: 0, rttP50Us: r50, rttP99Us: pct(relay, 0.99), answered: relay.length, pings: PINGS });
    report({ mode: 'idle-rtt', mpps: 0, rttP50Us: s50, rttP99Us: pct(sw.rtts, 0.99), answered: sw.rtts.length, pings: PINGS, ratioToRelay: s50 / r50, workerSleeps: sw.sleeps, targetRatio: 1 });
    report({ mode: 'idle-rtt/device', mpps: 0, rttP50Us: pct(dev.rtts, 0.5), rttP99Us: pct(dev.rtts, 0.99), answered: dev.rtts.length, pings: PINGS, ratioToRelay: pct(dev.rtts, 0.5) / r50, workerSleeps: dev.sleeps });
    report({ mode: 'idle-cpu', mpps: 0, coreFraction: sw.idleCpu, target: 0.02 });
    report({ mode: 'idle-cpu/l2switch', mpps: 0, coreFraction: l2, target: 0.02 });
    if (!opts.json) {
      // Both figures depend on how busy the machine is: say so.
      console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} CPUs`);
      console.log(`One ${PING_GAP_MS} ms-spaced 64-byte datagram at a time, ${PINGS} pings (udp in → redirect → udp out, loopback)`);
      console.log(line('ref:dgram-relay-rtt', [[r50, 'µs p50'], [pct(relay, 0.99), 'µs p99']]));
      console.log(line('idle-rtt', [[s50, 'µs p50'], [pct(sw.rtts, 0.99), 'µs p99'], [sw.sleeps, 'sleeps']]) + `  ${(s50 / r50).toFixed(2)}× the relay (queue worker receives and sends)`);
      const d50 = pct(dev.rtts, 0.5);
      console.log(line('idle-rtt/device', [[d50, 'µs p50'], [pct(dev.rtts, 0.99), 'µs p99'], [dev.sleeps, 'sleeps']]) + `  ${(d50 / r50).toFixed(2)}× the relay (thread: device)`);
      console.log(`  idle switch: ${(sw.idleCpu * 100).toFixed(2)}% of a core (redirect), ${(l2 * 100).toFixed(2)}% (l2switch) (target ≤ 2%)`);
    }
  },
};
export default mode;
