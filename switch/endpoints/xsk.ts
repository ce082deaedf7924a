/**
 * The switch side of an AF_XDP-style socket: the QueueEndpoint a queue worker calls on
 * XDP_REDIRECT into an xskmap slot (copy mode, as the kernel's __xsk_rcv).
 *
 *   deliver(): RX room? FILL addr? → validate it → copy packet to addr + headroom → RX desc
 *   pollTx():  TX desc → validate addr/len → emit(umem, addr, len, port) → addr on COMPLETION
 *   flush():   one submit per ring per breath (rx_packets/rx_bytes counted there); wakes the app if it asked
 *
 * Contract: only the queue worker of the bound queue calls these (SPSC: it is the FILL and
 * TX consumer and the RX and COMPLETION producer). The application is untrusted: an
 * address outside the UMEM or a length past its frame is counted (rx_invalid_descs for
 * FILL, tx_invalid_descs for TX) and never followed. Nothing here allocates per packet.
 */
import { Ring } from '../../queues/ring.js';
import { Doorbell } from '../../queues/doorbell.js';
import type { QueueEndpoint, TxEmit } from './endpoint.js';
import { XskDesc, X, kAppBell, kRingsWorker, type XskShared } from './xsk-shared.js';
import { ByteCopier } from '../../queues/copy.js';

export interface XskEndpointOptions {
  /** Port index TX frames go out of; -1: take it from each descriptor's options (local stack sockets). */
  egressPort: number;
}

export class XskEndpoint implements QueueEndpoint {
  readonly fill: Ring;
  readonly completion: Ring;
  readonly rx: Ring;
  readonly tx: Ring;
  readonly stats: Float64Array;
  private readonly umem: Uint8Array;
  private readonly umemSize: number;
  private readonly frameSize: number;
  private readonly chunkMask: number;
  private readonly headroom: number;
  private readonly egressPort: number;
  // Staged this breath, published by flush().
  private rxStaged = 0;
  private fillTaken = 0;
  private compStaged = 0;
  private txHadWork = false;
  /** rx_packets and rx_bytes of this breath, added to the shared stats by flush(). */
  private rxBytes = 0;
  private readonly copier = new ByteCopier();
  private readonly wake: Int32Array;

  constructor(shared: XskShared, opts: XskEndpointOptions) {
    this.fill = new Ring(shared.fill);
    this.completion = new Ring(shared.completion);
    this.rx = new Ring(shared.rx);
    this.tx = new Ring(shared.tx);
    if (this.fill.width !== 2 || this.completion.width !== 2 || this.rx.width !== 4 || this.tx.width !== 4) throw new Error('not an xsk socket: ring entry widths are wrong');
    this.wake = new Int32Array(shared.wake);
    const appBell = new Doorbell(this.wake, kAppBell);
    this.rx.attachDoorbell(appBell);
    this.completion.attachDoorbell(appBell);
    this.stats = new Float64Array(shared.stats);
    this.umem = new Uint8Array(shared.umem);
    this.umemSize = shared.umem.byteLength;
    this.frameSize = shared.frameSize;
    this.chunkMask = ~(shared.frameSize - 1);
    this.headroom = shared.headroom;
    this.egressPort = opts.egressPort;
  }

  deliver(src: Uint8Array, offset: number, length: number, ingressPort: number): boolean {
    const s = this.stats;
    if (this.headroom + length > this.frameSize) {
      s[X.rx_dropped]++;
      return false;
    }
    const rx = this.rx;
    const staged = this.rxStaged;
    if (rx.reserve(staged + 1) <= staged) {
      s[X.rx_ring_full]++;
      return false;
    }
    // Take FILL entries until a valid one (invalid ones are consumed and counted, as the kernel does).
    const fill = this.fill;
    const fw = fill.words;
    for (;;) {
      const taken = this.fillTaken;
      if (fill.peek(taken + 1) <= taken) {
        s[X.rx_fill_ring_empty_descs]++;
        s[X.rx_dropped]++;
        return false;
      }
      const e = fill.entryOf(taken);
      this.fillTaken = taken + 1;
      const lo = fw[e] >>> 0;
      if (fw[e + 1] !== 0 || lo >= this.umemSize) {
        s[X.rx_invalid_descs]++;
        continue;
      }
      // Aligned chunk mode: the frame is the chunk the address falls in.
      const data = (lo & this.chunkMask) + this.headroom;
      this.copier.copy(this.umem, data, src, offset, length);
      const d = rx.slotOf(staged);
      const r = rx.words;
      r[d + XskDesc.ADDR_LO] = data;
      r[d + XskDesc.ADDR_HI] = 0;
      r[d + XskDesc.LEN] = length;
      r[d + XskDesc.OPTIONS] = ingressPort & 0xffff;
      this.rxStaged = staged + 1;
      this.rxBytes += length;
      return true;
    }
  }

