/**
 * AF_XDP-style socket endpoints. The test plays the queue worker (deliver/pollTx/flush);
 * the application runs in a real Worker (examples/xsk/*) or, for hostile descriptors,
 * in the test itself writing the rings by hand.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PerformanceObserver } from 'node:perf_hooks';
import { createXskShared, xskStats } from '../../../switch/endpoints/xsk-shared.js';
import { openXskEndpoint } from '../../../switch/endpoints/xsk.js';
import { XskSocket } from '../../../switch/endpoints/xsk-socket.js';
import { startXskApp, type XskApp } from '../../../switch/endpoints/xsk-app.js';
import * as P from '../../../lib/net/packets.js';

let app: XskApp | null = null;
afterEach(async () => {
  await app?.stop();
  app = null;
});

const tick = () => new Promise((r) => setImmediate(r));
async function until(cond: () => boolean, what: string, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('xsk endpoint ↔ application across threads', () => {
  it('rx-drop: every packet delivered or counted in exactly one drop counter, across the 2^32 index wrap', async () => {
    const shared = createXskShared({ frames: 1024, ringSize: 512, startIndex: 0xfffff000 });
    app = await startXskApp('examples/xsk/rx-drop', shared);
    const ep = openXskEndpoint(shared, 0);
    const area = new Uint8Array(new SharedArrayBuffer(4096));
    for (let i = 0; i < 64; i++) area[256 + i] = i;
    let ok = 0;
    const total = 300_000;
    for (let i = 0; i < total; i++) {
      if (ep.deliver(area, 256, 64, 1)) ok++;
      if ((i & 63) === 63) {
        ep.flush();
        if ((i & 4095) === 4095) await tick();
      }
    }
    ep.flush();
    await until(() => app!.counters().packets === ok, 'the app to count every delivered packet');
    const s = xskStats(shared);
    expect(s.rx_packets).toBe(ok);
    // Exit counters: rx_packets, rx_ring_full, rx_dropped (rx_fill_ring_empty_descs is a reason within rx_dropped).
    expect(s.rx_packets + s.rx_ring_full + s.rx_dropped).toBe(total);
    expect(s.rx_fill_ring_empty_descs).toBeLessThanOrEqual(s.rx_dropped);
    expect(app.counters().bytes).toBe(ok * 64);
    expect(ok).toBeGreaterThan(1000);
    expect(s.rx_invalid_descs).toBe(0);
    // The RX ring's producer index went past 2^32 and wrapped.
    expect(new Int32Array(shared.rx)[0] >>> 0).toBeLessThan(0xfffff000);
  });

  it('udp-echo: datagrams come back out of the port they came in on, turned around', async () => {
    const shared = createXskShared({ frames: 512, ringSize: 256 });
    app = await startXskApp('examples/xsk/udp-echo', shared, { port: 7 });
    const ep = openXskEndpoint(shared, -1); // egress from descriptor options (as on the local stack)
    const area = new Uint8Array(new SharedArrayBuffer(4096));
    const a = P.macBytes('02:00:00:00:00:01');
    const b = P.macBytes('02:00:00:00:00:02');
    const payload = Uint8Array.from({ length: 200 }, (_, i) => i);
    const n = P.writeUdp(area, 256, a, b, P.ipToU32('10.1.0.1'), P.ipToU32('10.1.0.2'), 9999, 7, payload);
    for (let i = 0; i < 10; i++) expect(ep.deliver(area, 256, n, 3)).toBe(true);
    ep.flush();
    const got: { port: number; frame: Uint8Array }[] = [];
    await until(() => {
      ep.pollTx(64, (src, off, len, port) => {
        got.push({ port, frame: src.slice(off, off + len) });
        return true;
      });
      ep.flush();
      return got.length === 10;
    }, '10 echoes');
    const out = new Int32Array(2);
    for (const g of got) {
      expect(g.port).toBe(3);
      expect(P.classify(g.frame, 0, g.frame.length, out)).toBe(P.PKT_UDP);
      expect(Buffer.from(g.frame.subarray(0, 6)).equals(Buffer.from(a))).toBe(true);
      expect(P.ipDst(g.frame, 0)).toBe(P.ipToU32('10.1.0.1'));
      expect(P.be16(g.frame, out[0] + 2)).toBe(9999);
      expect(Buffer.from(g.frame.subarray(out[0] + 8)).equals(Buffer.from(payload))).toBe(true);
    }
    expect(app.counters().echoed).toBe(10);
    expect(xskStats(shared).tx_packets).toBe(10);
  });
});

describe('xsk descriptors from an untrusted application', () => {
  it('invalid FILL addresses are counted rx_invalid_descs and skipped', () => {
    const shared = createXskShared({ frames: 8, ringSize: 16 });
    const ep = openXskEndpoint(shared, 0);
    const sock = XskSocket.attach(shared);
    const fill = sock.fillRing;
    const put = (lo: number, hi: number) => {
      fill.reserve(1);
      fill.words[fill.slotOf(0)] = lo;
      fill.words[fill.slotOf(0) + 1] = hi;
      fill.submit(1);
    };
    put(8 * 2048, 0); // one past the UMEM
    put(0, 1); // above 4 GiB
    put(0xffffffff | 0, 0);
    put(3 * 2048 + 100, 0); // inside frame 3: aligned mode uses the chunk
    const area = new Uint8Array(64).fill(7);
    expect(ep.deliver(area, 0, 64, 2)).toBe(true);
    ep.flush();
    const s = xskStats(shared);
    expect(s.rx_invalid_descs).toBe(3);
    let seen = -1;
    sock.receive(8, (_u, addr, len, port) => {
      seen = addr;
      expect([len, port]).toEqual([64, 2]);
    });
    expect(seen).toBe(3 * 2048);
    expect(sock.umem[3 * 2048 + 63]).toBe(7);
    // No valid FILL entry left: dropped and counted.
    expect(ep.deliver(area, 0, 64, 2)).toBe(false);
    expect(xskStats(shared).rx_fill_ring_empty_descs).toBe(1);
    expect(xskStats(shared).rx_dropped).toBe(1);
  });

  it('invalid TX descriptors are counted tx_invalid_descs and never followed', () => {
    const shared = createXskShared({ frames: 8, ringSize: 16 });
    const ep = openXskEndpoint(shared, 5);
    const sock = XskSocket.attach(shared);
    const tx = sock.txRing;
    const post = (lo: number, hi: number, len: number) => {
      tx.reserve(1);
      const s = tx.slotOf(0);
      tx.words.set([lo, hi, len, 0], s);
      tx.submit(1);
    };
    post(2048, 0, 60); // valid
    post(8 * 2048, 0, 60); // outside the UMEM
    post(0, 1, 60); // above 4 GiB
    post(2048 + 2000, 0, 100); // crosses into the next frame
    post(4096, 0, 10); // shorter than an Ethernet header
    post(4096, 0, 0xffffffff | 0); // absurd length
    post(6144, 0, 2048); // a whole frame: valid
    const emitted: [number, number, number][] = [];
    const n = ep.pollTx(64, (_s, off, len, port) => {
      emitted.push([off, len, port]);
      return true;
    });
    ep.flush();
    expect(n).toBe(7);
    expect(emitted).toEqual([
      [2048, 60, 5],
      [6144, 2048, 5],
    ]);
    const s = xskStats(shared);
    expect(s.tx_invalid_descs).toBe(5);
    expect(s.tx_packets).toBe(2);
    // Only valid addresses come back on COMPLETION.
    const done: number[] = [];
    const c = sock.completionRing;
    const k = c.peek(16);
    for (let i = 0; i < k; i++) done.push(c.words[c.entryOf(i)]);
    expect(done).toEqual([2048, 6144]);
  });

  it('a full RX ring drops and counts rx_ring_full; the app draining it resumes delivery', () => {
    const shared = createXskShared({ frames: 64, ringSize: 8 });
    const ep = openXskEndpoint(shared, 0);
    const sock = XskSocket.attach(shared);
    sock.refill();
    const area = new Uint8Array(64);
    let ok = 0;
    for (let i = 0; i < 20; i++) if (ep.deliver(area, 0, 64, 0)) ok++;
    ep.flush();
    expect(ok).toBe(8);
    expect(xskStats(shared).rx_ring_full).toBe(12);
    expect(sock.receive(64, () => {})).toBe(8);
    sock.refill();
    expect(ep.deliver(area, 0, 64, 0)).toBe(true);
  });

  it('deliver + pollTx allocate nothing per packet (at most a few scavenges over four million packets)', async () => {
    const shared = createXskShared({ frames: 256, ringSize: 128 });
    const ep = openXskEndpoint(shared, 0);
    const sock = XskSocket.attach(shared);
    const area = new Uint8Array(new SharedArrayBuffer(8192));
    // Queue workers pass each frame's own view (ctx.packet): use several, as they do.
    const views = [0, 1, 2, 3].map((f) => new Uint8Array(area.buffer, f * 2048, 2048));
    const noop = () => {};
    const emit = () => true;
    let gcs = 0;
    const obs = new PerformanceObserver((list) => (gcs += list.getEntries().length));
    // Warm up (JIT), then count garbage collections during the measured run.
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        sock.refill(64);
        for (let k = 0; k < 64; k++) ep.deliver(views[k & 3], 256, (k & 1) === 0 ? 64 : 1500, 0);
        ep.flush();
        sock.receive(64, noop);
        sock.send(area, 256, 64);
        sock.flushTx();
        ep.pollTx(64, emit);
        ep.flush();
        sock.reclaim();
      }
    };
    run(2000);
    obs.observe({ entryTypes: ['gc'] });
    run(64_000); // 4,096,000 packets delivered
    // GC entries are delivered asynchronously: look after a short pause.
    await new Promise((r) => setTimeout(r, 50));
    obs.disconnect();
    // A few collections come from the test runner itself (its IPC); an allocation per packet would be ~100.
    expect(gcs).toBeLessThanOrEqual(3);
    expect(xskStats(shared).rx_packets).toBe(66_000 * 64);
  });

  it('need_wakeup: each side rings the other only when asked to', () => {
    const shared = createXskShared({ frames: 16, ringSize: 8 });
    const ep = openXskEndpoint(shared, 0);
    const sock = XskSocket.attach(shared);
    const wake = new Int32Array(shared.wake);
    const area = new Uint8Array(64);
    // The switch side going idle asks for a wakeup on FILL and TX.
    expect(ep.prepareSleep()).toBe(true);
    expect(sock.fillRing.words[32] & 1).toBe(1);
    expect(sock.txRing.words[32] & 1).toBe(1);
    expect(sock.send(area, 0, 60)).toBe(true);
    sock.flushTx();
    expect(Atomics.load(wake, 1)).toBe(1); // the app's submit rang the switch bell
    expect(ep.prepareSleep()).toBe(false); // TX has work: do not sleep
    ep.endSleep();
    sock.send(area, 0, 60);
    sock.flushTx();
    expect(Atomics.load(wake, 1)).toBe(1); // not asked: not rung
    // The app asks for RX wakeups; the switch's flush rings the app bell.
    sock.refill();
    sock.rxRing.setNeedsWakeup();
    expect(ep.deliver(area, 0, 60, 0)).toBe(true);
    ep.flush();
    expect(Atomics.load(wake, 0)).toBe(1);
    sock.rxRing.clearNeedsWakeup();
    ep.deliver(area, 0, 60, 0);
    ep.flush();
    expect(Atomics.load(wake, 0)).toBe(1);
  });
});
