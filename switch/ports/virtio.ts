/**
 * Port type `virtio`: a VM endpoint. The switch is the device side of virtio-net (as
 * vhost-net is); the VM is a worker thread running a guest driver over its own
 * SharedArrayBuffer memory (guest/runner.ts). The port starts empty; the VM's runner
 * attaches its memory and transport with sw.portControl(name, { op: 'attach', memory,
 * transport }) and detaches with { op: 'detach' }.
 *
 *   guest TX queues ──poll()──▶ io.receive ──▶ steering ──▶ switch queues
 *   switch queue q ──transmit(…, q)──▶ guest RX queue of pair (q mod pairs)
 *
 * Offloads: a guest's TSO super-frames and partial checksums go to io.receiveOffload (cut
 * into segments there); what the guest negotiated to take (GUEST_CSUM, GUEST_TSO4/6) is
 * offloads(), and frames with a header then arrive through transmitOffload().
 *
 * Options: mac (the device's MAC, default 52:54:00:12:34:<index>), queuePairs (1..8,
 * default 1: max_virtqueue_pairs offered with MQ), queueSize (largest ring the device
 * accepts, default 1024).
 *
 * Counters beyond the common ones: VIRTIO_COUNTERS (guest-side names: tx = what the guest
 * sent). A frame the guest sent is either in rx_packets or in one tx_drop_* counter; a
 * frame the switch sent it is tx_packets or tx_dropped, with rx_drop_* saying why.
 */
import type { Port, PortConfig, PortIO, PortType } from './port.js';
import { VIRTIO_COUNTERS, VirtioNetDevice } from '../endpoints/virtio-net-device.js';
import { MAX_QUEUE_PAIRS, parseMac, type VirtioControl } from '../../queues/virtio-transport.js';
import { isValidQueueSize } from '../../queues/virtqueue.js';
import type { VnetHdr } from '../../lib/net/vnet-hdr.js';

interface VirtioOptions {
  mac: string;
  queuePairs: number;
  queueSize: number;
}

function options(config: PortConfig): VirtioOptions {
  return {
    mac: typeof config.mac === 'string' ? config.mac : '',
    queuePairs: typeof config.queuePairs === 'number' ? config.queuePairs : 1,
    queueSize: typeof config.queueSize === 'number' ? config.queueSize : 1024,
  };
}

class VirtioPort implements Port {
  private io: PortIO | null = null;
  private dev: VirtioNetDevice | null = null;
  /** The device thread's doorbell, when the host exposes it: guests ring it on a kick. */
  private bell: { sab: SharedArrayBuffer; index: number } | null = null;

  constructor(private readonly opts: VirtioOptions) {}

  async open(io: PortIO): Promise<void> {
    this.io = io;
    const mac = this.opts.mac !== '' ? this.opts.mac : `52:54:00:12:34:${(io.ifindex & 0xff).toString(16).padStart(2, '0')}`;
    this.dev = new VirtioNetDevice(
      { mac, maxPairs: this.opts.queuePairs, maxQueueSize: this.opts.queueSize, log: (l, m) => io.log(l, m) },
      io.counters,
      io.counterIndex(VIRTIO_COUNTERS[0]),
    );
    // The device thread sleeps on its own doorbell; a guest kick that rings it too is seen
    // at once instead of at the next idle timeout. Optional: not part of PortIO.
    const db = (io as unknown as { doorbell?: { words?: Int32Array; index?: number } }).doorbell;
    if (db?.words?.buffer instanceof SharedArrayBuffer && typeof db.index === 'number') this.bell = { sab: db.words.buffer, index: db.index };
  }

  poll(budget: number): number {
    try {
      return this.dev!.poll(budget, this.io!);
    } catch (e) {
      // Not reached by design (the device checks everything); a bug must not stop the port.
      this.io!.log('error', `virtio poll: ${(e as Error).message}`);
      return 0;
    }
  }

  transmit(area: Uint8Array, offset: number, length: number, queue: number): boolean {
    try {
      return this.dev!.transmit(area, offset, length, queue);
    } catch (e) {
      this.io!.log('error', `virtio transmit: ${(e as Error).message}`);
      return false;
    }
  }

  flushTx(): void {
    this.dev!.flush();
  }

  offloads(): number {
    return this.dev!.offloads();
  }

  transmitOffload(area: Uint8Array, offset: number, length: number, queue: number, hdr: VnetHdr): boolean {
    try {
      return this.dev!.transmitOffload(area, offset, length, queue, hdr);
    } catch (e) {
      this.io!.log('error', `virtio transmit: ${(e as Error).message}`);
      return false;
    }
  }

  control(msg: unknown): unknown {
    const m = msg as VirtioControl;
    switch (m?.op) {
      case 'attach': {
        const err = this.dev!.attach(m.memory, m.transport);
        if (err !== null) throw new Error(err);
        return { attached: true, deviceBell: this.bell };
      }
      case 'detach':
        this.dev!.detach();
        return { attached: false };
      case 'status':
        return this.dev!.describe();
      default:
        throw new Error(`virtio port: unknown control request ${JSON.stringify((msg as { op?: unknown })?.op)} (attach, detach, status)`);
    }
  }

  status(): Record<string, unknown> {
    return { ...(this.dev?.describe() ?? {}), wakesDeviceThread: this.bell !== null };
  }

  async close(): Promise<void> {
    this.dev?.detach();
  }
}

const virtio: PortType = {
  type: 'virtio',
  counters: VIRTIO_COUNTERS,
  validate(config: PortConfig): string[] {
    const errs: string[] = [];
    const known = ['name', 'type', 'mac', 'queuePairs', 'queueSize'];
    for (const k of Object.keys(config)) if (!known.includes(k)) errs.push(`unknown option '${k}' (virtio takes: mac, queuePairs, queueSize)`);
    if (config.mac !== undefined) {
      try {
        if (typeof config.mac !== 'string') throw new Error('mac must be a string');
        parseMac(config.mac);
      } catch (e) {
        errs.push((e as Error).message);
      }
    }
    const o = options(config);
    if (!Number.isInteger(o.queuePairs) || o.queuePairs < 1 || o.queuePairs > MAX_QUEUE_PAIRS) errs.push(`queuePairs must be an integer in 1..${MAX_QUEUE_PAIRS}`);
    if (!isValidQueueSize(o.queueSize)) errs.push('queueSize must be a power of two in 1..32768');
    return errs;
  },
  create(config: PortConfig): Port {
    return new VirtioPort(options(config));
  },
};

export default virtio;
