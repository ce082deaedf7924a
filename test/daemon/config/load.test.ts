/**
 * The configuration loader: every bad configuration in cases.ts gives exactly its messages
 * (file:line:column: what is wrong (what is allowed)); good ones give a SwitchConfig with
 * defaults filled and paths resolved against the file.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createWriter } from '../../../lib/pcap/writer.js';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../../daemon/config/index.js';
import { configJsonSchemaText } from '../../../daemon/config/json-schema.js';
import { BAD_CASES } from './cases.js';
import { CONFIG_DEFAULTS } from '../../../switch/config-types.js';

async function issuesOf(yaml: string, file = 'bad.yaml'): Promise<string[]> {
  try {
    await parseConfig(yaml, file);
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n');
    throw e;
  }
  return [];
}

describe('bad configurations', () => {
  it('has at least 25 of them', () => {
    expect(BAD_CASES.length).toBeGreaterThanOrEqual(25);
  });
  for (const c of BAD_CASES) {
    it(c.name, async () => {
      expect(c.expected.length).toBeGreaterThan(0);
      expect(await issuesOf(c.yaml)).toEqual(c.expected);
    });
  }

  it('an unreadable file names the file and the reason', async () => {
    const f = path.join(os.tmpdir(), 'xswitch-no-such-config.yaml');
    await expect(loadConfig(f)).rejects.toThrow(`${f}:1:1: cannot read: ENOENT (a readable YAML file)`);
  });

  it('a program module that throws on import is reported at its name', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xswitch-cfg-'));
    writeFileSync(path.join(dir, 'broken.mjs'), 'throw new Error("boom at import");\n');
    const f = path.join(dir, 'sw.yaml');
    writeFileSync(f, 'ports:\n  - name: gen0\n    type: gen\nprograms:\n  - chain:\n      - name: ./broken.mjs\n');
    await expect(loadConfig(f)).rejects.toThrow(
      `${f}:6:15: programs[0].chain[0].name: program './broken.mjs' does not load: boom at import (a module default-exporting defineProgram(…))`,
    );
  });
});

describe('good configurations', () => {
  it('fills defaults and expands "all"', async () => {
    const c = await parseConfig('queues: 3\nports:\n  - name: gen0\n    type: gen\nprograms:\n  - chain:\n      - name: drop\n', 'ok.yaml');
    expect(c.switch).toMatchObject({
      queues: 3,
      frameSize: CONFIG_DEFAULTS.frameSize,
      poolFrames: CONFIG_DEFAULTS.poolFrames,
      ringSize: CONFIG_DEFAULTS.ringSize,
      budget: CONFIG_DEFAULTS.budget,
      ports: [{ name: 'gen0', type: 'gen' }],
      programs: [{ queues: [0, 1, 2], chain: [{ name: 'drop', params: {}, continueOn: ['PASS'] }] }],
    });
    expect(c.interval).toBe(1);
    expect(c.controlSocket).toBeUndefined();
  });

  it('resolves module programs, the steering file and the socket against the file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xswitch-cfg-'));
    writeFileSync(path.join(dir, 'mine.mjs'), 'export default { name: "mine", description: "x", create() { return () => 1; } };\n');
    writeFileSync(path.join(dir, 'rules.flows'), '# nothing\n');
    const f = path.join(dir, 'sw.yaml');
    writeFileSync(f, 'steering: rules.flows\ncontrol:\n  socket: ctl.sock\nports:\n  - name: gen0\n    type: gen\nprograms:\n  - queues: [0]\n    chain:\n      - name: ./mine.mjs\n');
    const c = await loadConfig(f);
    expect(c.switch.programs[0].chain[0].name).toBe(path.join(dir, 'mine.mjs'));
    expect(c.switch.steering).toBe(path.join(dir, 'rules.flows'));
    expect(c.controlSocket).toBe(path.join(dir, 'ctl.sock'));
    expect(c.switch.source).toBe(f);
  });

  it('every example configuration validates', async () => {
    // examples/replay.yaml replays what the demo writes: make a small one if there is none.
    if (!existsSync('/tmp/xswitch-demo.pcapng')) {
      const w = createWriter('/tmp/xswitch-demo.pcapng', { format: 'pcapng' });
      const frame = new Uint8Array(60);
      frame.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
      w.write(frame, 0, frame.length, 0, 0);
      w.close();
    }
    const dir = path.resolve('examples');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files).toContain('demo.yaml');
    for (const f of files) await expect(loadConfig(path.join(dir, f)), f).resolves.toBeTruthy();
  });
});

describe('JSON Schema', () => {
  it('docs/xswitch.schema.json is what the schema generates (run `xswitch validate --schema`)', () => {
    expect(readFileSync('docs/xswitch.schema.json', 'utf8')).toBe(configJsonSchemaText());
  });

  it('describes every top-level key with what is allowed', () => {
    const s = JSON.parse(configJsonSchemaText()) as { properties: Record<string, { description?: string }>; required: string[] };
    for (const [k, v] of Object.entries(s.properties)) expect(v.description, k).toBeTruthy();
    expect(s.required).toEqual(['ports']);
  });
});

describe('port file options', () => {
  it('resolve against the configuration file’s folder, as program paths do', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-paths-'));
    try {
      const f = path.join(dir, 'sw.yaml');
      writeFileSync(f, 'ports:\n  - name: cap0\n    type: pcap\n    write: out/cap.pcapng\n  - name: g\n    type: gen\n');
      const c = await loadConfig(f);
      expect(c.switch.ports[0].write).toBe(path.join(dir, 'out/cap.pcapng'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
