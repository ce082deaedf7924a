/**
 * Test host for a virtio-net device: runs the device side in the test's thread (polling
 * with setImmediate, as a device thread's event loop would) while the VM runs in its own
 * Worker. Frames the guest sends are copied into `sent`, or handed to `onFrame`.
 */
import { VirtioNetDevice, type VirtioNetOptions } from '../../../../switch/endpoints/virtio-net-device.js';
import { startVm, type Vm, type VmOptions } from '../../../../guest/runner.js';

export class DeviceHost {
  readonly dev: VirtioNetDevice;
  readonly sent: Uint8Array[] = [];
  onFrame: ((b: Uint8Array) => void) | null = null;
  logs: string[] = [];
  receiveResult = true;
  private running = true;
  private loop: Promise<void>;

  constructor(opts: Partial<VirtioNetOptions> = {}) {
    this.dev = new VirtioNetDevice({ mac: '52:54:00:00:00:01', maxPairs: 1, maxQueueSize: 1024, log: (l, m) => this.logs.push(`${l}: ${m}`), ...opts });
    const sink = {
      receive: (src: Uint8Array, off: number, len: number) => {
        const copy = src.slice(off, off + len);
        if (this.onFrame) this.onFrame(copy);
        else this.sent.push(copy);
        return this.receiveResult;
      },
    };
    this.loop = (async () => {
      while (this.running) {
        this.dev.poll(64, sink);
        await new Promise((r) => setImmediate(r));
      }
    })();
  }

  startVm(opts: Omit<VmOptions, 'attach'>): Promise<Vm> {
    return startVm({
      ...opts,
      attach: (m) => {
        const err = this.dev.attach(m.memory, m.transport);
        if (err) throw new Error(err);
        return {};
      },
      detach: () => this.dev.detach(),
    });
  }

  /** Sends one frame to the guest on switch queue q. */
  send(frame: Uint8Array, q = 0): boolean {
    const ok = this.dev.transmit(frame, 0, frame.length, q);
    this.dev.flush();
    return ok;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
