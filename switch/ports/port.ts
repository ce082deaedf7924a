/**
 * The port interface: what every port type (gen, pcap, udp, stream, vxlan, virtio, afpacket, tap)
 * implements. One file per port type in this folder; each default-exports a PortType.
 *
 * A port runs inside its own device thread (switch/device.ts), which owns the port's frame
 * pool, steers what the port receives onto the queues' rx rings, and drains the queues'
 * tx rings into port.transmit(). A port only speaks to its medium:
 *
 *   medium ──read──▶ io.receive()/io.submit() ──▶ steer ──▶ rx ring of queue q
 *   medium ◀─write── port.transmit()          ◀── device drains tx rings of every queue
 *
 * Ports that produce on their own (gen, pcap replay) implement poll(); ports driven by
 * sockets call io.receive() from their event handlers and io.flush() after each burst.
 *
 * Run to completion: a port type may also offer a per-queue side (queueSides/openQueue)
 * that queue worker q instantiates and drives itself — it polls the port's RX queue q and
 * writes the port's TX side directly, so a packet never changes thread:
 *
 *   medium queue q ──poll──▶ worker q: program ──transmit──▶ egress port's queue-q side
 */

/** JSON/YAML value kinds an option may take. `integer[]`: a list of integers. */
export type OptionKind = 'integer' | 'number' | 'string' | 'boolean' | 'integer[]';

/**
 * Option name → the kind (or kinds) it accepts. `name` and `type` are every port's.
 * Checked for every port type alike by ./options.ts.
 */
export type OptionTypes = Readonly<Record<string, OptionKind | readonly OptionKind[]>>;

import type { VnetHdr } from '../../lib/net/vnet-hdr.js';

/** What the device thread gives a port. */
export interface PortIO {
  /** This port's name and ifindex (index + 1). */
  readonly name: string;
  readonly ifindex: number;
  /** Frame size and the largest frame a port may receive (frame size − headroom). */
  readonly frameSize: number;
  readonly maxFrameLength: number;
  /**
   * Copies one frame from `src` into a pool frame, steers it and stages it for its queue.
   * Returns false when it was dropped (counted as rx_no_buffer, rx_ring_full, rx_dropped
   * or rx_flow_drop). Does not allocate.
   */
  receive(src: Uint8Array, offset: number, length: number): boolean;
  /** For ports that write frames in place: a free frame index, or -1 (counted rx_no_buffer). */
  allocFrame(): number;
  /**
   * Gives back a frame from allocFrame() that was not submitted (nothing arrived to fill it).
   * Counts nothing. Optional.
   */
  freeFrame?(frame: number): void;
  /** Byte offset in `area` where packet data of `frame` starts (after the headroom). */
  dataOffset(frame: number): number;
  /** The whole frame area, for in-place writes at dataOffset(frame). */
  readonly area: Uint8Array;
  /** Steers and stages a frame filled in place (length bytes at dataOffset(frame)). */
  submit(frame: number, length: number): boolean;
  /**
   * receive() for a frame that came with a virtio_net_hdr (a guest's or a tap's): a GSO
   * super-frame is cut into segments here (their checksums left partial when it was
   * NEEDS_CSUM), a partial or verified checksum rides along with the frame. Counted as
   * receive() is, plus rx_gso_packets/rx_gso_segments. Optional (the device thread's has it).
   */
  receiveOffload?(src: Uint8Array, offset: number, length: number, hdr: VnetHdr): boolean;
  /** Publishes staged frames to the queues: one ring submit each. Call after every burst. */
  flush(): void;
  /**
   * How many frames can be received right now without one being dropped for lack of room
   * (a free pool frame and a free slot on whichever rx ring it is steered to). Counts
   * nothing. For producers that wait instead of dropping (a lossless replay). Optional.
   */
  room?(): number;
  /** Adds to one of this port's own counters (name from PortType.counters), off the hot path. */
  count(name: string, n?: number): void;
  /** Index of one of this port's own counters, for hot-path use with `counters`. */
  counterIndex(name: string): number;
  /** All counters of this port (common ones first, then the port's own). */
  readonly counters: Float64Array;
  /**
   * The doorbell the thread hosting this port sleeps on when idle (one Int32 word in shared
   * memory): a polled port's helper thread rings it (Atomics.add + notify) to have poll()
   * called at once. Optional.
   */
  readonly doorbell?: { readonly words: Int32Array; readonly index: number };
  /** Logs an event through the main thread. */
  log(level: 'info' | 'warn' | 'error', message: string): void;
  /** The port type's state shared with its queue sides (PortType.sharedState), or null. Optional. */
  readonly shared?: SharedArrayBuffer | null;
  /** Rings the doorbell of the queue worker hosting switch queue q (a handover to its side waits). Optional. */
  wakeQueue?(q: number): void;
  /**
   * Run to completion: the queue workers receive this port's RX queues themselves (its
   * queueSides rx), so this thread must not receive from the medium. Optional (false).
   */
  readonly rxOnQueues?: boolean;
  /**
   * This thread produces on the port's rx rings again after a queue worker did (a VM's TX
   * virtqueues taken back from the workers, the handover acknowledged): reloads the
   * producer positions. Optional.
   */
  resumeRx?(): void;
  /**
   * The doorbell word of the queue worker hosting switch queue q, for a medium that rings it
   * itself (a JS guest's kick on a TX ring that worker polls). Optional.
   */
  queueBell?(q: number): { readonly words: Int32Array; readonly index: number };
}

