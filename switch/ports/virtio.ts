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
 * Run to completion: when the guest runs at least as many pairs as the switch has queues,
 * queue worker q writes the RX queue of pair q itself, in its breath, GRO's super-frames
 * included for a guest that takes TSO (switch/endpoints/virtio-net-side.ts,
 * QueueEngine.groDeliver); when it runs exactly as many and the port has no
 * flow-steering rules, worker q also polls the TX queue of pair q (the guest's frames enter
 * on that worker, no RPS hop). The guest's memory reaches the workers through the attach's
 * `queueSides`, the rings through queues/virtq-handover.ts; a kick on a TX queue a worker
 * polls is rung through to that worker's doorbell by this port's poll.
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
import type { OptionTypes } from './options.js';
import { VIRTIO_COUNTERS, VirtioNetDevice } from '../endpoints/virtio-net-device.js';
import { MAX_QUEUE_PAIRS, parseMac, type VirtioControl } from '../../queues/virtio-transport.js';
import * as T from '../../queues/virtio-transport.js';
import { isValidQueueSize } from '../../queues/virtqueue.js';
import { ErrorReport } from '../error-report.js';
import type { VnetHdr } from '../../lib/net/vnet-hdr.js';
import { createHandover, HandoverWriter } from '../../queues/virtq-handover.js';
import { VirtioNetSide, type SideGuest } from '../endpoints/virtio-net-side.js';
import { GuestMemory } from '../../queues/virtqueue-memory.js';

interface VirtioOptions {
  mac: string;
  queuePairs: number;
  queueSize: number;
}

const OPTIONS: OptionTypes = { mac: 'string', queuePairs: 'integer', queueSize: 'integer' };

/** The options with their defaults; their types were checked (./options.ts) before. */
function options(config: PortConfig): VirtioOptions {
  return {
    mac: (config.mac as string | undefined) ?? '',
    queuePairs: (config.queuePairs as number | undefined) ?? 1,
    queueSize: (config.queueSize as number | undefined) ?? 1024,
  };
}

class VirtioPort implements Port {
  /** poll() serves the guest's status writes and the rings no worker holds. */
  readonly pollsBesideQueues = true;
  private io: PortIO | null = null;
  private dev: VirtioNetDevice | null = null;
  /** Errors out of the device, counted (device_errors) and logged at most once a second. */
  private errors: ErrorReport | null = null;
  /** The device thread's doorbell, when the host exposes it: guests ring it on a kick. */
  private bell: { sab: SharedArrayBuffer; index: number } | null = null;
  /** Per switch queue, its worker's doorbell: a guest rings it on a kick of TX ring 2q + 1 (that worker may poll it). */
  private queueBells: { sab: SharedArrayBuffer; index: number }[] = [];

  constructor(private readonly opts: VirtioOptions) {}

  async open(io: PortIO): Promise<void> {
    this.io = io;
    this.errors = new ErrorReport((m) => io.log('error', m));
    const mac = this.opts.mac !== '' ? this.opts.mac : `52:54:00:12:34:${(io.ifindex & 0xff).toString(16).padStart(2, '0')}`;
    this.dev = new VirtioNetDevice(
      { mac, maxPairs: this.opts.queuePairs, maxQueueSize: this.opts.queueSize, log: (l, m) => io.log(l, m) },
      io.counters,
      io.counterIndex(VIRTIO_COUNTERS[0]),
    );
    // The device thread sleeps on its own doorbell; a guest kick that rings it too is seen
    // at once instead of at the next idle timeout. Optional: not part of PortIO.
    // Run to completion: the queue workers write the guest's RX rings (virtio-net-side.ts).
    if (io.shared != null && io.wakeQueue !== undefined) {
      const wake = io.wakeQueue.bind(io);
      const h = new HandoverWriter(io.shared, wake, (m) => io.log('warn', m));
      this.dev.handover = h;
      // And poll the guest's TX rings, where no flow-steering rule needs this thread to steer.
      this.dev.txOnWorkers = io.rxOnQueues === true && io.resumeRx !== undefined;
      if (io.resumeRx !== undefined) h.resumeRx = io.resumeRx.bind(io);
    }
    if (this.dev.txOnWorkers && io.queueBell !== undefined && io.shared != null) {
      for (let q = 0; q < this.dev.handover!.queues; q++) {
        const b = io.queueBell(q);
        this.queueBells.push({ sab: b.words.buffer as SharedArrayBuffer, index: b.index });
      }
    }
    const db = (io as unknown as { doorbell?: { words?: Int32Array; index?: number } }).doorbell;
    if (db?.words?.buffer instanceof SharedArrayBuffer && typeof db.index === 'number') this.bell = { sab: db.words.buffer, index: db.index };
  }

  poll(budget: number): number {
    this.errors!.flush();
    try {
      return this.dev!.poll(budget, this.io!);
    } catch (e) {
      this.failed('poll', e);
      return 0;
    }
  }

  transmit(area: Uint8Array, offset: number, length: number, queue: number): boolean {
    try {
      return this.dev!.transmit(area, offset, length, queue);
    } catch (e) {
      this.failed('transmit', e);
      return false;
    }
  }

