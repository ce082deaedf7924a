/**
 * The vhost-user port inside queue worker q (run to completion): the guest's RX ring of
 * pair q, written by this worker (switch/endpoints/virtio-net-side.ts), over the guest's
 * RAM mapped in this thread from the memory table's fds, with interrupts as writes to the
 * ring's call eventfd (only when the ring's flags or EVENT_IDX ask).
 *
 * The device thread keeps the vhost-user connection and hands the ring over (and takes it
 * back at GET_VRING_BASE, SET_MEM_TABLE, SET_VRING_CALL, disconnect) through the port's
 * handover block; this side maps the table when a ring names a memory generation it has
 * not mapped, and unmaps only after it stopped serving: the device waits for that before
 * it closes the fds or answers the front-end.
 */
import { eventfdWrite } from '../../../lib/native/index.js';
import { HandoverBlock } from '../../../queues/virtq-handover.js';
import type { GuestMemory } from '../../../queues/virtqueue-memory.js';
import type { SideGuest } from '../../endpoints/virtio-net-side.js';
import { GuestMapping } from './mapping.js';

export class VhostGuest implements SideGuest {
  private mapping: GuestMapping | null = null;
  private gen = -1;

  constructor(private readonly block: HandoverBlock) {}

  /** Maps the table the device wrote for generation `gen` (it holds the fds open until we acknowledge). */
  memory(gen: number): GuestMemory | null {
    if (this.mapping !== null && gen === this.gen) return this.mapping.memory;
    this.release();
    const regions = this.block.table().map((r) => ({ ...r, uva: 0n }));
    if (regions.length === 0) throw new Error('no memory table was handed over');
    // GuestMapping checks each fd's size (a short one would SIGBUS) and throws naming the region.
    this.mapping = new GuestMapping({ regions, span: Math.max(...regions.map((r) => r.gpa + r.size)) });
    this.gen = gen;
    return this.mapping.memory;
  }

  release(): void {
    // This thread stopped serving before calling: nothing touches the mapping any more.
    this.mapping?.release();
    this.mapping = null;
    this.gen = -1;
  }

  interrupt(_vq: number, callFd: number): void {
    // The fd stays open while the ring is handed to us: the device takes the ring back
    // (SET_VRING_CALL re-hands it) before it closes a call fd.
    if (callFd >= 0) eventfdWrite(callFd, 1);
  }
}