export interface Port {
  /** Opens the medium (sockets, files). Errors here stop the switch's start with a clear message. */
  open(io: PortIO): Promise<void>;
  /**
   * For ports that produce on their own: produce up to `budget` frames (through io.submit or
   * io.receive) and return how many, 0 when idle for now, or -1 when finished for good
   * (a replay that reached its end).
   */
  poll?(budget: number): number;
  /**
   * Writes one frame to the medium; the bytes are area[offset, offset + length) and are only
   * valid during the call. `queue` is the switch queue that sent it (a multi-queue VM
   * port maps it to a guest queue). Returns false when the frame was dropped (counted
   * tx_dropped).
   */
  transmit(area: Uint8Array, offset: number, length: number, queue: number): boolean;
  /** After each burst of transmits (flush batched writes). */
  flushTx?(): void;
  /**
   * Work the queue sides hand the device thread through the port's shared state (a capture
   * buffer to append to the file), looked at on every pass of its loop and after a
   * wakeDevice(); returns how much it did (0: nothing). Optional.
   */
  service?(): number;
  /**
   * What the port takes now (OFFLOAD_CSUM | OFFLOAD_TSO, queues/frame-vnet.ts), e.g. as a
   * guest negotiated; absent: nothing, and the device thread cuts super-frames and completes
   * partial checksums before transmit(). Read once per drain.
   */
  offloads?(): number;
  /** transmit() of a frame with its virtio_net_hdr, for a port whose offloads() cover it. */
  transmitOffload?(area: Uint8Array, offset: number, length: number, queue: number, hdr: VnetHdr): boolean;
  /** Closes the medium; a capture is complete and flushed when this resolves. */
  close(): Promise<void>;
  /**
   * poll() also serves the port's control plane (a VM's status writes, the rings no queue
   * worker holds), so the device thread calls it even where the queue workers receive the
   * port's RX queues; it then receives only from what no worker polls. Optional (false).
   */
  readonly pollsBesideQueues?: boolean;
  /** Port-specific figures for the control plane (e.g. a replay's progress). */
  status?(): Record<string, unknown>;
  /**
   * Requests from the control plane, delivered between bursts (attach a VM's memory, rotate
   * a capture). `msg` is structured-cloneable; so is the result. A result object with a
   * `queueSides` field: the switch takes that field out and hands it to every queue side of
   * the port (QueuePort.control) before it answers, and again to a worker that restarts.
   */
  control?(msg: unknown): Promise<unknown> | unknown;
}