  pollTx(budget: number, emit: TxEmit): number {
    const room = this.completion.reserve(this.compStaged + budget) - this.compStaged;
    const n = this.tx.peek(room < budget ? room : budget);
    if (n === 0) {
      if (this.txHadWork) this.stats[X.tx_ring_empty_descs]++;
      this.txHadWork = false;
      return 0;
    }
    this.txHadWork = true;
    const s = this.stats;
    const t = this.tx.words;
    const cw = this.completion.words;
    for (let k = 0; k < n; k++) {
      const e = this.tx.entryOf(k);
      const lo = t[e + XskDesc.ADDR_LO] >>> 0;
      const hi = t[e + XskDesc.ADDR_HI];
      const len = t[e + XskDesc.LEN] >>> 0;
      // Valid: inside the UMEM, not crossing its chunk, at least an Ethernet header.
      if (hi !== 0 || lo >= this.umemSize || len < 14 || (lo & this.chunkMask) + this.frameSize < lo + len) {
        s[X.tx_invalid_descs]++;
        continue;
      }
      const port = this.egressPort >= 0 ? this.egressPort : t[e + XskDesc.OPTIONS] & 0xffff;
      if (emit(this.umem, lo, len, port)) {
        s[X.tx_packets]++;
        s[X.tx_bytes] += len;
      } else {
        s[X.tx_dropped]++;
      }
      const c = this.completion.slotOf(this.compStaged);
      cw[c] = lo;
      cw[c + 1] = 0;
      this.compStaged++;
    }
    this.tx.release(n);
    return n;
  }

  flush(): void {
    if (this.rxStaged !== 0) {
      // Counted with the submit: what the application can see and what the stats say move together.
      this.stats[X.rx_packets] += this.rxStaged;
      this.stats[X.rx_bytes] += this.rxBytes;
      this.rxBytes = 0;
      this.rx.submit(this.rxStaged);
      this.rxStaged = 0;
    }
    if (this.fillTaken !== 0) {
      this.fill.release(this.fillTaken);
      this.fillTaken = 0;
    }
    if (this.compStaged !== 0) {
      this.completion.submit(this.compStaged);
      this.compStaged = 0;
    }
  }

  /**
   * need_wakeup: before the queue worker sleeps, ask the application to ring kSwitchBell
   * when it fills FILL or TX. Returns false when TX has work already (do not sleep).
   */
  prepareSleep(): boolean {
    this.fill.setNeedsWakeup();
    this.tx.setNeedsWakeup();
    // Pairs with the app's Atomics.load(kFlags) after its submit (Ring.submit).
    return this.tx.peek(1) === 0;
  }

  endSleep(): void {
    this.fill.clearNeedsWakeup();
    this.tx.clearNeedsWakeup();
  }

  wakesWorker(): boolean {
    // A socket made before kRingsWorker existed has a 2-word wake area: it never rings us.
    // Pairs with Atomics.store in XskSocket.attachSwitchBell().
    return this.wake.length > kRingsWorker && Atomics.load(this.wake, kRingsWorker) === 1;
  }
}

/** The worker's handle on a socket bound to a port (TX goes out of `egressPort`). */
export function openXskEndpoint(shared: XskShared, egressPort = -1): XskEndpoint {
  return new XskEndpoint(shared, { egressPort });
}

/** What sw.bindEndpoint(q, slot, module, shared) passes: the socket, plus where its TX goes. */
export type XskBinding = XskShared & { egressPort?: number };

/** The queue worker's loader entry (switch/queue-worker.ts imports the module and calls this). */
export function openEndpoint(shared: unknown): XskEndpoint {
  const b = shared as XskBinding;
  if (!(b?.umem instanceof SharedArrayBuffer)) throw new Error('xsk endpoint: not a socket handle (createXskShared())');
  return new XskEndpoint(b, { egressPort: typeof b.egressPort === 'number' ? b.egressPort : -1 });
}
