/**
 * What a guest program is: the code a VM runs on top of its virtio-net driver (the
 * examples in examples/vm/ are guest programs). The VM's thread (guest/vm-worker.ts)
 * brings the driver up, then loops: receive on every queue pair → program.receive(),
 * program.tick(), publish transmits, sleep on the interrupt word when idle.
 */
import type { VirtioNetDriver } from './virtio-net-driver.js';
import type { VnetHdr } from '../lib/net/vnet-hdr.js';

export interface GuestEnv {
  readonly nic: VirtioNetDriver;
  /** The MAC the device's config space gave (or the driver's default). */
  readonly mac: Uint8Array;
  readonly params: Readonly<Record<string, unknown>>;
  /** Counters the runner reads (base names, then the program's own). */
  readonly counters: Float64Array;
  /** Index of a counter by name (look it up once in start()). */
  counterIndex(name: string): number;
  /** Queues one frame for transmit on pair `pair` (default 0); false when the TX ring is full (counted tx_full). */
  send(bytes: Uint8Array, offset: number, length: number, pair?: number): boolean;
  /** send() with a virtio_net_hdr (a TSO super-frame, a partial checksum): needs the driver's `offloads`. */
  sendOffload(bytes: Uint8Array, offset: number, length: number, hdr: VnetHdr, pair?: number): boolean;
  /**
   * In-place transmit: where a frame for `pair` may be built in nic.mem.bytes (at most
   * nic.txRoom bytes), or -1 when the TX ring is full (counted tx_full); then sendFrame()
   * queues it. Saves send()'s copy from the program's buffer.
   */
  txFrame(pair?: number): number;
  /** Queues the frame built at the last txFrame(pair), with a virtio_net_hdr or none. */
  sendFrame(length: number, hdr: VnetHdr | null, pair?: number): boolean;
  log(message: string): void;
}

export interface GuestProgram {
  /** Counter names this program adds. */
  counters?: readonly string[];
  /** Once after the driver is up (and again after each reset). */
  start?(env: GuestEnv): void;
  /**
   * One received frame: bytes[offset, offset + length), valid only during the call; its
   * virtio_net_hdr is at bytes[offset − NET_HDR_BYTES] (GRO super-frames, checksum state).
   */
  receive(env: GuestEnv, bytes: Uint8Array, offset: number, length: number, pair: number): void;
  /**
   * Every loop iteration (at least every few milliseconds when idle). Returns how much it
   * did (frames sent): a program that is busy keeps the VM from sleeping.
   */
  tick?(env: GuestEnv, nowMs: number): number | void;
}

export function defineGuest(p: GuestProgram): GuestProgram {
  return p;
}

/** Counters every VM has, before the program's own. */
export const GUEST_COUNTERS = [
  'rx_packets',
  'rx_bytes',
  'tx_packets',
  'tx_bytes',
  'tx_full',
  'resets',
  'rx_q0',
  'rx_q1',
  'rx_q2',
  'rx_q3',
  'rx_q4',
  'rx_q5',
  'rx_q6',
  'rx_q7',
  // The driver's halt polling, named as KVM's vCPU stats: waits that polled, polls that
  // saw the interrupt come (no sleep), and sleeps that ended (interrupt or timeout).
  'halt_attempted_poll',
  'halt_successful_poll',
  'halt_wakeup',
] as const;
export const GUEST_COUNTER_SLOTS = 64;

/** Commands the runner posts through the transport's kCommand word. */
export const CMD_STOP = 1;
export const CMD_RESET = 2;
export const CMD_PAUSE_RX = 3;
export const CMD_RESUME_RX = 4;
