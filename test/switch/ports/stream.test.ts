import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import stream from '../../../switch/ports/stream.js';
import type { Port } from '../../../switch/ports/port.js';
import { FakeIO, ethFrame, until } from '../../support/fake-io.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function record(f: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(f.length);
  return Buffer.concat([h, f]);
}

async function start(opts: Record<string, unknown>, name = 's0'): Promise<{ port: Port; io: FakeIO }> {
  const port = stream.create({ name, type: 'stream', ...opts });
  const io = new FakeIO(name, stream);
  await port.open(io);
  cleanup.push(() => port.close());
  return { port, io };
}

function client(to: number | string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = typeof to === 'number' ? net.connect(to, '127.0.0.1') : net.connect(to);
    cleanup.push(() => void s.destroy());
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Collects records a peer receives. */
function records(s: net.Socket): Buffer[] {
  const out: Buffer[] = [];
  let acc = Buffer.alloc(0);
  s.on('data', (c: Buffer) => {
    acc = Buffer.concat([acc, c]);
    while (acc.length >= 4 && acc.length >= 4 + acc.readUInt32BE(0)) {
      const n = acc.readUInt32BE(0);
      out.push(acc.subarray(4, 4 + n));
      acc = acc.subarray(4 + n);
    }
  });
  return out;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const p = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return p;
}

describe('stream port', () => {
  it('validates: exactly one of listen and connect', () => {
    expect(stream.validate!({ name: 's', type: 'stream', listen: '127.0.0.1:1' })).toEqual([]);
    expect(stream.validate!({ name: 's', type: 'stream', connect: '/run/x.sock' })).toEqual([]);
    expect(stream.validate!({ name: 's', type: 'stream' })[0]).toMatch(/exactly one of listen/);
    expect(stream.validate!({ name: 's', type: 'stream', listen: 'a:1', connect: 'b:2' })[0]).toMatch(/exactly one/);
    expect(stream.validate!({ name: 's', type: 'stream', connect: 'nohost' })[0]).toMatch(/^connect: .*no port/);
  });

  it('listens on TCP, reassembles records split anywhere, and writes records back', async () => {
    const lp = await freePort();
    const { port, io } = await start({ listen: `127.0.0.1:${lp}` });
    const c = await client(lp);
    const back = records(c);
    const frames = Array.from({ length: 50 }, (_, i) => ethFrame(14 + ((i * 131) % 1500), i));
    const wire = Buffer.concat(frames.map(record));
    for (let pos = 0, step = 1; pos < wire.length; pos += step, step = (step * 7) % 1777 + 1) {
      c.write(wire.subarray(pos, Math.min(pos + step, wire.length)));
    }
    await io.waitFrames(50);
    expect(io.frames).toEqual(frames);
    await until(() => port.status!().connected === true, 'connected');
    const sent = frames.slice(0, 10).map((f) => io.transmit(port, f));
    expect(sent, JSON.stringify(io.block.snapshot())).toEqual(Array(10).fill(true));
    await until(() => back.length === 10, 'ten records at the peer');
    expect(back).toEqual(frames.slice(0, 10));
    expect(io.get('conn_accepted')).toBe(1);
  });

  it('closes a connection that sends a garbage length, logs why, and takes the next one', async () => {
    const lp = await freePort();
    const { io } = await start({ listen: `127.0.0.1:${lp}` });
    const c = await client(lp);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.write(Buffer.concat([record(ethFrame(60, 1)), Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3])]));
    await closed;
    expect(io.get('rx_bad_length')).toBe(1);
    expect(io.logs.some((l) => l.level === 'error' && /record length of 2147483647 bytes .*closing the connection/.test(l.message))).toBe(true);
    const c2 = await client(lp);
    c2.write(record(ethFrame(70, 2)));
    await io.waitFrames(2);
    expect(io.frames.map((f) => f.length)).toEqual([60, 70]);
    expect(io.get('conn_accepted')).toBe(2);
  });

  it('drops runts and frames over the MTU without closing; counts a record cut by a disconnect', async () => {
    const lp = await freePort();
    const { io } = await start({ listen: `127.0.0.1:${lp}`, mtu: 1000 });
    const c = await client(lp);
    c.write(Buffer.concat([record(Buffer.alloc(0)), record(Buffer.alloc(13)), record(ethFrame(1015)), record(ethFrame(1014, 3))]));
    await io.waitFrames(1);
    expect(io.get('rx_runt')).toBe(2);
    expect(io.get('rx_oversize')).toBe(1);
    expect(io.get('rx_packets')).toBe(4);
    expect(io.get('rx_dropped')).toBe(3);
    c.end(Buffer.from([0, 0, 0, 100, 1, 2]));
    await until(() => io.get('conn_lost') === 1, 'the disconnect');
    expect(io.get('rx_truncated')).toBe(1);
  });

  it('refuses a second peer while one is connected', async () => {
    const lp = await freePort();
    const { io } = await start({ listen: `127.0.0.1:${lp}` });
    await client(lp);
    const c2 = await client(lp);
    await new Promise<void>((r) => c2.once('close', () => r()));
    expect(io.get('conn_rejected')).toBe(1);
  });

  it('connects, and reconnects with backoff when the peer goes away and comes back', async () => {
    const lp = await freePort();
    const { port, io } = await start({ connect: `127.0.0.1:${lp}` });
    expect(io.transmit(port, ethFrame(60))).toBe(false);
    expect(io.get('tx_no_peer')).toBe(1);
    await until(() => io.get('connect_failed') >= 2, 'failed attempts');
    const peers: net.Socket[] = [];
    const srv = net.createServer((s) => peers.push(s));
    await new Promise<void>((r) => srv.listen(lp, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => (peers.forEach((x) => x.destroy()), srv.close(() => r()))));
    await until(() => peers.length === 1, 'first connection', 8000);
    peers[0].write(record(ethFrame(60, 1)));
    await io.waitFrames(1);
    peers[0].destroy();
    await until(() => peers.length === 2, 'reconnection', 8000);
    peers[1].write(record(ethFrame(61, 2)));
    await io.waitFrames(2);
    expect(io.get('conn_lost')).toBe(1);
    expect(io.get('conn_accepted')).toBe(2);
    expect(io.logs.filter((l) => /cannot connect/.test(l.message)).length).toBe(1); // logged once per outage
  });

  it('listens on a UNIX socket, replaces a stale socket file, and removes it on close', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-stream-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const sock = path.join(dir, 'p.sock');
    // A stale socket file: bound by a process that is gone (nothing accepts on it).
    spawnSync(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", sock], { stdio: 'ignore' });
    expect(existsSync(sock)).toBe(true);
    const port = stream.create({ name: 'su', type: 'stream', listen: sock });
    const io = new FakeIO('su', stream);
    await port.open(io);
    const c = await client(sock);
    c.write(record(ethFrame(99)));
    await io.waitFrames(1);
    await port.close();
    expect(existsSync(sock)).toBe(false);
  });
});

describe('stream port shutdown', () => {
  it('closes within its grace time when the peer has stopped reading', async () => {
    const lp = await freePort();
    const { port, io } = await start({ listen: `127.0.0.1:${lp}` });
    const c = await client(lp);
    c.pause(); // the peer reads nothing from now on
    await until(() => port.status!().connected === true, 'connected');
    // Fill the socket's kernel buffers and the port's staging buffers.
    const big = ethFrame(1514);
    for (let i = 0; i < 20_000 && io.get('tx_busy') === 0; i++) {
      io.transmit(port, big);
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    expect(io.get('tx_busy')).toBeGreaterThan(0);
    const t0 = Date.now();
    await port.close();
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});
