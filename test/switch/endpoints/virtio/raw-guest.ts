/**
 * A hostile guest for tests: writes the transport and the rings by hand, in the test's
 * thread, with a device in the same thread (poll() applies status writes synchronously).
 */
import { GuestMemory } from '../../../../queues/virtqueue-memory.js';
import { VirtioNetDevice } from '../../../../switch/endpoints/virtio-net-device.js';
import * as T from '../../../../queues/virtio-transport.js';
import * as V from '../../../../queues/virtqueue.js';

export const MEM_BYTES = 1 << 20;
export const Q = 16;
/** Where the test places things in guest memory. */
export const RX_LAYOUT = V.contiguousLayout(0x1000, Q);
export const TX_LAYOUT = V.contiguousLayout(0x2000, Q);
export const TABLES = 0x4000; // indirect tables (read-only for the device)
export const BUFFERS = 0x10000; // buffer region
export const BUFFERS_END = 0x80000;

export class RawGuest {
  readonly mem = GuestMemory.create(MEM_BYTES);
  readonly transport = T.createTransport();
  readonly t = new Int32Array(this.transport);
  readonly dv = this.mem.view;
  readonly frames: Uint8Array[] = [];
  readonly sink = {
    receive: (src: Uint8Array, off: number, len: number) => {
      this.frames.push(src.slice(off, off + len));
      return true;
    },
  };
  txAvail = 0;
  rxAvail = 0;

  constructor(readonly dev: VirtioNetDevice) {
    const err = dev.attach(this.mem.sab, this.transport);
    if (err) throw new Error(err);
  }

  status(v: number): number {
    this.t[T.kStatusReq] = v;
    Atomics.add(this.t, T.kReqSeq, 1);
    this.dev.poll(0, this.sink);
    return this.t[T.kStatus];
  }

  /** Brings the device up with the given features; queues laid out at RX_LAYOUT/TX_LAYOUT. */
  up(features: number[] = [V.VIRTIO_F_VERSION_1, V.VIRTIO_RING_F_INDIRECT_DESC, V.VIRTIO_NET_F_MRG_RXBUF], opts: { driverOk?: boolean; layouts?: V.SplitLayout[] } = {}): number {
    this.mem.bytes.fill(0, 0, BUFFERS);
    this.txAvail = 0;
    this.rxAvail = 0;
    this.status(0);
    this.status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER);
    const [lo, hi] = V.featureWords(features);
    this.t[T.kDriverFeaturesLo] = lo | 0;
    this.t[T.kDriverFeaturesHi] = hi | 0;
    let s = this.status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER | V.STATUS_FEATURES_OK);
    const layouts = opts.layouts ?? [RX_LAYOUT, TX_LAYOUT];
    layouts.forEach((l, q) => {
      this.t[T.queueWord(q, T.QSIZE)] = l.size;
      this.t[T.queueWord(q, T.QDESC)] = l.desc;
      this.t[T.queueWord(q, T.QDRIVER)] = l.avail;
      this.t[T.queueWord(q, T.QDEVICE)] = l.used;
      this.t[T.queueWord(q, T.QREADY)] = 1;
    });
    if (opts.driverOk !== false) s = this.status(V.STATUS_ACKNOWLEDGE | V.STATUS_DRIVER | V.STATUS_FEATURES_OK | V.STATUS_DRIVER_OK);
    return s;
  }

  desc(l: V.SplitLayout | number, i: number, addr: number, len: number, flags: number, next: number, addrHi = 0): void {
    const base = typeof l === 'number' ? l : l.desc;
    const d = base + 16 * i;
    this.dv.setUint32(d, addr, true);
    this.dv.setUint32(d + 4, addrHi, true);
    this.dv.setUint32(d + 8, len, true);
    this.dv.setUint16(d + 12, flags, true);
    this.dv.setUint16(d + 14, next, true);
  }

  /** Puts `head` on the available ring of `l` and publishes idx (optionally a forged idx). */
  avail(l: V.SplitLayout, head: number, forgedIdx?: number): void {
    const tx = l === TX_LAYOUT;
    const idx = tx ? this.txAvail : this.rxAvail;
    this.dv.setUint16(l.avail + 4 + 2 * (idx % l.size), head, true);
    const next = forgedIdx ?? (idx + 1) & 0xffff;
    if (tx) this.txAvail = next;
    else this.rxAvail = next;
    Atomics.store(this.mem.u16, (l.avail + 2) >> 1, next);
  }

  usedIdx(l: V.SplitLayout): number {
    return this.dv.getUint16(l.used + 2, true);
  }

  /** A plain, valid frame the guest sends: header + 60 bytes in one buffer at `addr`. */
  writeFrame(addr: number, len = 60): void {
    this.mem.bytes.fill(0, addr, addr + 12);
    for (let k = 0; k < len; k++) this.mem.bytes[addr + 12 + k] = (k * 13) & 0xff;
  }
}
