/**
 * The control socket under bad input: garbage, oversized lines, half-closed and abandoned
 * connections, many clients, slow handlers — each answered with an error or dropped, and
 * the server keeps answering everyone else. Also: mode 0600, and another user cannot connect.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inCI } from '../../support/prereq.js';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ControlServer } from '../../../daemon/control/server.js';
import { ControlClient, ControlClientError, requestOnce } from '../../../daemon/control/client.js';
import { ControlError } from '../../../daemon/control/protocol.js';

let dir: string;
let sockPath: string;
let server: ControlServer;

const handlers = {
  echo: (p: unknown) => p,
  big: () => 'x'.repeat(1 << 20),
  slow: () => new Promise((r) => setTimeout(() => r('late'), 2000)),
  brief: () => new Promise((r) => setTimeout(() => r('done'), 100)),
  refuse: () => {
    throw new ControlError('bad_params', 'refused on purpose');
  },
  crash: () => {
    throw new TypeError('handler bug');
  },
};

async function start(opts: Partial<ConstructorParameters<typeof ControlServer>[1]> = {}): Promise<void> {
  server = new ControlServer(handlers, { path: sockPath, idleTimeoutMs: 500, requestTimeoutMs: 300, ...opts });
  await server.listen();
}

/** A raw connection that collects whole lines and notices the server's end. */
function raw(): Promise<{ sock: net.Socket; lines: string[]; ended: Promise<void>; next: () => Promise<Record<string, unknown>> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(sockPath);
    const lines: string[] = [];
    const waiters: ((l: string) => void)[] = [];
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const w = waiters.shift();
        if (w) w(l);
        else lines.push(l);
      }
    });
    sock.on('error', () => {});
    const ended = new Promise<void>((r) => sock.on('close', () => r()));
    const next = () =>
      new Promise<Record<string, unknown>>((r) => {
        const l = lines.shift();
        if (l !== undefined) r(JSON.parse(l));
        else waiters.push((x) => r(JSON.parse(x)));
      });
    sock.once('connect', () => resolve({ sock, lines, ended, next }));
    sock.once('error', reject);
  });
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'xswitch-ctl-'));
  sockPath = path.join(dir, 'ctl.sock');
});

