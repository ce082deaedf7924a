/**
 * Reload is whole or nothing, on a real switch (threads, traffic): when applying fails
 * midway (the second port refuses its new steering after the programs and the first port
 * have switched), the daemon puts the running state back — the old programs on every queue,
 * the old rules on every port — which the traffic shows: the queues' counters move exactly
 * as before the reload. Keys that need a restart are refused before anything changes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Daemon } from '../../daemon/daemon.js';
import { defaultStart, type StartSwitch } from '../../daemon/running-switch.js';
import { restartKeys } from '../../daemon/reload-plan.js';

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
let d: Daemon | null = null;
afterEach(async () => {
  await d?.stop();
  d = null;
});

const yaml = (program: string, extra = '') =>
  `queues: 2\nports:\n  - { name: a, type: gen, rate: 20000, flows: 64 }\n  - { name: b, type: "null" }\nsteering: sw.flows\nprograms:\n  - chain: [{ name: ${program} }]\n${extra}`;

/** Counter movement over `ms` on the running switch. */
async function movement(dm: Daemon, ms = 500): Promise<Record<string, number>> {
  const before = dm.stats();
  await new Promise((r) => setTimeout(r, ms));
  const after = dm.stats();
  const keys = ['rx0_packets', 'rx1_packets', 'rx_xdp_drop', 'rx_xdp_tx_xmit'];
  return Object.fromEntries(keys.map((k) => [k, after[k] - before[k]]));
}

describe('reload on a real switch', () => {
  it('a failure while applying puts the old programs and steering back', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xswitch-rollback-'));
    const file = path.join(dir, 'sw.yaml');
    writeFileSync(path.join(dir, 'sw.flows'), 'ethtool -X a equal 1\n');
    writeFileSync(file, yaml('drop'));
    // The real switch, with one fault injected: port b refuses new steering (any state but
    // the one it started with) while `failing`.
    let failing = true;
    const logs: string[] = [];
    const start: StartSwitch = async (c, log, steering) => {
      const sw = await defaultStart(c, log, steering);
      const first = steering.get('b')!.shared;
      const setSteering: typeof sw.setSteering = (port, module, shared) =>
        failing && port === 'b' && shared !== first ? Promise.reject(new Error('injected: port b refuses')) : sw.setSteering(port, module, shared);
      // The running Switch itself, but for setSteering (methods bound to it, so its state stays its own).
      return new Proxy(sw, {
        get: (t, k) => {
          if (k === 'setSteering') return setSteering;
          const v = Reflect.get(t, k, t) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      });
    };
    d = await Daemon.start({ configFile: file, socket: path.join(dir, 'ctl.sock'), signals: false, quiet: true, out: sink(), err: new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) }), start });

    // Before: everything on queue 0 (equal 1), dropped.
    let m = await movement(d);
    expect(m.rx0_packets).toBeGreaterThan(1000);
    expect([m.rx1_packets, m.rx_xdp_tx_xmit]).toEqual([0, 0]);

    // The reload would bounce every packet back (tx) and spread them over both queues.
    writeFileSync(path.join(dir, 'sw.flows'), 'ethtool -X a equal 2\n');
    writeFileSync(file, yaml('tx'));
    await expect(d.reload()).rejects.toThrow(/^applying the new configuration failed: injected: port b refuses; the running configuration was put back, nothing changed$/);
    expect(logs.join('')).toMatch(/reload failed while applying: injected: port b refuses; the running configuration was put back/);
    expect(d.programs().map((q) => q.chain.map((r) => r.name))).toEqual([['drop'], ['drop']]);
    expect(d.config.switch.programs[0].chain[0].name).toBe('drop');

    // The running switch says the same: still queue 0 only, still dropped.
    await new Promise((r) => setTimeout(r, 200)); // frames steered during the attempt drain
    m = await movement(d);
    expect(m.rx0_packets).toBeGreaterThan(1000);
    expect([m.rx1_packets, m.rx_xdp_tx_xmit]).toEqual([0, 0]);
    expect(m.rx_xdp_drop).toBe(m.rx0_packets);

    // Without the fault the same reload applies whole.
    failing = false;
    expect((await d.reload()).changes).toEqual(['programs replaced (tx on 0,1)', `steering reloaded from ${path.join(dir, 'sw.flows')}`]);
    await new Promise((r) => setTimeout(r, 200));
    m = await movement(d);
    expect(m.rx0_packets).toBeGreaterThan(100);
    expect(m.rx1_packets).toBeGreaterThan(100);
    expect(m.rx_xdp_drop).toBe(0);
    expect(m.rx_xdp_tx_xmit).toBe(m.rx0_packets + m.rx1_packets);
  });

  it('refuses a change of metrics or control.socket, naming it, and changes nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xswitch-rollback-'));
    const file = path.join(dir, 'sw.yaml');
    writeFileSync(path.join(dir, 'sw.flows'), 'ethtool -X a equal 1\n');
    writeFileSync(file, yaml('drop', 'interval: 1\ncontrol:\n  socket: ctl.sock\n'));
    d = await Daemon.start({ configFile: file, signals: false, quiet: true, out: sink(), err: sink() });
    expect(d.socketPath).toBe(path.join(dir, 'ctl.sock'));
    writeFileSync(file, yaml('tx', 'interval: 1\ncontrol:\n  socket: other.sock\nmetrics: 127.0.0.1:0\n'));
    await expect(d.reload()).rejects.toThrow(
      'control.socket, metrics changed: restart the switch to change them (a reload applies programs, steering rules, RSS and the interval); nothing was changed',
    );
    expect(d.programs()[0].chain[0].name).toBe('drop');
    expect(d.socketPath).toBe(path.join(dir, 'ctl.sock'));
    // The interval applies live.
    writeFileSync(file, yaml('drop', 'interval: 2\ncontrol:\n  socket: ctl.sock\n'));
    expect((await d.reload()).changes).toEqual(['interval 2s']);
    expect(d.config.interval).toBe(2);
  });

  it('a key given on the command line is not the file\'s: changing it in the file needs no restart', () => {
    const base = { file: 'f', switch: {} as never, interval: 1 };
    const a = { ...base, controlSocket: '/a.sock', metrics: { host: '127.0.0.1', port: 9100 } };
    const b = { ...base, controlSocket: '/b.sock', metrics: { host: '127.0.0.1', port: 9200 } };
    expect(restartKeys(a, b)).toEqual(['control.socket', 'metrics']);
    expect(restartKeys(a, b, { socket: true, metrics: true })).toEqual([]);
  });
});