/**
 * What a queue worker gives a port's per-queue side (run to completion). Frames come from
 * the worker's own pool; submit() stages a descriptor on the port's rx ring of this queue,
 * which the same worker consumes in the same breath (so a worker that dies mid-breath
 * leaves what it took from the medium in that ring for its replacement). No steering: a
 * queue side produces only what belongs on its queue, as a multi-queue NIC's RX queue does.
 * Counters are this (port, queue)'s own block, summed into the port's figures.
 */
export interface QueueIO {
  readonly name: string;
  readonly ifindex: number;
  /** The switch queue this side belongs to, and how many there are. */
  readonly queue: number;
  readonly queues: number;
  /**
   * Rings the port's device thread (its doorbell), for a side that hands it work through
   * the port's shared state (a capture buffer to write: Port.service). Optional.
   */
  wakeDevice?(): void;
  /**
   * Whether this worker polls the port's RX queue (queueSides rx). False when the device
   * thread receives instead (the port has flow-steering rules: the rule decides the queue),
   * so the side only transmits.
   */
  readonly receives: boolean;
  readonly frameSize: number;
  readonly maxFrameLength: number;
  readonly area: Uint8Array;
  /**
   * Which pre-written frame each frame of the area holds (-1: unknown), for producers that
   * recycle frames they wrote once (gen's `recycle`). The worker marks -1 every frame it
   * writes itself (broadcast copies, socket transmits); programs' own edits are not
   * tracked (pktgen's clone_skb has the same contract).
   */
  readonly written: Int32Array;
  /** A free frame of the worker's pool, or -1 (counted rx_packets + rx_no_buffer). */
  allocFrame(): number;
  /**
   * Gives back a frame from allocFrame() that was not submitted (nothing arrived to fill it),
   * in the same poll. Counts nothing. Optional.
   */
  freeFrame?(frame: number): void;
  dataOffset(frame: number): number;
  /**
   * Frames that can still be submitted in the poll in progress without a drop the switch can
   * foresee: what poll() reserved on the rx ring, no more than the pool has free, nor than
   * the space on this queue's tx rings toward device threads. For producers that wait
   * instead of dropping (a lossless replay). Counts nothing.
   */
  room(): number;
  /**
   * Stages frame (length bytes at dataOffset) for this queue with its RSS hash; counted
   * rx_packets. `flags`: descriptor flags (F_VNET: the frame carries its virtio_net_hdr).
   */
  submit(frame: number, length: number, hash: number, flags?: number): boolean;
  /**
   * submit() with the hash read from `hashes[at]` here. For a side whose poll loop would
   * otherwise hold a 32-bit hash in a variable: V8 can leave such a loop's function
   * unoptimized but for the loop itself (on-stack replacement), and there a hash beyond
   * ±2^30 is a heap number, one a poll (docs/architecture.md §3).
   */
  submitHashed(frame: number, length: number, hashes: Int32Array, at: number): boolean;
  /** A free super-frame of the worker's pool (queues/pool.ts allocLarge), or -1; counts nothing. Optional. */
  allocSuperFrame?(): number;
  /** Whether this queue's chain takes super-frames whole now (ProgramModule.frags). Optional. */
  takesFrags?(): boolean;
  /**
   * This side produces on its rx ring again after the port's device thread did (a VM's TX
   * virtqueue handed over): reloads the producer position. Optional.
   */
  resumeRx?(): void;
  readonly counters: Float64Array;
  counterIndex(name: string): number;
  count(name: string, n?: number): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
  /** The port type's state shared with its device thread (PortType.sharedState), or null. */
  readonly shared: SharedArrayBuffer | null;
  /**
   * Whether the worker transmits on this side (true, the start) or stages frames on the
   * port's tx ring for its device thread (false): a side that serves a medium's TX queue
   * only while it is handed one (a VM's RX virtqueue) switches it between breaths.
   */
  direct: boolean;
}