afterEach(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('control socket', () => {
  it('is a socket with mode 0600 and answers requests', async () => {
    await start();
    const st = statSync(sockPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(await requestOnce(sockPath, 'echo', { a: 1 })).toEqual({ a: 1 });
  });

  it('answers garbage with bad_request and keeps the connection usable', async () => {
    await start();
    const c = await raw();
    c.sock.write(Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x0a]));
    expect(await c.next()).toMatchObject({ id: null, ok: false, error: { code: 'bad_request' } });
    for (const junk of ['[1,2]', '{"id":1}', '{"id":{},"method":"echo"}', '{"id":2,"method":"Echo!"}', 'null', '"str"']) {
      c.sock.write(junk + '\n');
      const r = await c.next();
      expect(r.ok, junk).toBe(false);
      expect((r.error as { code: string }).code, junk).toBe('bad_request');
    }
    c.sock.write('{"id":7,"method":"nosuch"}\n');
    expect(await c.next()).toMatchObject({ id: 7, ok: false, error: { code: 'unknown_method' } });
    c.sock.write('{"id":8,"method":"echo","params":{"ok":true}}\n');
    expect(await c.next()).toEqual({ id: 8, ok: true, result: { ok: true } });
    c.sock.destroy();
    expect(server.counts.badRequests).toBe(7);
  });

  it('handler errors: its own code, or failed; the server goes on', async () => {
    await start();
    const c = await ControlClient.connect(sockPath);
    await expect(c.request('refuse')).rejects.toMatchObject({ code: 'bad_params', message: 'refused on purpose' });
    await expect(c.request('crash')).rejects.toMatchObject({ code: 'failed', message: 'handler bug' });
    await expect(c.request('slow')).rejects.toMatchObject({ code: 'timeout' });
    expect(await c.request('echo', 5)).toBe(5);
    c.close();
  });

  it('an oversized request is refused with too_large and the connection closed; others are unaffected', async () => {
    await start({ maxRequestBytes: 4096 });
    const other = await ControlClient.connect(sockPath);
    const c = await raw();
    c.sock.write('{"id":1,"method":"echo"}\n');
    c.sock.write('{"id":2,"method":"echo","params":"' + 'A'.repeat(100_000));
    expect(await c.next()).toMatchObject({ id: 1, ok: true });
    expect(await c.next()).toMatchObject({ id: null, ok: false, error: { code: 'too_large' } });
    await c.ended;
    expect(await other.request('echo', 'still here')).toBe('still here');
    other.close();
    expect(server.counts.tooLarge).toBe(1);
  });

  it('an oversized line behind a request still in progress: that answer first, then the refusal', async () => {
    await start({ maxRequestBytes: 4096 });
    const c = await raw();
    c.sock.write('{"id":1,"method":"brief"}\n' + 'B'.repeat(10_000));
    expect(await c.next()).toEqual({ id: 1, ok: true, result: 'done' });
    expect(await c.next()).toMatchObject({ id: null, ok: false, error: { code: 'too_large' } });
    await c.ended;
  });

  it('a half-closed client gets its answers, then EOF', async () => {
    await start();
    const c = await raw();
    c.sock.end('{"id":1,"method":"echo","params":1}\n{"id":2,"method":"echo","params":2}\n');
    await c.ended;
    expect(c.lines.map((l) => JSON.parse(l))).toEqual([
      { id: 1, ok: true, result: 1 },
      { id: 2, ok: true, result: 2 },
    ]);
  });

  it('a client that half-closes in the middle of a request is told so', async () => {
    await start();
    const c = await raw();
    c.sock.end('{"id":1,"method":"ec');
    await c.ended;
    expect(JSON.parse(c.lines[0])).toMatchObject({ ok: false, error: { code: 'bad_request', message: expect.stringContaining('middle of a request') } });
  });

  it('an abandoned connection (silent, or stopped mid-line) is closed after the idle timeout', async () => {
    await start({ idleTimeoutMs: 200 });
    const silent = await raw();
    const partial = await raw();
    partial.sock.write('{"id":1,"meth');
    const t0 = Date.now();
    await Promise.all([silent.ended, partial.ended]);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(server.counts.idleClosed).toBe(2);
    expect(await requestOnce(sockPath, 'echo', 'alive')).toBe('alive');
  });

  it('a client that leaves before its answer does not disturb the server', async () => {
    await start();
    for (let i = 0; i < 20; i++) {
      const c = await raw();
      c.sock.write('{"id":1,"method":"big"}\n');
      c.sock.destroy();
    }
    const c = await raw();
    c.sock.write('{"id":1,"method":"big"}\n');
    c.sock.pause(); // connected but never reads: the server must not buffer without limit
    expect(await requestOnce(sockPath, 'echo', 'alive')).toBe('alive');
    c.sock.destroy();
  });

  it('many clients at once are all answered; beyond maxClients they get busy', async () => {
    // A long idle timeout: on a loaded machine a client may wait past the usual 500 ms between
    // connecting and sending, and one closed as idle would let the 41st in.
    await start({ maxClients: 40, idleTimeoutMs: 30_000 });
    const clients = await Promise.all(Array.from({ length: 40 }, () => ControlClient.connect(sockPath)));
    const results = await Promise.all(clients.flatMap((c, i) => Array.from({ length: 25 }, (_, j) => c.request('echo', i * 100 + j))));
    expect(results).toEqual(clients.flatMap((_, i) => Array.from({ length: 25 }, (_, j) => i * 100 + j)));
    // The 41st is refused with a clear answer, not left hanging.
    const extra = await raw();
    expect(await extra.next()).toMatchObject({ ok: false, error: { code: 'busy' } });
    await extra.ended;
    for (const c of clients) c.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(await requestOnce(sockPath, 'echo', 'after')).toBe('after');
    expect(server.counts.busy).toBe(1);
  });

  it('pipelined requests are answered in order, far past the read-ahead limit', async () => {
    await start();
    const c = await raw();
    const n = 3000; // more than the 256 read ahead: reading pauses and resumes
    c.sock.write(Array.from({ length: n }, (_, i) => JSON.stringify({ id: i, method: 'echo', params: i })).join('\n') + '\n');
    for (let i = 0; i < n; i++) expect(await c.next()).toEqual({ id: i, ok: true, result: i });
    c.sock.destroy();
  });

  it('removes a stale socket file, refuses a live one, never removes a non-socket', async () => {
    // Stale: a socket file nobody listens on.
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(sockPath, () => r()));
    // Closing a server removes its file; make a stale one by copying the inode's existence:
    // listen again from a child that is killed, leaving the file behind.
    await new Promise<void>((r) => s.close(() => r()));
    const child = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sockPath)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(child.signal).toBe('SIGKILL');
    expect(existsSync(sockPath)).toBe(true);
    await start();
    expect(await requestOnce(sockPath, 'echo', 1)).toBe(1);
    // Live: a second server on the same path is refused.
    const second = new ControlServer(handlers, { path: sockPath });
    await expect(second.listen()).rejects.toThrow(/another xswitch is listening/);
    await second.close(); // must not remove the first one's socket
    expect(await requestOnce(sockPath, 'echo', 2)).toBe(2);
    // Not a socket: left alone.
    const plain = path.join(dir, 'plain');
    writeFileSync(plain, 'keep me');
    await expect(new ControlServer(handlers, { path: plain }).listen()).rejects.toThrow(/is not a socket/);
    expect(existsSync(plain)).toBe(true);
  });

  it('the client says clearly when no switch is running', async () => {
    await expect(ControlClient.connect(path.join(dir, 'none.sock'))).rejects.toThrow(/no switch is running on .*none\.sock/);
    await expect(ControlClient.connect(path.join(dir, 'none.sock'))).rejects.toBeInstanceOf(ControlClientError);
  });
});

describe('another user', () => {
  const isRoot = process.getuid?.() === 0;
  const setpriv = spawnSync('sh', ['-c', 'command -v setpriv']).status === 0;
  const why = !isRoot ? 'needs root to run a client as nobody' : !setpriv ? 'needs setpriv (util-linux)' : '';
  if (why && inCI) {
    it('prerequisites', () => {
      throw new Error(`CI=true but ${why}`);
    });
    return;
  }
  it.runIf(!why)('cannot connect (EACCES); with the mode opened up it could — so the mode is what stops it', async () => {
    await start();
    // The folder must be searchable by nobody, so that only the socket's own mode decides.
    chmodSync(dir, 0o755);
    const probe = `const s=require('net').connect(${JSON.stringify(sockPath)});s.on('connect',()=>{console.log('CONNECTED');s.destroy()});s.on('error',e=>console.log(e.code))`;
    const asNobody = () =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', probe], { encoding: 'utf8' }).stdout.trim();
    expect(asNobody()).toBe('EACCES');
    chmodSync(sockPath, 0o666);
    expect(asNobody()).toBe('CONNECTED');
  });
});
