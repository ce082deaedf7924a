/**
 * The virtio 1.x split virtqueue: byte layout, flags, feature bits and the EVENT_IDX test.
 * Both sides use this file: the device side (queues/virtqueue-device.ts, the switch, as
 * vhost is) and the driver side (queues/virtqueue-driver.ts, the guest).
 *
 * A split queue of size Q (a power of two ≤ 32768) is three areas in guest memory, at
 * addresses the driver chooses; every field is little-endian:
 *
 *   descriptor table (align 16, 16·Q bytes)      written by the driver only
 *   ┌──────────── addr le64 ────────────┬─ len le32 ─┬ flags le16 ┬ next le16 ┐  × Q
 *
 *   available ring (align 2, 6 + 2·Q bytes)      written by the driver only
 *   ┌ flags le16 ┬ idx le16 ┬ ring[Q] le16 … ┬ used_event le16 ┐
 *
 *   used ring (align 4, 6 + 8·Q bytes)           written by the device only
 *   ┌ flags le16 ┬ idx le16 ┬ ring[Q] {id le32, len le32} … ┬ avail_event le16 ┐
 *
 * idx fields run free over 2^16; the slot of idx i is i & (Q − 1). The 16-bit index and
 * event words are read and written with Atomics on a Uint16Array over guest memory (the
 * platform is little-endian; see assertLittleEndian), everything else with a DataView.
 */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;

export const VIRTQ_MAX_SIZE = 32768;
export const VIRTQ_DESC_BYTES = 16;
export const VIRTQ_USED_ELEM_BYTES = 8;

/** Field offsets inside one descriptor. */
export const DESC_ADDR = 0;
export const DESC_LEN = 8;
export const DESC_FLAGS = 12;
export const DESC_NEXT = 14;

/** Field offsets inside the available ring. */
export const AVAIL_FLAGS = 0;
export const AVAIL_IDX = 2;
export const AVAIL_RING = 4;
/** Field offsets inside the used ring. */
export const USED_FLAGS = 0;
export const USED_IDX = 2;
export const USED_RING = 4;

export const DESC_ALIGN = 16;
export const AVAIL_ALIGN = 2;
export const USED_ALIGN = 4;

// Feature bits (virtio 1.x §6 and the net device section).
export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_GUEST_TSO4 = 7;
export const VIRTIO_NET_F_GUEST_TSO6 = 8;
export const VIRTIO_NET_F_GUEST_ECN = 9;
export const VIRTIO_NET_F_HOST_TSO4 = 11;
export const VIRTIO_NET_F_HOST_TSO6 = 12;
export const VIRTIO_NET_F_HOST_ECN = 13;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_F_MQ = 22;
export const VIRTIO_RING_F_INDIRECT_DESC = 28;
export const VIRTIO_RING_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;
export const VIRTIO_F_RING_PACKED = 34;
export const VIRTIO_F_IN_ORDER = 35;

// Device status bits.
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_DEVICE_NEEDS_RESET = 64;
export const STATUS_FAILED = 128;

/** The 12-byte virtio-net header (VERSION_1): flags u8, gso_type u8, hdr_len, gso_size, csum_start, csum_offset, num_buffers (le16). */
export const NET_HDR_BYTES = 12;
export const NET_HDR_NUM_BUFFERS = 10;
/** Smallest RX buffer a driver posts without GSO: header + 1514-byte frame. */
export const NET_MIN_RX_BUFFER = NET_HDR_BYTES + 1514;

export function descTableBytes(size: number): number {
  return VIRTQ_DESC_BYTES * size;
}
export function availRingBytes(size: number): number {
  return 6 + 2 * size;
}
export function usedRingBytes(size: number): number {
  return 6 + VIRTQ_USED_ELEM_BYTES * size;
}
/** Offset of used_event inside the available ring. */
export function usedEventOffset(size: number): number {
  return AVAIL_RING + 2 * size;
}
/** Offset of avail_event inside the used ring. */
export function availEventOffset(size: number): number {
  return USED_RING + VIRTQ_USED_ELEM_BYTES * size;
}

export function isValidQueueSize(size: number): boolean {
  return Number.isInteger(size) && size >= 1 && size <= VIRTQ_MAX_SIZE && (size & (size - 1)) === 0;
}

/** Where a queue's three areas are (guest-physical addresses, i.e. offsets in guest memory). */
export interface SplitLayout {
  size: number;
  desc: number;
  avail: number;
  used: number;
}

/** Bytes a contiguous layout (desc, then avail, then used aligned to 4) takes. */
export function splitLayoutBytes(size: number): number {
  const availEnd = descTableBytes(size) + availRingBytes(size);
  return align(availEnd, USED_ALIGN) + usedRingBytes(size);
}

/** The three areas placed one after another from `base` (which must be 16-aligned). */
export function contiguousLayout(base: number, size: number): SplitLayout {
  const avail = base + descTableBytes(size);
  const used = align(avail + availRingBytes(size), USED_ALIGN);
  return { size, desc: base, avail, used };
}

export function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * The EVENT_IDX rule: after moving an index from `old` to `newIdx`, notify the other side
 * iff it asked to hear about index `event`, i.e. event lies in [old, newIdx). All u16.
 */
export function needEvent(event: number, newIdx: number, old: number): boolean {
  return ((newIdx - event - 1) & 0xffff) < ((newIdx - old) & 0xffff);
}

/** A feature bit (0..63) as a test against the lo/hi 32-bit halves. */
export function hasFeature(lo: number, hi: number, bit: number): boolean {
  return bit < 32 ? ((lo >>> bit) & 1) === 1 : ((hi >>> (bit - 32)) & 1) === 1;
}

export function featureWords(bits: readonly number[]): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const b of bits) {
    if (b < 32) lo |= 1 << b;
    else hi |= 1 << (b - 32);
  }
  return [lo >>> 0, hi >>> 0];
}

/** The u16 Atomics below rely on the platform's byte order matching the ring's. */
export function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('virtqueues need a little-endian platform');
}