  /**
   * Not reached by design (the device checks everything the guest gives it), so an error here
   * is a bug: it must not stop the port, flood the log, or let a half-done operation go on
   * touching the guest's rings. Counted, reported rate-limited, and the device is marked
   * DEVICE_NEEDS_RESET until the guest resets it (as QEMU marks a device broken).
   */
  private failed(where: string, e: unknown): void {
    const why = `virtio ${where}: ${(e as Error)?.message ?? String(e)}`;
    try {
      this.dev!.fault(why);
    } catch {
      // Marking it broken failed too; the count below still shows the fault.
    }
    this.errors!.add(`port ${this.io!.name}: ${why}; device marked DEVICE_NEEDS_RESET until the guest resets it`);
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
        // The queue workers that write the RX rings get the same memory (the switch passes it on).
        const sides: JsGuestMemory = { gen: this.dev!.memGen, memory: m.memory, transport: m.transport };
        return { attached: true, deviceBell: this.bell, queueBells: this.queueBells, queueSides: sides };
      }
      case 'detach': {
        this.dev!.detach();
        const sides: JsGuestMemory = { gen: -1, memory: null, transport: null };
        return { attached: false, queueSides: sides };
      }
      case 'status':
        return this.dev!.describe();
      default:
        throw new Error(`virtio port: unknown control request ${JSON.stringify((msg as { op?: unknown })?.op)} (attach, detach, status)`);
    }
  }

  status(): Record<string, unknown> {
    const h = this.dev?.handover ?? null;
    // Which switch queues' workers write the guest's RX ring of their pair themselves.
    const rxRingsOnWorkers = h === null ? [] : [...h.serving.keys()].filter((q) => h.serving[q] === 1);
    // Which switch queues' workers poll the guest's TX ring of their pair themselves.
    const txRingsOnWorkers = h === null ? [] : [...h.txServing.keys()].filter((q) => h.txServing[q] === 1);
    return { ...(this.dev?.describe() ?? {}), wakesDeviceThread: this.bell !== null, rxRingsOnWorkers, txRingsOnWorkers };
  }

  async close(): Promise<void> {
    this.dev?.detach();
  }
}

/** What a queue side gets of an attached VM (through Port.control's queueSides). */
interface JsGuestMemory {
  gen: number;
  memory: SharedArrayBuffer | null;
  transport: SharedArrayBuffer | null;
}

/** A JS guest's memory and interrupts, as a queue worker sees them. */
class JsGuest implements SideGuest {
  private gen = -1;
  private mem: GuestMemory | null = null;
  private t: Int32Array | null = null;

  control(msg: unknown): void {
    const m = msg as JsGuestMemory;
    this.gen = m.gen;
    this.mem = m.memory === null ? null : new GuestMemory(m.memory);
    this.t = m.transport === null ? null : new Int32Array(m.transport);
  }

  memory(gen: number): GuestMemory | null {
    return gen === this.gen ? this.mem : null;
  }

  release(): void {
    // A SharedArrayBuffer: nothing to unmap; the next attach replaces it.
  }

  interrupt(vq: number): void {
    const t = this.t!;
    // A statistic only (read by the runner and tests with Atomics.load); no ordering needed.
    Atomics.add(t, T.queueWord(vq, T.QINTERRUPTS), 1);
    // Pairs with the guest's Atomics.wait on kGuestBell (it re-checks its used rings after
    // reading the bell, so a bump between its check and its wait is not lost).
    Atomics.add(t, T.kGuestBell, 1);
    Atomics.notify(t, T.kGuestBell);
  }
}

const virtio: PortType = {
  type: 'virtio',
  options: OPTIONS,
  counters: VIRTIO_COUNTERS,
  // Run to completion: worker q writes the guest's RX ring of pair q itself (when the guest
  // runs at least as many pairs as the switch has queues) and polls its TX ring (when the
  // guest runs exactly as many, and no flow-steering rule needs the device thread to steer);
  // the device thread keeps status, negotiation and the rings no worker holds.
  queueSides: () => ({ rx: true, tx: true }),
  sharedState: (_config, queues) => createHandover(queues),
  openQueue: (_config, io) => new VirtioNetSide(io, new JsGuest()),
  validate(config: PortConfig): string[] {
    const errs: string[] = [];
    const o = options(config);
    if (config.mac !== undefined) {
      try {
        parseMac(o.mac);
      } catch (e) {
        errs.push(`mac: ${(e as Error).message}`);
      }
    }
    if (o.queuePairs < 1 || o.queuePairs > MAX_QUEUE_PAIRS) errs.push(`queuePairs: must be from 1 to ${MAX_QUEUE_PAIRS}, got ${o.queuePairs}`);
    if (!isValidQueueSize(o.queueSize)) errs.push(`queueSize: must be a power of two from 1 to 32768, got ${o.queueSize}`);
    return errs;
  },
  create(config: PortConfig): Port {
    return new VirtioPort(options(config));
  },
};

export default virtio;
