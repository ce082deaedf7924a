/**
 * Port type `vhost-user`: a QEMU guest's virtio-net NIC, served as vhost-user's back-end
 * (as Open vSwitch, VPP and Snabb serve VMs). QEMU is the front-end: it connects to the
 * port's socket, shares the guest's RAM (memfd regions, SCM_RIGHTS) and hands over the
 * guest driver's virtqueues; the switch reads and writes those rings in place.
 *
 *   ports:
 *     - { name: vm1, type: vhost-user, socket: /run/xswitch/vm1.sock }
 *
 *   qemu-system-x86_64 … -object memory-backend-memfd,id=mem,size=256M,share=on
 *     -numa node,memdev=mem -chardev socket,id=c0,path=/run/xswitch/vm1.sock,reconnect=1
 *     -netdev vhost-user,id=n0,chardev=c0 -device virtio-net-pci,netdev=n0,mac=…,vectors=0
 *
 * Options: socket (path; the port listens there, mode 0600, one front-end at a time),
 * queuePairs (1..8, default 1: GET_QUEUE_NUM; MQ is offered when above 1), queueSize
 * (largest ring accepted, default 1024), packedRing (default true: RING_PACKED is offered;
 * false keeps every guest on split rings).
 *
 * Offered: VERSION_1, RING_PACKED (packedRing), MRG_RXBUF, EVENT_IDX, INDIRECT_DESC, MQ (queuePairs > 1),
 * PROTOCOL_FEATURES with REPLY_ACK and MQ, and the checksum and TCP segmentation offloads
 * (vhost-user/offloads.ts: CSUM, GUEST_CSUM, HOST_TSO4/6, GUEST_TSO4/6): a guest's
 * super-frames and partial checksums go to io.receiveOffload, and frames with a
 * virtio_net_hdr the guest takes arrive through transmitOffload(). A guest started with
 * packed=on (QEMU: -device virtio-net-pci,…,packed=on) gets packed rings, served by the same
 * data path, on the queue workers too; the status says which (ring: packed | split). No
 * migration logging.
 *
 *   guest TX rings ──poll()──▶ io.receive / receiveOffload ──▶ steering ──▶ switch queues
 *     (or, handed over: worker q polls TX ring of pair q ──▶ its own rx ring, same breath)
 *   switch queue q ──transmit(…, q)──▶ guest RX ring of served pair (q mod pairs)
 *
 * The control socket and the kick eventfds live in this port's device thread: messages are
 * handled between bursts, so a ring never changes under a burst. Kicks wake the thread
 * (watcher.ts); interrupts are eventfd writes made only when the ring's flags ask for one.
 * Run to completion: when the guest serves pairs 0 … queues−1, queue worker q writes the
 * guest's RX ring of pair q itself (vhost-user/queue-side.ts); when it serves exactly those
 * and the port has no flow-steering rules, worker q also polls the guest's TX ring of pair
 * q (its frames enter on that worker: no RPS hop), and a kick on it is rung through to that
 * worker's doorbell. Rings are handed over when they start and taken back, synchronously,
 * before GET_VRING_BASE is answered (with where the worker left the ring), a memory table
 * replaced, a call fd closed or the connection dropped (queues/virtq-handover.ts);
 * otherwise this thread serves them.
 *
 * A front-end that breaks the protocol (malformed or unknown message, bad memory table,
 * ring outside guest memory) is refused: counted in vhost_msg_errors, logged (at most once
 * a second), answered with a failure where a reply is due, and disconnected; the port
 * listens on for the next connection (QEMU's reconnect=1 makes that a reset). A guest that
 * breaks a ring rule marks the device broken (vhost-net.ts). Other ports never notice.
 */
