/**
 * One flush per burst of socket events.
 *
 * Node delivers each datagram or chunk as its own callback, with microtasks drained after
 * each one, so a microtask would flush after every frame. A setImmediate callback runs in
 * the event loop's check phase, after every I/O callback of this loop iteration: one
 * flush (one ring submit per queue) for the whole burst. Allocates one Immediate per burst.
 */
export class BurstFlush {
  private scheduled = false;
  private readonly run: () => void;

  constructor(flush: () => void) {
    this.run = () => {
      this.scheduled = false;
      flush();
    };
  }

  /** Called after staging a frame: makes sure a flush follows this burst. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }
}
