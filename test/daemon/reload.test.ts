/**
 * The daemon's reload logic against a recording stand-in for the switch (no threads): a
 * reload applies whole or not at all, only chains that changed are swapped, a change that
 * needs a restart is refused, and prog replace/attach reshape the chains as documented.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Daemon, type SwitchLike } from '../../daemon/daemon.js';
import type { QueuePrograms } from '../../switch/config-types.js';
import type { StopSummary } from '../../switch/switch.js';

class Recorder implements SwitchLike {
  readonly calls: string[] = [];
  flatStats() {
    return { rx0_packets: 0, rx1_packets: 0 };
  }
  async stop(): Promise<StopSummary> {
    this.calls.push('stop');
    return { durationMs: 0, stats: { queues: {}, ports: {} }, accounting: { total: 0, free: 0, queued: 0, inFlight: 0, doubled: 0 }, unaccounted: 0 };
  }
  async configurePrograms(p: readonly QueuePrograms[]) {
    this.calls.push('programs ' + p.map((c) => `${c.queues.join(',')}:${c.chain.map((r) => r.name).join('+')}`).join(' '));
  }
  async setSteering(port: string) {
    this.calls.push(`steering ${port}`);
  }
  receivesOnQueues() {
    return false;
  }
  async portControl(): Promise<unknown> {
    throw new Error('not recorded');
  }
  async portStatus() {
    return {};
  }
  async setTap(): Promise<void> {
    throw new Error('not recorded');
  }
  loadedPrograms() {
    return [];
  }
  async loadChain(): Promise<{ chain: [] }> {
    throw new Error('not recorded');
  }
}

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
let d: Daemon | null = null;
afterEach(async () => {
  await d?.stop();
  d = null;
});

async function start(yaml: string, flows?: string): Promise<{ d: Daemon; rec: Recorder; file: string; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xswitch-reload-'));
  const file = path.join(dir, 'sw.yaml');
  if (flows !== undefined) writeFileSync(path.join(dir, 'sw.flows'), flows);
  writeFileSync(file, yaml);
  const rec = new Recorder();
  d = await Daemon.start({ configFile: file, socket: path.join(dir, 'ctl.sock'), signals: false, quiet: true, out: sink(), err: sink(), start: async () => rec });
  return { d, rec, file, dir };
}

const BASE = 'queues: 2\nports:\n  - name: gen0\n    type: gen\n';

describe('reload', () => {
  it('swaps only what changed; no change is no call', async () => {
    const { d, rec, file } = await start(BASE + 'programs:\n  - queues: [0]\n    chain: [{ name: drop }]\n');
    expect(await d.reload()).toEqual({ changes: [] });
    expect(rec.calls).toEqual([]);
    writeFileSync(file, BASE + 'programs:\n  - queues: [0]\n    chain: [{ name: tx }]\n');
    expect((await d.reload()).changes).toEqual(['programs replaced (tx on 0)']);
    expect(rec.calls).toEqual(['programs 0:tx']);
  });

  it('is all or nothing: a bad flow file stops the program change too', async () => {
    const { d, rec, file, dir } = await start(BASE + 'steering: sw.flows\nprograms:\n  - chain: [{ name: drop }]\n', 'ethtool -X gen0 equal 2\n');
    writeFileSync(path.join(dir, 'sw.flows'), 'ethtool -X gen0 equal 3\n');
    writeFileSync(file, BASE + 'steering: sw.flows\nprograms:\n  - chain: [{ name: tx }]\n');
    await expect(d.reload()).rejects.toThrow(/sw\.flows:1:/);
    expect(rec.calls).toEqual([]);
    expect(d.programs().map((q) => q.chain[0].name)).toEqual(['drop', 'drop']);
    // Fixed, both apply.
    writeFileSync(path.join(dir, 'sw.flows'), 'ethtool -X gen0 equal 1\n');
    expect((await d.reload()).changes).toEqual(['programs replaced (tx on 0,1)', `steering reloaded from ${path.join(dir, 'sw.flows')}`]);
    expect(rec.calls).toEqual(['programs 0,1:tx', 'steering gen0']);
  });

  it('refuses changes that need a restart, naming them', async () => {
    const { d, rec, file } = await start(BASE);
    writeFileSync(file, BASE.replace('queues: 2', 'queues: 4').replace('gen0', 'gen1') + 'budget: 32\n');
    await expect(d.reload()).rejects.toThrow('queues, budget, ports changed: restart the switch to change them (a reload applies programs, steering rules, RSS and the interval); nothing was changed');
    expect(rec.calls).toEqual([]);
  });

  it('an invalid file is refused with its positions and changes nothing', async () => {
    const { d, rec, file } = await start(BASE);
    writeFileSync(file, BASE + 'programs:\n  - queues: [7]\n    chain: [{ name: drop }]\n');
    await expect(d.reload()).rejects.toThrow(`${file}:6:14: programs[0].queues[0]: queue 7 does not exist (queues 0 to 1)`);
    expect(rec.calls).toEqual([]);
  });
});

describe('prog replace / attach', () => {
  it('replace sets some queues; attach appends, replacing a lone default pass', async () => {
    const { d, rec } = await start(BASE + 'programs:\n  - queues: [0]\n    chain: [{ name: drop }]\n');
    await d.setChains([1], () => [{ name: 'tx', params: {}, continueOn: ['PASS'] }]);
    expect(rec.calls.at(-1)).toBe('programs 0:drop 1:tx');
    const handlers = (await import('../../daemon/control/handlers.js')).makeHandlers(d);
    await handlers['prog.attach']({ queues: [0, 1], program: { name: 'pass' } }, { id: 1, closed: false });
    expect(d.programs().map((q) => q.chain.map((r) => r.name))).toEqual([
      ['drop', 'pass'],
      ['tx', 'pass'],
    ]);
    await expect(d.setChains([5], (c) => c)).rejects.toThrow('queue 5 does not exist (queues 0 to 1)');
  });
});