/** A port's side inside queue worker q (see PortType.openQueue). */
export interface QueuePort {
  /** Produces up to `budget` frames on this queue (io.submit); 0 idle for now, -1 finished for good. */
  poll?(budget: number): number;
  /**
   * Writes one frame from this queue to the medium; false = dropped. Bytes valid during the
   * call only. `hdr`: the frame's virtio_net_hdr when it carries one (a partial checksum), else null.
   */
  transmit?(area: Uint8Array, offset: number, length: number, hdr: VnetHdr | null): boolean;
  /**
   * A super-frame given as pieces of `area` ((pieces[2i], pieces[2i + 1]) = (at, len), i in
   * [first, first + n), `total` bytes) with its header: GRO's coalesced segments, written
   * straight into the medium without a copy into a super-frame first. Optional: a side
   * without it gets GRO's super-frames through transmit().
   */
  transmitGather?(area: Uint8Array, pieces: Int32Array, first: number, n: number, total: number, hdr: VnetHdr): boolean;
  /** After each breath that transmitted. */
  flushTx?(): void;
  /** Once a breath, before polling: pick up what the device thread handed over (off the packet path). */
  service?(): void;
  /** A request the port's device thread sent its queue sides through the switch (Port.control's `queueSides`). */
  control?(msg: unknown): void;
  /** Progress the control plane may ask for (summed over queues by the caller). */
  status?(): Record<string, number>;
  /**
   * File descriptors (e.g. an AF_PACKET socket, a vhost-user kick eventfd) that should wake
   * the queue worker when it sleeps with nothing to do: it then blocks in poll() on them as
   * well as on its doorbell (switch/queue-sleep.ts). Read once, after openQueue.
   */
  wakeFds?(): readonly number[];
  /**
   * The medium rings the worker's doorbell itself when it has work (a guest's kick on a
   * virtqueue handed to this worker), so an idle worker needs no timed looks. Read once.
   */
  readonly wakesWorker?: boolean;
  /**
   * Frames one item of the medium may become beyond one (a guest's TSO super-frame cut into
   * segments): the worker reserves this many rx ring slots more than its budget per poll.
   */
  readonly burst?: number;
  /**
   * The worker is about to sleep (no queue it runs had work): upkeep that must stay off the
   * packet path (reading the kernel's drop count, the link's flags) goes here, so that a
   * packet that wakes the worker is never kept waiting by it, and what the side reports is
   * fresh while it sleeps.
   */
  idle?(): void;
  /** Closes what openQueue opened (sockets, mappings), when the worker stops. */
  close?(): void;
}

/** Which directions of a port its queue workers work themselves (the rest stays on the device thread). */
export interface QueueSides {
  rx: boolean;
  tx: boolean;
}

export interface PortConfig {
  name: string;
  type: string;
  [option: string]: unknown;
}

export interface PortType {
  type: string;
  /**
   * Every option this type accepts and the kinds of value it takes (./options.ts checks them
   * before validate(): an unknown or wrong-typed option is an error, never coerced).
   */
  options: OptionTypes;
  /** Options that name files: the configuration loader resolves them against the config file's folder. */
  pathOptions?: readonly string[];
  /** Counter names this port type adds after the common ones (ethtool -S style). */
  counters?: readonly string[];
  /**
   * Checks the values of the port's options, once their types are known to be right;
   * returns messages for what is wrong (empty when fine).
   */
  validate?(config: PortConfig): string[];
  /**
   * Checks across all the ports of this type in one switch, each already valid on its own
   * (e.g. one VXLAN port per VNI on a local address). `port` indexes `configs`.
   */
  validatePorts?(configs: PortConfig[]): { port: number; option: string; message: string }[];
  create(config: PortConfig): Port;
  /**
   * Run to completion: the directions this port's queue workers drive themselves, one
   * queue side per worker (as a multi-queue NIC's queues). Absent or both false: the device
   * thread does all I/O (media that need an event loop: sockets, files).
   */
  queueSides?(config: PortConfig): QueueSides;
  /** Creates worker `queue`'s side of the port, inside that worker. */
  openQueue?(config: PortConfig, io: QueueIO): QueuePort;
  /**
   * Shared memory the port's device thread and its queue sides both see (PortIO.shared,
   * QueueIO.shared), made once in the main thread: how a device hands a medium's queue
   * over to the worker that serves it.
   */
  sharedState?(config: PortConfig, queues: number): SharedArrayBuffer;
}
