/**
 * The virtio transport between a VM (guest driver) and the switch's virtio port (device):
 * a small register file in its own SharedArrayBuffer, modelled on virtio-mmio.
 *
 * Guest memory (the rings and buffers) is a separate SharedArrayBuffer; the transport
 * carries only what virtio-mmio registers carry. Both buffers reach the port through
 * Port.control({ op: 'attach', memory, transport }) — see guest/runner.ts.
 *
 *   word  0  kMagic 'virt'            device writes at attach
 *   word  1  kAttached                device: 1 while a port serves this VM
 *   word  2  kDeviceFeaturesLo/Hi     device (words 2, 3)
 *   word  4  kDriverFeaturesLo/Hi     driver, before FEATURES_OK (words 4, 5)
 *   word  6  kStatus                  device: the device status byte as the device sees it
 *   word  7  kStatusReq               driver: the status it writes (0 = reset)
 *   word  8  kReqSeq                  driver: bumped after each kStatusReq write
 *   word  9  kAckSeq                  device: = kReqSeq once that write took effect
 *   word 10  kMaxPairs                device: max_virtqueue_pairs (config space)
 *   word 11  kPairs                   driver: queue pairs in use (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
 *   word 12  kMacLo/Hi                device: MAC bytes 0–3 / 4–5 (config space)
 *   word 14  kNetStatus               device: VIRTIO_NET_S_LINK_UP
 *   word 15  kConfigGen               device: config generation
 *   word 16  kDeviceBell              driver → device: bumped + notified on each kick or status write
 *   word 17  kGuestBell               device → driver: bumped + notified on each interrupt
 *   word 18  kCommand, 19 kCommandSeq runner → guest program (stop, reset, pause/resume RX)
 *   word 32 + 16·i                    queue i (rx of pair p = 2p, tx = 2p + 1):
 *            +0 size  +1 ready  +2 desc  +3 driver(avail)  +4 device(used)   (driver writes)
 *            +5 maxSize (device) +6 kicks (driver) +7 interrupts (device)
 *
 * A status write is a mailbox because the device runs in another thread: the driver
 * writes kStatusReq, bumps kReqSeq and rings kDeviceBell; the device applies it between
 * bursts, publishes kStatus, stores kAckSeq and notifies it; the driver waits on kAckSeq
 * (that is the synchronous register write of virtio-mmio, made explicit). Addresses are
 * 32-bit: guest memory is at most 2 GiB (a SharedArrayBuffer).
 */
export const kMagic = 0;
export const kAttached = 1;
export const kDeviceFeaturesLo = 2;
export const kDeviceFeaturesHi = 3;
export const kDriverFeaturesLo = 4;
export const kDriverFeaturesHi = 5;
export const kStatus = 6;
export const kStatusReq = 7;
export const kReqSeq = 8;
export const kAckSeq = 9;
export const kMaxPairs = 10;
export const kPairs = 11;
export const kMacLo = 12;
export const kMacHi = 13;
export const kNetStatus = 14;
export const kConfigGen = 15;
export const kDeviceBell = 16;
export const kGuestBell = 17;
export const kCommand = 18;
export const kCommandSeq = 19;

export const kQueueBase = 32;
export const kQueueStride = 16;
export const QSIZE = 0;
export const QREADY = 1;
export const QDESC = 2;
export const QDRIVER = 3;
export const QDEVICE = 4;
export const QMAXSIZE = 5;
export const QKICKS = 6;
export const QINTERRUPTS = 7;

export const VIRTIO_MAGIC = 0x74726976; // 'virt' little-endian, as virtio-mmio
export const VIRTIO_NET_S_LINK_UP = 1;
export const MAX_QUEUE_PAIRS = 8;

export function transportBytes(): number {
  return (kQueueBase + kQueueStride * 2 * MAX_QUEUE_PAIRS) * 4;
}

export function createTransport(): SharedArrayBuffer {
  return new SharedArrayBuffer(transportBytes());
}

export function queueWord(queue: number, field: number): number {
  return kQueueBase + kQueueStride * queue + field;
}

export function rxQueueOf(pair: number): number {
  return 2 * pair;
}
export function txQueueOf(pair: number): number {
  return 2 * pair + 1;
}

/** The attach message a VM's runner hands to sw.portControl(name, msg). */
export interface VirtioAttach {
  op: 'attach';
  memory: SharedArrayBuffer;
  transport: SharedArrayBuffer;
}
export interface VirtioDetach {
  op: 'detach';
}
export type VirtioControl = VirtioAttach | VirtioDetach | { op: 'status' };

export function macToWords(mac: string): [number, number] {
  const b = parseMac(mac);
  return [(b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0, b[4] | (b[5] << 8)];
}
export function wordsToMac(lo: number, hi: number): string {
  const b = [lo & 0xff, (lo >>> 8) & 0xff, (lo >>> 16) & 0xff, (lo >>> 24) & 0xff, hi & 0xff, (hi >>> 8) & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
export function parseMac(mac: string): number[] {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new Error(`invalid MAC address '${mac}'`);
  return parts.map((p) => parseInt(p, 16));
}
