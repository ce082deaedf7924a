/**
 * A TCP transfer between two namespace hosts whose SHA-256 is computed at both ends by
 * Node's crypto in each host's own process: the bytes that arrived are the bytes that left.
 */
import { expect } from 'vitest';
import type { Netns } from './netns.js';
import type { Procs } from './procs.js';

const NODE = process.execPath;

/** argv: host port. Accepts one connection, prints how much arrived and its SHA-256. */
export const TCP_SERVER = `
const [host, port] = process.argv.slice(1);
const h = require('crypto').createHash('sha256');
let n = 0;
const srv = require('net').createServer((c) => {
  c.on('data', (d) => { n += d.length; h.update(d); });
  c.on('end', () => { console.log('received ' + n + ' sha256 ' + h.digest('hex')); srv.close(); });
});
srv.listen(Number(port), host, () => console.log('ready'));
`;

/** argv: host port bytes. Sends pseudo-random bytes, prints their SHA-256 and the seconds it took. */
export const TCP_CLIENT = `
const [host, port, total] = process.argv.slice(1);
const crypto = require('crypto');
const data = crypto.randomBytes(Number(total));
const t0 = process.hrtime.bigint();
const c = require('net').connect(Number(port), host, () => c.end(data));
c.on('close', () => console.log('sent ' + data.length + ' sha256 ' + crypto.createHash('sha256').update(data).digest('hex') + ' in ' + (Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3) + ' s'));
`;

/** Sends `bytes` from host `from` to `toAddr` (host `to`) and checks both SHA-256 agree. Returns seconds taken. */
export async function tcpTransfer(ns: Netns, procs: Procs, from: string, to: string, toAddr: string, port: number, bytes: number): Promise<number> {
  const server = procs.start(...ns.argv(to, NODE, ['-e', TCP_SERVER, toAddr, String(port)]));
  await server.waitFor(/ready/, 10_000);
  const out = ns.exec(from, NODE, ['-e', TCP_CLIENT, toAddr, String(port), String(bytes)], 120_000);
  const m = await server.waitFor(/received (\d+) sha256 ([0-9a-f]+)/, 30_000);
  expect(Number(m[1])).toBe(bytes);
  const sent = /sent (\d+) sha256 ([0-9a-f]+) in ([\d.]+) s/.exec(out);
  expect(sent, out).not.toBeNull();
  expect(sent![2]).toBe(m[2]);
  return Number(sent![3]);
}
