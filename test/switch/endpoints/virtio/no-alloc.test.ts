/**
 * The device's per-packet paths (transmit into guest RX, poll of guest TX) allocate
 * nothing: a driver in the same thread keeps both rings busy for millions of frames while
 * garbage collections are counted.
 */
import { expect, it } from 'vitest';
import { PerformanceObserver } from 'node:perf_hooks';
import { VirtioNetDevice } from '../../../../switch/endpoints/virtio-net-device.js';
import { SplitDriverQueue } from '../../../../queues/virtqueue-driver.js';
import { GuestMemory } from '../../../../queues/virtqueue-memory.js';
import * as V from '../../../../queues/virtqueue.js';
import * as T from '../../../../queues/virtio-transport.js';

it('transmit + poll allocate nothing per packet (at most a few scavenges over four million frames)', async () => {
  const dev = new VirtioNetDevice({ mac: '52:54:00:00:00:01', maxPairs: 1, maxQueueSize: 256 });
  const mem = GuestMemory.create(4 << 20);
  const transport = T.createTransport();
  const t = new Int32Array(transport);
  expect(dev.attach(mem.sab, transport)).toBeNull();
  let received = 0;
  const sink = { receive: () => (received++, true) };
  const status = (v: number) => {
    t[T.kStatusReq] = v;
    Atomics.add(t, T.kReqSeq, 1);
    dev.poll(0, sink);
  };
  status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER);
  const [lo, hi] = V.featureWords([V.VIRTIO_F_VERSION_1, V.VIRTIO_RING_F_EVENT_IDX, V.VIRTIO_NET_F_MRG_RXBUF]);
  t[T.kDriverFeaturesLo] = lo;
  t[T.kDriverFeaturesHi] = hi;
  status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER | V.STATUS_FEATURES_OK);
  const rx = new SplitDriverQueue(mem, V.contiguousLayout(0x1000, 256), true);
  const tx = new SplitDriverQueue(mem, V.contiguousLayout(0x8000, 256), true);
  [rx, tx].forEach((q, i) => {
    t[T.queueWord(i, T.QSIZE)] = 256;
    t[T.queueWord(i, T.QDESC)] = q.layout.desc;
    t[T.queueWord(i, T.QDRIVER)] = q.layout.avail;
    t[T.queueWord(i, T.QDEVICE)] = q.layout.used;
    t[T.queueWord(i, T.QREADY)] = 1;
  });
  status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER | V.STATUS_FEATURES_OK | V.STATUS_DRIVER_OK);
  expect(dev.describe().live).toBe(true);
  const RXB = 0x100000;
  const TXB = 0x200000;
  for (let h = 0; h < 256; h++) rx.addOne(RXB + h * 2048, 2048, true);
  rx.publish();
  const area = new Uint8Array(new SharedArrayBuffer(8192));
  const views = [0, 1, 2, 3].map((f) => new Uint8Array(area.buffer, f * 2048, 2048));
  let delivered = 0;
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 32; k++) if (dev.transmit(views[k & 3], 256, (k & 1) === 0 ? 64 : 1500, 0)) delivered++;
      dev.flush();
      while (rx.getUsed()) rx.addOne(RXB + rx.nextHead * 2048, 2048, true);
      rx.publish();
      for (let k = 0; k < 32; k++) {
        while (tx.getUsed());
        tx.addOne(TXB + tx.nextHead * 2048, 12 + ((k & 1) === 0 ? 64 : 1500), false);
      }
      tx.publish();
      dev.poll(64, sink);
    }
  };
  run(5000);
  let gcs = 0;
  const obs = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  run(64_000); // 2,048,000 frames each way
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  expect(gcs).toBeLessThanOrEqual(3);
  expect(delivered).toBe(69_000 * 32);
  expect(received).toBe(69_000 * 32);
  expect(dev.counters().rx_drop_no_desc).toBe(0);
});