import { unlinkSync } from 'node:fs';
import path from 'node:path';
import type { Port, PortConfig, PortIO, PortType } from './port.js';
import { accept, close, eventfdRead, requireNative, sendWithFds } from '../../lib/native/index.js';
import { VIRTIO_COUNTERS } from '../endpoints/virtio-net-queues.js';
import { MAX_QUEUE_PAIRS } from '../../queues/virtio-transport.js';
import { isValidQueueSize, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1, VIRTIO_NET_F_MQ, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC } from '../../queues/virtqueue.js';
import { PROTOCOL_F_MQ, PROTOCOL_F_REPLY_ACK, requestName } from './vhost-user/protocol.js';
import { MessageReader } from './vhost-user/reader.js';
import { Session } from './vhost-user/session.js';
import { VhostNet } from './vhost-user/vhost-net.js';
import { Watcher } from './vhost-user/watcher.js';
import { OFFERED_OFFLOADS } from './vhost-user/offloads.js';
import type { VnetHdr } from '../../lib/net/vnet-hdr.js';
import { listenPrivate } from './vhost-user/listener.js';
import { createHandover, HandoverBlock, HandoverWriter } from '../../queues/virtq-handover.js';
import { VirtioNetSide } from '../endpoints/virtio-net-side.js';
import { VhostGuest } from './vhost-user/queue-side.js';

export const VHOST_COUNTERS = [
  ...VIRTIO_COUNTERS,
  'vhost_messages', // requests handled
  'vhost_msg_errors', // requests refused (the connection was closed)
  'vhost_connects',
  'vhost_disconnects',
  'vhost_conn_rejected', // a second front-end while one is connected
] as const;

interface VhostUserOptions {
  socket: string;
  queuePairs: number;
  queueSize: number;
  /** Offer VIRTIO_F_RING_PACKED (the guest's driver decides whether to take it). */
  packedRing: boolean;
}

function options(config: PortConfig): VhostUserOptions {
  return {
    socket: typeof config.socket === 'string' ? config.socket : '',
    queuePairs: typeof config.queuePairs === 'number' ? config.queuePairs : 1,
    queueSize: typeof config.queueSize === 'number' ? config.queueSize : 1024,
    packedRing: config.packedRing !== false,
  };
}

