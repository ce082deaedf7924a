/**
 * A hostile guest for tests: writes the transport and the rings by hand, in the test's
 * thread. RawGuest has its device in the same thread (poll() applies status writes
 * synchronously); RemoteGuest talks to a switch's virtio port, whose device runs in the
 * port's own thread, as a VM's driver does.
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

  /** `dev` null: a RemoteGuest, attached by its port. */
  constructor(readonly dev: VirtioNetDevice | null) {
    if (dev === null) return;
    const err = dev.attach(this.mem.sab, this.transport);
    if (err) throw new Error(err);
  }

  status(v: number): number {
    this.t[T.kStatusReq] = v;
    Atomics.add(this.t, T.kReqSeq, 1);
    this.dev!.poll(0, this.sink);
    return this.t[T.kStatus];
  }

  /** Brings the device up with the given features; queues laid out at RX_LAYOUT/TX_LAYOUT. */
  up(features: number[] = [V.VIRTIO_F_VERSION_1, V.VIRTIO_RING_F_INDIRECT_DESC, V.VIRTIO_NET_F_MRG_RXBUF], opts: { driverOk?: boolean; layouts?: V.SplitLayout[] } = {}): number {
    // Reset first: a device in another thread may still be serving the old rings.
    this.status(0);
    this.mem.bytes.fill(0, 0, BUFFERS);
    this.txAvail = 0;
    this.rxAvail = 0;
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

/**
 * A hand-written guest on a switch's virtio port. Status writes wait for the port's device
 * thread (Atomics.wait blocks only this thread); kick() rings the device as a driver does.
 */
export class RemoteGuest extends RawGuest {
  private bell: Int32Array | null = null;
  private bellIndex = 0;

  private constructor() {
    super(null);
  }

  /** Attaches through `control` (sw.portControl(name, …)) and keeps the port's doorbell. */
  static async attach(control: (msg: T.VirtioAttach) => Promise<unknown>): Promise<RemoteGuest> {
    const g = new RemoteGuest();
    const reply = (await control({ op: 'attach', memory: g.mem.sab, transport: g.transport })) as { deviceBell?: { sab: SharedArrayBuffer; index: number } | null };
    if (reply?.deviceBell) {
      g.bell = new Int32Array(reply.deviceBell.sab);
      g.bellIndex = reply.deviceBell.index;
    }
    return g;
  }

  override status(v: number): number {
    this.t[T.kStatusReq] = v;
    // Pairs with the device's Atomics.load(kReqSeq) in poll(): the kStatusReq store is seen first.
    const seq = (Atomics.add(this.t, T.kReqSeq, 1) + 1) | 0;
    this.kick();
    const deadline = Date.now() + 10_000;
    for (;;) {
      // Pairs with the device's Atomics.store/notify of kAckSeq in serviceStatus().
      const ack = Atomics.load(this.t, T.kAckSeq);
      if (ack === seq) return Atomics.load(this.t, T.kStatus);
      if (Date.now() > deadline) throw new Error(`the port did not answer status write 0x${v.toString(16)}`);
      Atomics.wait(this.t, T.kAckSeq, ack, 20);
    }
  }

  /** The device status as the device last published it. */
  deviceStatus(): number {
    // Pairs with the device's Atomics.store(kStatus) in needsReset()/serviceStatus().
    return Atomics.load(this.t, T.kStatus);
  }

  kick(): void {
    // Pairs with the device thread's wait on kDeviceBell or on its own doorbell.
    Atomics.add(this.t, T.kDeviceBell, 1);
    Atomics.notify(this.t, T.kDeviceBell);
    if (this.bell !== null) {
      Atomics.add(this.bell, this.bellIndex, 1);
      Atomics.notify(this.bell, this.bellIndex, 1);
    }
  }
}
