/**
 * virtio-net offloads over vhost-user: the feature bits the back-end offers QEMU's
 * front-end, and what a guest that negotiated them takes on receive.
 *
 * Offered: CSUM and HOST_TSO4/6 (the guest may send partial checksums and TCP super-frames,
 * which the device thread's receiveOffload cuts or hands on whole), GUEST_CSUM and
 * GUEST_TSO4/6 (the switch may write partial checksums and super-frames into the guest's RX
 * buffers; GRO builds them). Linux's virtio_net needs GUEST_CSUM for GUEST_TSO*, as the
 * spec requires; a guest without MRG_RXBUF then posts "big" 64 KB buffer chains, which the
 * data path fills without merging. No ECN bits: a super-frame with CWR is cut for the guest.
 */
import { OFFLOAD_CSUM, OFFLOAD_TSO4, OFFLOAD_TSO6 } from '../../../queues/frame-vnet.js';
import {
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
} from '../../../queues/virtqueue.js';

export const OFFERED_OFFLOADS = [VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6] as const;

/** What a guest with these negotiated features takes on receive (OFFLOAD_*). */
export function guestOffloads(has: (bit: number) => boolean): number {
  if (!has(VIRTIO_NET_F_GUEST_CSUM)) return 0;
  return OFFLOAD_CSUM | (has(VIRTIO_NET_F_GUEST_TSO4) ? OFFLOAD_TSO4 : 0) | (has(VIRTIO_NET_F_GUEST_TSO6) ? OFFLOAD_TSO6 : 0);
}
