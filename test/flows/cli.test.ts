import { describe, expect, it } from 'vitest';
import { inCI } from '../support/prereq.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'dist/bin/xswitch.js');
const built = existsSync(path.join(root, 'dist/bin/commands/trace.js'));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
const dir = mkdtempSync(path.join(tmpdir(), 'xswitch-flows-cli-'));

describe.runIf(built || inCI)('xswitch flows / trace (needs npm run build)', () => {
  it('flows validate: exit 0 for the examples', () => {
    for (const f of ['examples/wan.flows', 'examples/rss-contexts.flows']) {
      const r = cli('flows', 'validate', f);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/: OK \(\d+ rule\(s\) on 1 port\(s\), 64 queue\(s\)\)/);
    }
  });

  it('flows validate: every error, exit 1', () => {
    const f = path.join(dir, 'bad.flows');
    writeFileSync(f, '[port p0]\n-N flow-type udp4 dst-port 1 action 1\n-N flow-type udp9\n-X hkey 01:02\n');
    const r = cli('flows', 'validate', f, '--queues', '2');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`${f}:3:14: Add rule, invalid syntax\n${f}:4:9: Key is too short for device (2 < 40)\n`);
  });

  it('flows show prints ethtool -l / -x / -n', () => {
    const r = cli('flows', 'show', 'examples/wan.flows', '--queues', '8', '--port', 'wan0');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('$ ethtool -l wan0\nChannel parameters for wan0:\n');
    expect(r.stdout).toContain('Combined:\t8\nCurrent hardware settings:');
    expect(r.stdout).toContain('RX flow hash indirection table for wan0 with 4 RX ring(s):\n    0:      0     1     0     1');
    expect(r.stdout).toContain('4 RX rings available\nTotal 5 rules\n\nFilter: 1\n\tRule Type: Raw IPv4\n');
  });

  it('trace: a tuple that hits a rule, one that goes to RSS, raw hex', () => {
    let r = cli('trace', '--config', 'examples/wan.flows', 'udp4', 'src-ip', '10.0.0.1', 'dst-port', '53');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('matched rule 10 (the lowest matching location):');
    expect(r.stdout.trim().split('\n').pop()).toBe('queue: 3');
    r = cli('trace', '--config', 'examples/wan.flows', 'tcp4', 'src-ip', '66.9.149.187', 'dst-ip', '161.142.100.80', 'src-port', '2794', 'dst-port', '1766');
    expect(r.stdout).toContain('RSS hash: 0x51ccc178\nindirection: context 0, index 120 (hash & 127) → 0\nqueue: 0\n');
    r = cli('trace', '--config', 'examples/wan.flows', '--hex', '02 00 00 00 00 02 02 00 00 00 00 01 88 cc 00 00');
    expect(r.stdout).toContain('matched rule 30');
    expect(r.stdout).toContain('queue: 0');
    r = cli('trace', '--config', 'examples/wan.flows', 'ip4', 'src-ip', '203.0.113.66');
    expect(r.stdout).toContain('queue: none (dropped by the rule)');
  });

  it('trace: bad input is a clear error', () => {
    let r = cli('trace', '--config', 'examples/wan.flows', 'udp4', 'dst-port', '70000');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('xswitch trace: Invalid dst-port value[70000]\n');
    r = cli('trace', '--config', 'examples/wan.flows', '--hex', 'abc');
    expect(r.stderr).toContain('even number of hex digits');
    r = cli('trace', '--config', 'examples/wan.flows', 'udp4', 'dst-port', '53', 'action', '1');
    expect(r.stderr).toBe("xswitch trace: a packet has no 'action': give field values only\n");
  });
});
