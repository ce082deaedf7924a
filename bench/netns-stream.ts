/**
 * What the namespace benches (veth, vxlan) measure between two hosts: one Node TCP stream's
 * throughput and ping's round trip, each run inside the hosts' own network namespaces.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { sleep } from './harness.js';

const NODE = process.execPath;

/** argv: host port. Counts bytes of one connection; prints bytes and seconds from first byte to end. */
const RECEIVER = `
const [host, port] = process.argv.slice(1);
let n = 0, t0 = 0n;
const srv = require('net').createServer((c) => {
  c.on('data', (d) => { if (n === 0) t0 = process.hrtime.bigint(); n += d.length; });
  c.on('end', () => { console.log('bytes ' + n + ' seconds ' + Number(process.hrtime.bigint() - t0) / 1e9); srv.close(); });
});
srv.listen(Number(port), host, () => console.log('ready'));
`;

/** argv: host port seconds. Writes 64 KiB chunks as fast as the socket drains for `seconds`. */
const SENDER = `
const [host, port, seconds] = process.argv.slice(1);
const chunk = Buffer.alloc(65536, 0x5a);
const end = Date.now() + Number(seconds) * 1000;
const c = require('net').connect(Number(port), host, () => {
  const pump = () => { while (Date.now() < end) { if (!c.write(chunk)) return; } c.end(); };
  c.on('drain', pump);
  pump();
});
`;

export function sh(cmd: string, args: string[], timeout = 30_000): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout });
}

/** Waits until a child's output (as `get` reads it) matches `what`; fails if it exits first. */
export async function waitOutput(p: ChildProcess, get: () => string, what: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what.test(get())) {
    if (Date.now() > deadline || p.exitCode !== null) throw new Error(`waited for ${what} from a child; it printed: ${get()}`);
    await sleep(20);
  }
}

/** TCP throughput from namespace `from` to `addr` in namespace `to`, in bits per second. */
export async function tcpThroughput(from: string, to: string, addr: string, seconds: number, port: number): Promise<number> {
  const rx = spawn('ip', ['netns', 'exec', to, NODE, '-e', RECEIVER, addr, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  rx.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitOutput(rx, () => out, /ready/, 10_000);
  try {
    sh('ip', ['netns', 'exec', from, NODE, '-e', SENDER, addr, String(port), String(seconds)], (seconds + 30) * 1000);
  } catch (e) {
    rx.kill();
    throw new Error(`the TCP sender ${from} → ${to} did not finish: ${(e as Error).message.split('\n')[0]}`);
  }
  if (rx.exitCode === null) await new Promise((r) => rx.once('exit', r));
  const m = /bytes (\d+) seconds ([\d.e-]+)/.exec(out);
  if (!m) throw new Error(`receiver printed: ${out}`);
  return (Number(m[1]) * 8) / Number(m[2]);
}

/**
 * Ping round trip from namespace `from` to `addr` in ms (50 probes, after 3 that warm ARP
 * and caches): the mean ping prints, and the median of the probes — the figure to quote on
 * a shared machine, where a few probes that wait for a CPU would decide the mean.
 */
export function pingRtt(from: string, addr: string): { mean: number; median: number } {
  sh('ip', ['netns', 'exec', from, 'ping', '-c', '3', '-i', '0.05', '-W', '2', addr]);
  const out = sh('ip', ['netns', 'exec', from, 'ping', '-c', '50', '-i', '0.02', addr]);
  const times = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
  if (times.length < 25) throw new Error(`ping: ${times.length} of 50 answered:\n${out}`);
  const mean = /= [\d.]+\/([\d.]+)\//.exec(out);
  return { mean: mean ? Number(mean[1]) : times.reduce((a, b) => a + b, 0) / times.length, median: times[times.length >> 1] };
}

/** A stream's throughput with the pings after it (the figure) and before it (`cold`). */
export interface AroundStream {
  bps: number;
  rtt: { mean: number; median: number };
  cold: { mean: number; median: number };
}

/**
 * Pings before the stream (`cold`: a path that has carried nothing yet), the stream, then
 * the pings a row reports (a path that has carried traffic). The difference is V8's for a
 * path in JavaScript (the switch, the Node relay): a function runs in the interpreter until
 * it has been called often enough (hundreds of times, and 500 calls after its last
 * inline-cache change), so a path that has carried only a few pings forwards each in
 * unoptimized code, ≈ 0.1 ms more a round trip on this VM; any traffic (here the stream)
 * optimizes it, and it stays so. Kernel paths (the bridge) are measured the same way.
 */
export async function pingsAroundStream(rtt: () => { mean: number; median: number }, stream: () => Promise<number>): Promise<AroundStream> {
  const cold = rtt();
  const bps = await stream();
  return { bps, rtt: rtt(), cold };
}
