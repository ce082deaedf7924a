/**
 * CI's closing line (.ci/closing-line.ts, printed by .ci/run) counts every failure of the run:
 * a file that throws while it is collected and an error outside any test are failures even
 * though no test failed. Each case runs the real vitest on the fixture project in
 * test/ci/fixture and reads the line the reporter wrote, next to vitest's exit status.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const fixture = path.join(repo, 'test/ci/fixture');
const vitest = path.join(repo, 'node_modules/vitest/vitest.mjs');

function run(files: string[]): { status: number | null; line: string; json: { numFailedTests: number; numFailedTestSuites: number } } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'closing-line-'));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, CLOSING_LINE_FILE: path.join(dir, 'line') };
    // The child is a run of its own, not a part of this one.
    for (const k of Object.keys(env)) if (k.startsWith('VITEST')) delete env[k];
    delete env.TEST;
    delete env.NODE_OPTIONS;
    const r = spawnSync(
      process.execPath,
      [vitest, 'run', '--root', fixture, '--reporter=dot', `--reporter=${path.join(repo, '.ci/closing-line.ts')}`, '--reporter=json', `--outputFile.json=${path.join(dir, 'report.json')}`, ...files],
      { env, encoding: 'utf8', timeout: 60_000 },
    );
    const line = readFileSync(path.join(dir, 'line'), 'utf8').trim();
    return { status: r.status, line, json: JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the closing line of CI', () => {
  it('a passing run says so and exits 0', () => {
    const r = run(['passes.check.ts']);
    expect(r.status).toBe(0);
    expect(r.line).toBe('1 passed, 0 failed');
  });

  it('a file that throws at collection is a failure, though no test failed', () => {
    const r = run(['passes.check.ts', 'throws-at-collection.check.ts']);
    expect(r.status).not.toBe(0);
    // The defect: vitest's JSON has no failed test; only a failed suite.
    expect(r.json.numFailedTests).toBe(0);
    expect(r.json.numFailedTestSuites).toBeGreaterThan(0);
    expect(r.line).toMatch(/^1 passed, 1 failed \(0 tests, 1 outside tests/);
  });

  it('an error outside any test is a failure, though every test passed', () => {
    const r = run(['unhandled.check.ts']);
    expect(r.status).not.toBe(0);
    expect(r.json.numFailedTests).toBe(0);
    expect(r.line).toMatch(/^1 passed, 1 failed \(0 tests, 1 outside tests/);
  });

  it('failed tests and failures outside tests add up', () => {
    const r = run(['passes.check.ts', 'fails.check.ts', 'throws-at-collection.check.ts', 'unhandled.check.ts']);
    expect(r.status).not.toBe(0);
    expect(r.line).toMatch(/^2 passed, 3 failed \(1 tests, 2 outside tests/);
  });
});
