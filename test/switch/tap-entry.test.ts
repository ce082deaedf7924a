/**
 * The packet tap at both stages of the hook: entry sees the packet as it arrived, exit sees
 * it as the program left it, with the verdict (xdpdump's --rx-capture entry,exit).
 */
import { describe, expect, it } from 'vitest';
import { createLayout } from '../../switch/layout.js';
import { QueueEngine, TAP_ENTRY, type PacketTap } from '../../switch/queue-engine.js';
import { Ring } from '../../queues/ring.js';
import { FramePool } from '../../queues/pool.js';
import { instantiate, loadProgram } from '../../programs/loader.js';
import { CONFIG_DEFAULTS } from '../../switch/config-types.js';
import type { XdpContext } from '../../programs/context.js';

class Recorder implements PacketTap {
  readonly seen: { dst: number; verdict: number }[] = [];
  observe(ctx: XdpContext, verdict: number): void {
    this.seen.push({ dst: ctx.packet[ctx.data + 5], verdict });
  }
}

describe('packet tap stages', () => {
  it('entry sees the packet before the program rewrote it; exit after, with the verdict', async () => {
    const layout = createLayout({ ...CONFIG_DEFAULTS, queues: 1, ports: [{ name: 'a', type: 'null' }], programs: [] }, []);
    const lp = await loadProgram({ name: 'tx' }, { baseDir: '.', queues: 1 });
    const engine = new QueueEngine(layout, 0, await instantiate(lp, { queue: 0, queues: 1, ports: [{ name: 'a', ifindex: 1 }], log() {} }));
    const entry = new Recorder();
    const exit = new Recorder();
    engine.tapEntry = entry;
    engine.tap = exit;
    const pool = new FramePool(layout.pools[0]);
    const rx = new Ring(layout.rx[0][0]);
    const area = new Uint8Array(layout.area);
    const f = pool.alloc();
    // dst MAC ends in 0x02, src MAC in 0x01: the tx program swaps them.
    area.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0], f * 2048 + 256);
    const o = rx.slotOf(0);
    rx.words.set([f, 256 | (60 << 16), 0, 0], o);
    rx.submit(1);
    expect(engine.breathe()).toBe(1);
    expect(entry.seen).toEqual([{ dst: 2, verdict: TAP_ENTRY }]);
    expect(exit.seen).toEqual([{ dst: 1, verdict: 3 }]);
  });
});
