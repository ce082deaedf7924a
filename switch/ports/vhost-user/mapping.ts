/**
 * A QEMU guest's RAM in this thread: every region of a memory table mapped from its fd at
 * its guest-physical address inside one reserved span, seen as one GuestMemory whose
 * contains() admits only the regions. Any thread that serves a ring maps the table itself
 * (fds are process-wide, mappings are views per thread): no byte goes through another
 * thread.
 */
import { fstatSync } from 'node:fs';
import { mapIntoSpan, releaseSpan, reserveSpan, type Span } from '../../../lib/native/index.js';
import { GuestMemory } from '../../../queues/virtqueue-memory.js';
import { memoryRanges, type MemoryTable } from './memory-table.js';

export class GuestMapping {
  readonly memory: GuestMemory;
  private span: Span | null;

  /**
   * Maps every region; throws (with the region named) when the kernel refuses one or when
   * a region runs past the end of its file — touching such a page would kill the process
   * with SIGBUS, so a short fd is refused here instead.
   */
  constructor(readonly table: MemoryTable) {
    table.regions.forEach((r, i) => {
      let size: number;
      try {
        size = fstatSync(r.fd).size;
      } catch (e) {
        throw new Error(`region ${i}: fd ${r.fd}: ${(e as Error).message}`);
      }
      if (size < r.offset + r.size) throw new Error(`region ${i} (guest 0x${r.gpa.toString(16)}, ${r.size} bytes at offset 0x${r.offset.toString(16)}) runs past the end of its fd, which holds ${size} bytes`);
    });
    const span = reserveSpan(table.span);
    try {
      table.regions.forEach((r, i) => {
        try {
          mapIntoSpan(span, r.gpa, r.fd, r.size, r.offset);
        } catch (e) {
          throw new Error(`region ${i} (guest 0x${r.gpa.toString(16)}, ${r.size} bytes, fd ${r.fd} at offset 0x${r.offset.toString(16)}): ${(e as Error).message}`);
        }
      });
    } catch (e) {
      releaseSpan(span);
      throw e;
    }
    this.span = span;
    this.memory = new GuestMemory(span.buffer, memoryRanges(table));
  }

  /** Unmaps; nothing may touch `memory` afterwards (the device dropped its queues first). */
  release(): void {
    if (this.span === null) return;
    releaseSpan(this.span);
    this.span = null;
  }
}