class VhostUserPort implements Port {
  /** poll() serves what the connection changed and the rings no worker holds. */
  readonly pollsBesideQueues = true;
  private io!: PortIO;
  private dev!: VhostNet;
  private watcher!: Watcher;
  private listenFd = -1;
  private conn = -1;
  private reader = new MessageReader();
  private ci = { messages: 0, errors: 0, connects: 0, disconnects: 0, rejected: 0, kicks: 0 };
  private bell: { ring(): void } | null = null;
  private lastLog = -Infinity;
  private suppressed = 0;
  /** Why the last front-end was refused (status), or null. */
  private lastRefusal: string | null = null;
  /** Checks for a message left half-sent (nothing arrives to wake the watcher then). */
  private staleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: VhostUserOptions) {}

  async open(io: PortIO): Promise<void> {
    requireNative('the vhost-user port');
    this.io = io;
    this.ci = {
      messages: io.counterIndex('vhost_messages'),
      errors: io.counterIndex('vhost_msg_errors'),
      connects: io.counterIndex('vhost_connects'),
      disconnects: io.counterIndex('vhost_disconnects'),
      rejected: io.counterIndex('vhost_conn_rejected'),
      kicks: io.counterIndex('kicks_seen'),
    };
    this.dev = new VhostNet({ maxPairs: this.opts.queuePairs, name: io.name, log: (l, m) => io.log(l, m) }, io.counters, io.counterIndex(VIRTIO_COUNTERS[0]));
    // Run to completion: the queue workers write the guest's RX rings (vhost-user/queue-side.ts).
    if (io.shared != null && io.wakeQueue !== undefined) {
      const wake = io.wakeQueue.bind(io);
      const h = new HandoverWriter(io.shared, wake, (m) => io.log('warn', m));
      this.dev.handover = h;
      // And poll the guest's TX rings, where no flow-steering rule needs this thread to steer.
      this.dev.txOnWorkers = io.rxOnQueues === true && io.resumeRx !== undefined;
      if (io.resumeRx !== undefined) h.resumeRx = io.resumeRx.bind(io);
    }
    // The device thread sleeps on its doorbell; a kick rings it (optional in PortIO).
    const db = io.doorbell;
    if (db !== undefined) {
      this.bell = {
        ring() {
          // Pairs with the device thread's Atomics.waitAsync on its doorbell word.
          Atomics.add(db.words, db.index, 1);
          Atomics.notify(db.words, db.index);
        },
      };
    }
    this.listenFd = listenPrivate(this.opts.socket);
    this.watcher = new Watcher(2 + 2 * this.opts.queuePairs, (r) => this.ready(r.fds), (e) => io.log('error', `vhost-user wait: ${e.message}`));
    this.watchFds();
    this.watcher.start();
    this.staleTimer = setInterval(() => {
      const why = this.conn >= 0 ? this.reader.stale() : null;
      if (why !== null) {
        for (const fd of this.reader.abandon()) this.dev.closeFd(fd);
        this.refuse(why);
        this.watchFds();
      }
    }, 500);
    io.log('info', `vhost-user back-end listening on ${this.opts.socket}`);
  }

  // The data path checks everything the guest wrote and does not throw by design; a bug
  // that throws anyway breaks this device only, never the device thread.
  poll(budget: number): number {
    try {
      return this.dev.poll(budget, this.io);
    } catch (e) {
      this.dev.broken(`internal error serving the rings: ${(e as Error).message}`);
      return 0;
    }
  }

  transmit(area: Uint8Array, offset: number, length: number, queue: number): boolean {
    try {
      return this.dev.transmit(area, offset, length, queue);
    } catch (e) {
      this.dev.broken(`internal error serving the rings: ${(e as Error).message}`);
      return false;
    }
  }

  offloads(): number {
    return this.dev.offloads();
  }

  transmitOffload(area: Uint8Array, offset: number, length: number, queue: number, hdr: VnetHdr): boolean {
    try {
      return this.dev.transmitOffload(area, offset, length, queue, hdr);
    } catch (e) {
      this.dev.broken(`internal error serving the rings: ${(e as Error).message}`);
      return false;
    }
  }

  flushTx(): void {
    try {
      this.dev.flush();
    } catch (e) {
      this.dev.broken(`internal error serving the rings: ${(e as Error).message}`);
    }
  }

  status(): Record<string, unknown> {
    return { socket: this.opts.socket, ...this.dev.describe(), lastRefusal: this.lastRefusal };
  }

  async close(): Promise<void> {
    if (this.staleTimer !== null) clearInterval(this.staleTimer);
    await this.watcher?.stop();
    this.disconnect(null);
    if (this.listenFd >= 0) close(this.listenFd);
    this.listenFd = -1;
    try {
      unlinkSync(this.opts.socket);
    } catch {
      // Already gone.
    }
  }

  // ── events ─────────────────────────────────────────────────────────────────

  private ready(fds: number[]): void {
    for (const fd of fds) {
      if (fd === this.listenFd) this.acceptAll();
      else if (fd === this.conn) this.readMessages();
      else this.kicked(fd);
    }
    this.watchFds();
  }

  private acceptAll(): void {
    for (;;) {
      let fd: number;
      try {
        fd = accept(this.listenFd);
      } catch (e) {
        this.io.log('warn', `vhost-user accept: ${(e as Error).message}`);
        return;
      }
      if (fd < 0) return;
      if (this.conn >= 0) {
        // vhost-user is one front-end per socket; QEMU's reconnect comes after our close.
        close(fd);
        this.io.counters[this.ci.rejected]++;
        this.warn('a second front-end connected while one is served: refused');
        continue;
      }
      this.conn = fd;
      this.reader = new MessageReader();
      this.dev.session = new Session(
        {
          maxPairs: this.opts.queuePairs,
          maxQueueSize: this.opts.queueSize,
          features: [VIRTIO_F_VERSION_1, ...(this.opts.packedRing ? [VIRTIO_F_RING_PACKED] : []), VIRTIO_NET_F_MRG_RXBUF, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, ...OFFERED_OFFLOADS, ...(this.opts.queuePairs > 1 ? [VIRTIO_NET_F_MQ] : [])],
          protocolFeatures: [PROTOCOL_F_REPLY_ACK, ...(this.opts.queuePairs > 1 ? [PROTOCOL_F_MQ] : [])],
        },
        this.dev,
      );
      this.io.counters[this.ci.connects]++;
      this.io.log('info', 'vhost-user front-end connected');
    }
  }

  private readMessages(): void {
    const r = this.reader.read(this.conn);
    for (const fd of r.orphans) this.dev.closeFd(fd);
    const session = this.dev.session!;
    for (let i = 0; i < r.messages.length; i++) {
      const m = r.messages[i];
      this.io.counters[this.ci.messages]++;
      const out = session.handle(m);
      if (out.reply !== null) {
        try {
          sendWithFds(this.conn, out.reply);
        } catch (e) {
          return this.disconnect(`replying to ${requestName(m.request)}: ${(e as Error).message}`);
        }
      }
      if (out.error !== null) {
        // The messages read after it are not handled; their fds are closed.
        for (const later of r.messages.slice(i + 1)) for (const fd of later.fds) this.dev.closeFd(fd);
        return this.refuse(out.error);
      }
    }
    if (r.error !== null) return this.refuse(r.error);
    if (r.closed) this.disconnect(null);
  }

  private kicked(fd: number): void {
    // Clear the eventfd (else poll reports it again at once) and wake the data path.
    eventfdRead(fd);
    this.io.counters[this.ci.kicks]++;
    // A TX ring a queue worker polls: that worker is the one to wake.
    const q = this.dev.txQueueOfKick(fd);
    if (q >= 0) this.dev.wakeQueue(q);
    else this.bell?.ring();
  }

  private refuse(why: string): void {
    this.io.counters[this.ci.errors]++;
    this.lastRefusal = why;
    this.warn(`front-end refused: ${why}; connection closed`);
    this.disconnect('refused');
  }

  private disconnect(why: string | null): void {
    if (this.conn < 0) return;
    this.dev.detach();
    close(this.conn);
    this.conn = -1;
    this.io.counters[this.ci.disconnects]++;
    if (why !== 'refused') this.io.log('info', `vhost-user front-end disconnected${why === null ? '' : `: ${why}`}`);
  }

  private watchFds(): void {
    const fds = [this.listenFd];
    if (this.conn >= 0) fds.push(this.conn, ...this.dev.kickFds());
    this.watcher.setFds(fds);
  }

  /** A front-end that errs in a loop (reconnect, break, reconnect…) must not flood the log. */
  private warn(message: string): void {
    const now = Date.now();
    if (now - this.lastLog < 1000) {
      this.suppressed++;
      return;
    }
    this.lastLog = now;
    const more = this.suppressed > 0 ? ` (${this.suppressed} more since the last message)` : '';
    this.suppressed = 0;
    this.io.log('warn', `${message}${more}`);
  }
}

