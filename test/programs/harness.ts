/** Runs a built-in program on packets in a test: loaded as the switch loads it, one context. */
import { defaultPorts, instantiateOffline, load, PacketSlot, type Instance } from '../../programs/offline/instance.js';
import type { ArrayMap } from '../../programs/maps/index.js';
import type { PortInfo } from '../../programs/program.js';

export interface TestProgram extends Instance {
  slot: PacketSlot;
  clock: { ns: number };
  /** Runs one frame arriving on `ifindex`; returns the verdict. */
  run(frame: Uint8Array, ifindex?: number, queue?: number): number;
  /** Sum over queues of stats counter i (a percpu_array of u64). */
  stat(i: number): number;
}

export async function testProgram(name: string, params: Record<string, unknown>, opts: { ports?: PortInfo[]; queues?: number; queue?: number } = {}): Promise<TestProgram> {
  const ports = opts.ports ?? defaultPorts(4);
  const queues = opts.queues ?? 1;
  const lp = await load(name, params, { queues, ports });
  const clock = { ns: 1e9 };
  const inst = await instantiateOffline(lp, { queue: opts.queue ?? 0, queues, ports, now: () => clock.ns });
  const slot = new PacketSlot(ports.length);
  return {
    ...inst,
    slot,
    clock,
    run(frame, ifindex = 1, queue = opts.queue ?? 0) {
      if (!slot.load(frame, ifindex, queue)) throw new Error('frame does not fit');
      return inst.prog(slot.ctx);
    },
    stat(i) {
      return (inst.maps.stats as ArrayMap).sumU64(i, 0);
    },
  };
}
