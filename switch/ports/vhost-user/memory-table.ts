/**
 * SET_MEM_TABLE, checked and made usable: the guest's RAM regions (each backed by an fd
 * QEMU sent), their guest-physical placement, and the two translations the back-end needs:
 *  - guest-physical → offset in the mapped span (descriptor addresses): the identity,
 *    because mapping.ts maps every region at its guest-physical address inside one
 *    reserved span; GuestMemory.contains() keeps every access inside a region;
 *  - front-end virtual → guest-physical (SET_VRING_ADDR gives QEMU's own addresses).
 * An address in no region is an error, never a fault.
 *
 * Refused as QEMU's libvhost-user and DPDK refuse them: a table without regions or with more
 * than 8, fds not one per region, zero-size regions, overlapping regions (guest-physical or
 * front-end virtual), an mmap offset that is not page-aligned. And two limits of ours: the
 * regions must be page-aligned (each is mapped at its guest-physical address) and end below
 * 4 GiB (descriptor addresses are handled as 32-bit) — a PC guest with -m ≤ 2816M keeps all
 * its RAM there.
 */
import type { MemoryRange } from '../../../queues/virtqueue-memory.js';
import type { Region } from './protocol.js';

export const PAGE = 4096;
/** Guest-physical addresses the data path handles (descriptors are read as 32-bit). */
export const MAX_GUEST_PHYS = 2 ** 32;

export interface TableRegion {
  /** Guest-physical start and size. */
  gpa: number;
  size: number;
  /** The front-end's (QEMU's) virtual address of the region's first byte. */
  uva: bigint;
  /** Where the region starts in its fd (page-aligned). */
  offset: number;
  fd: number;
}

export interface MemoryTable {
  regions: TableRegion[];
  /** Bytes to reserve: every region ends at or below it. */
  span: number;
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

/** Checks the table and pairs each region with its fd; returns the table or what is wrong. */
export function parseMemoryTable(regions: Region[], fds: number[]): MemoryTable | string {
  if (fds.length !== regions.length) return `${regions.length} regions came with ${fds.length} file descriptors (one per region expected)`;
  const out: TableRegion[] = [];
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i];
    const where = `region ${i} (guest ${hex(r.guestPhys)}, size ${hex(r.size)})`;
    if (r.size === 0n) return `${where} has zero size`;
    if (fds[i] < 0) return `${where} came with an invalid file descriptor ${fds[i]}`;
    if (r.guestPhys + r.size > BigInt(MAX_GUEST_PHYS)) return `${where} ends above 4 GiB, which this back-end does not map (give the guest at most 2816 MiB)`;
    if (r.mmapOffset % BigInt(PAGE) !== 0n) return `${where} has mmap offset ${hex(r.mmapOffset)}, not a multiple of ${PAGE}`;
    // Regions are mapped at their guest-physical addresses, page by page (QEMU's RAM regions are).
    if (r.guestPhys % BigInt(PAGE) !== 0n || r.size % BigInt(PAGE) !== 0n) return `${where} is not page-aligned (address and size must be multiples of ${PAGE})`;
    if (r.mmapOffset > 2n ** 52n || r.userAddr + r.size > 2n ** 64n) return `${where} has an mmap offset or front-end address out of range`;
    out.push({ gpa: Number(r.guestPhys), size: Number(r.size), uva: r.userAddr, offset: Number(r.mmapOffset), fd: fds[i] });
  }
  for (let i = 0; i < out.length; i++) {
    for (let j = i + 1; j < out.length; j++) {
      const a = out[i];
      const b = out[j];
      if (a.gpa < b.gpa + b.size && b.gpa < a.gpa + a.size) return `regions ${i} and ${j} overlap in guest-physical memory ([${hex(a.gpa)}, ${hex(a.gpa + a.size)}) and [${hex(b.gpa)}, ${hex(b.gpa + b.size)}))`;
      if (a.uva < b.uva + BigInt(b.size) && b.uva < a.uva + BigInt(a.size)) return `regions ${i} and ${j} overlap in the front-end's address space (${hex(a.uva)} and ${hex(b.uva)})`;
    }
  }
  return { regions: out, span: Math.max(...out.map((r) => r.gpa + r.size)) };
}

/** The guest-physical ranges that are memory (for GuestMemory). */
export function memoryRanges(t: MemoryTable): MemoryRange[] {
  return t.regions.map((r) => ({ start: r.gpa, end: r.gpa + r.size }));
}

/** Front-end virtual [uva, uva + len) → guest-physical address, or -1 when it is not inside one region. */
export function uvaToGpa(t: MemoryTable, uva: bigint, len: number): number {
  for (const r of t.regions) {
    if (uva >= r.uva && uva + BigInt(len) <= r.uva + BigInt(r.size)) return r.gpa + Number(uva - r.uva);
  }
  return -1;
}