const vhostUser: PortType = {
  type: 'vhost-user',
  pathOptions: ['socket'],
  options: { socket: 'string', queuePairs: 'integer', queueSize: 'integer', packedRing: 'boolean' },
  counters: VHOST_COUNTERS,
  validate(config: PortConfig): string[] {
    const errs: string[] = [];
    const o = options(config);
    if (typeof config.socket !== 'string' || config.socket === '') errs.push('socket: a path for the vhost-user socket is required (QEMU: -chardev socket,path=…)');
    else if (Buffer.byteLength(path.resolve(config.socket)) >= 108) errs.push(`socket: path ${config.socket} is too long for a UNIX socket (at most 107 bytes)`);
    if (!Number.isInteger(o.queuePairs) || o.queuePairs < 1 || o.queuePairs > MAX_QUEUE_PAIRS) errs.push(`queuePairs must be an integer in 1..${MAX_QUEUE_PAIRS}`);
    if (!isValidQueueSize(o.queueSize)) errs.push('queueSize must be a power of two in 1..32768');
    if (config.packedRing !== undefined && typeof config.packedRing !== 'boolean') errs.push('packedRing must be true or false');
    return errs;
  },
  create(config: PortConfig): Port {
    return new VhostUserPort(options(config));
  },
  // Run to completion: worker q writes the guest's RX ring of pair q itself (when the guest
  // serves at least as many pairs as the switch has queues) and polls its TX ring (when it
  // serves exactly as many, and no flow-steering rule needs the device thread to steer);
  // the connection, the memory table and the rings no worker holds stay with the device thread.
  queueSides: () => ({ rx: true, tx: true }),
  sharedState: (_config, queues) => createHandover(queues),
  openQueue: (_config, io) => new VirtioNetSide(io, new VhostGuest(new HandoverBlock(io.shared!))),
};

export default vhostUser;
