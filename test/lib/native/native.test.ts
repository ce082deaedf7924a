/**
 * The native layer against the kernel: memfd pages shared across threads, SCM_RIGHTS over a
 * socketpair, eventfd counting, recvmmsg of datagrams that node:dgram sent, poll in both
 * modes, and errors that carry errno names.
 */
import { describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { existsSync, rmSync } from "node:fs";
import * as native from '../../../lib/native/index.js';
import { K } from '../../../lib/native/index.js';

const DIST = fileURLToPath(new URL('../../../dist/lib/native/index.js', import.meta.url));

function runWorker(data: Record<string, unknown>): Promise<{ ok: boolean; bad?: number; address?: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./fixtures/memfd-worker.mjs', import.meta.url), { workerData: { native: pathToFileURL(DIST).href, ...data } });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
}

describe('native layer', () => {
  it('loads (koffi from npm ci, no install script)', () => {
    expect(native.whyUnavailable()).toBeNull();
    expect(native.available()).toBe(true);
  });

  it('maps one memfd in two worker threads: each sees the bytes the other wrote', async () => {
    expect(existsSync(DIST), 'build first: npx tsc -p tsconfig.json').toBe(true);
    const length = 1 << 20;
    const fd = native.memfdCreate('xswitch-test', length);
    try {
      const reader = runWorker({ fd, length, role: 'reader' });
      const writer = await runWorker({ fd, length, role: 'writer' });
      const r = await reader;
      expect(writer.ok).toBe(true);
      expect(r).toMatchObject({ ok: true, bad: -1 });
      // And this thread's own mapping sees it too.
      const m = native.mmap(fd, length);
      const words = new Int32Array(m.buffer);
      expect(Atomics.load(words, 0)).toBe(1);
      expect(words[12345]).toBe(12345 * 7);
      native.munmap(m);
    } finally {
      native.close(fd);
    }
  });

  it('passes file descriptors over a socketpair (SCM_RIGHTS) with the bytes', () => {
    const [a, b] = native.socketpair(K.AF_UNIX, K.SOCK_STREAM);
    const memfd = native.memfdCreate('passed', 4096);
    const efd = native.eventfdCreate(0);
    try {
      const m = native.mmap(memfd, 4096);
      new Uint8Array(m.buffer).set([1, 2, 3, 4], 100);
      expect(native.sendWithFds(a, new TextEncoder().encode('hello'), [memfd, efd])).toBe(5);
      const buf = new Uint8Array(64);
      const got = native.recvWithFds(b, buf);
      expect(got.bytes).toBe(5);
      expect(new TextDecoder().decode(buf.subarray(0, 5))).toBe('hello');
      expect(got.fds).toHaveLength(2);
      expect(got.fds).not.toContain(memfd); // new numbers for the same open files
      // The received memfd maps the same pages; the received eventfd is the same counter.
      const m2 = native.mmap(got.fds[0]!, 4096);
      expect([...new Uint8Array(m2.buffer, 100, 4)]).toEqual([1, 2, 3, 4]);
      native.eventfdWrite(got.fds[1]!, 5);
      expect(native.eventfdRead(efd)).toBe(5n);
      native.munmap(m);
      native.munmap(m2);
      for (const f of got.fds) native.close(f);
      // Nothing waiting on a non-blocking socket: bytes −1, no throw.
      native.setNonBlocking(b);
      expect(native.recvWithFds(b, buf).bytes).toBe(-1);
      native.close(a);
      expect(native.recvWithFds(b, buf).bytes).toBe(0); // peer closed
    } finally {
      native.close(memfd);
      native.close(efd);
      native.close(b);
    }
  });

  it('listens, connects and accepts on a unix socket path', () => {
    const path = `/tmp/xswitch-native-${process.pid}.sock`;
    const l = native.listenUnix(path);
    try {
      expect(native.accept(l)).toBe(-1); // nobody yet
      const cl = native.connectUnix(path);
      const sv = native.accept(l);
      expect(sv).toBeGreaterThan(0);
      native.sendWithFds(cl, Uint8Array.of(9, 8, 7), []);
      const buf = new Uint8Array(8);
      expect(native.recvWithFds(sv, buf)).toEqual({ bytes: 3, fds: [] });
      native.close(cl);
      native.close(sv);
    } finally {
      native.close(l);
      rmSync(path, { force: true });
    }
  });

  it('counts with eventfd (and in semaphore mode one at a time)', () => {
    const fd = native.eventfdCreate(0);
    const sem = native.eventfdCreate(0, K.EFD_NONBLOCK | K.EFD_SEMAPHORE);
    try {
      expect(native.eventfdRead(fd)).toBe(0n); // empty, non-blocking
      native.eventfdWrite(fd, 2);
      native.eventfdWrite(fd, 3);
      expect(native.eventfdRead(fd)).toBe(5n);
      expect(native.eventfdRead(fd)).toBe(0n);
      native.eventfdWrite(sem, 2);
      expect(native.eventfdRead(sem)).toBe(1n);
      expect(native.eventfdRead(sem)).toBe(1n);
      expect(native.eventfdRead(sem)).toBe(0n);
    } finally {
      native.close(fd);
      native.close(sem);
    }
  });

  it('polls without blocking, and blocking on a koffi thread while the event loop runs', async () => {
    const fd = native.eventfdCreate(0);
    const set = new native.PollSet(1);
    set.set(0, fd, K.POLLIN);
    try {
      expect(set.wait(0)).toBe(0);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const waiting = set.waitAsync(2000);
      setTimeout(() => native.eventfdWrite(fd, 1), 100);
      expect(await waiting).toBe(1);
      clearInterval(timer);
      expect(ticks).toBeGreaterThan(5); // the event loop ran while poll() blocked elsewhere
      expect(set.revents(0) & K.POLLIN).toBe(K.POLLIN);
      expect(set.wait(0)).toBe(1);
    } finally {
      native.close(fd);
    }
  });

  it('receives datagrams from node:dgram with recvmmsg straight into SharedArrayBuffer frames, and sends them back with sendmmsg', async () => {
    const N = 32;
    const FRAME = 2048;
    const area = new Uint8Array(new SharedArrayBuffer(N * FRAME));
    const base = native.addressOf(area);
    const fd = native.socket(K.AF_INET, K.SOCK_DGRAM | K.SOCK_NONBLOCK);
    const sa = new Uint8Array(16); // sockaddr_in 127.0.0.1, any port
    new DataView(sa.buffer).setUint16(0, K.AF_INET, true);
    sa.set([127, 0, 0, 1], 4);
    native.bind(fd, sa);
    const name = new Uint8Array(16);
    native.getsockname(fd, name);
    const port = (name[2]! << 8) | name[3]!;
    const sender = dgram.createSocket('udp4');
    await new Promise<void>((r) => sender.bind(0, '127.0.0.1', r));
    const senderPort = sender.address().port;
    try {
      for (let i = 0; i < N; i++) sender.send(Buffer.alloc(100 + i, i), port, '127.0.0.1');
      const batch = new native.MmsgBatch(N);
      for (let i = 0; i < N; i++) batch.setBuffer(i, base + i * FRAME + 64, FRAME - 64);
      let got = 0;
      const deadline = Date.now() + 5000;
      while (got < N && Date.now() < deadline) {
        // Receive into the frames not filled yet.
        for (let i = 0; i < N - got; i++) batch.setBuffer(i, base + (got + i) * FRAME + 64, FRAME - 64);
        const n = batch.recv(fd, N - got);
        if (n === -K.EAGAIN) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        expect(n).toBeGreaterThan(0);
        for (let i = 0; i < n; i++) {
          const k = got + i;
          expect(batch.length(i)).toBe(100 + k);
          expect(area[k * FRAME + 64]).toBe(k);
          expect(area[k * FRAME + 64 + 99 + k]).toBe(k);
          expect(batch.namesView.getUint16(i * native.NAME_SIZE + 2)).toBe(senderPort); // sin_port, network order
        }
        got += n;
      }
      expect(got).toBe(N);
      expect(batch.recv(fd, N)).toBe(-K.EAGAIN);

      // Echo them all back in one sendmmsg, each to the address it came from.
      const echoed: number[] = [];
      const done = new Promise<void>((resolve) =>
        sender.on('message', (m) => {
          echoed.push(m.length);
          if (echoed.length === N) resolve();
        }),
      );
      for (let i = 0; i < N; i++) {
        batch.setBuffer(i, base + i * FRAME + 64, 100 + i);
        batch.namesView.setUint16(i * native.NAME_SIZE, K.AF_INET, true);
        batch.namesView.setUint16(i * native.NAME_SIZE + 2, senderPort);
        batch.names.set([127, 0, 0, 1], i * native.NAME_SIZE + 4);
        batch.setNamed(i, true, 16);
      }
      expect(batch.send(fd, N)).toBe(N);
      await done;
      expect(echoed.sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => 100 + i));
    } finally {
      sender.close();
      native.close(fd);
    }
  });

  it('reports failures as errors carrying the errno name and what was asked', () => {
    expect(() => native.ifNameToIndex('xs-no-such0')).toThrow(/if_nametoindex \(interface 'xs-no-such0'\): ENODEV/);
    try {
      native.close(-1);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(native.NativeError);
      expect((e as native.NativeError).code).toBe('EBADF');
      expect((e as native.NativeError).syscall).toBe('close');
    }
    expect(native.readAt(-1, 0, 0)).toBe(-9); // data path: −errno, no throw
  });
});
