/**
 * A vitest reporter that prints CI's plain closing line: `N passed, N failed (, N skipped)`.
 *
 * "failed" counts everything that makes the run fail, not only failed tests: a test file that
 * failed to load or threw while its tests were being collected (a missing prerequisite under
 * CI=true throws there, test/support/prereq.ts), a suite whose hook threw, and errors thrown
 * outside any test (an unhandled rejection, an error in a worker). vitest's own JSON report
 * counts the first two only as failed suites and the last nowhere, so a line built from its
 * test counts alone could say "0 failed" for a run that failed.
 *
 * Usage: vitest run --reporter=default --reporter=./.ci/closing-line.ts
 * With CLOSING_LINE_FILE set, the line is also written there (.ci/run reads it back).
 */
import { writeFileSync } from 'node:fs';
import type { Reporter, TestModule, TestSuite } from 'vitest/node';

type Errors = ReadonlyArray<unknown>;

/** Modules and suites that failed by themselves (collection, hooks), not through a test. */
function failuresOutsideTests(m: TestModule): number {
  let n = m.errors().length > 0 ? 1 : 0;
  for (const s of m.children.allSuites() as Iterable<TestSuite>) if (s.errors().length > 0) n++;
  // A module that failed with no error of its own and no failed test still failed.
  if (n === 0 && m.state() === 'failed' && [...m.children.allTests('failed')].length === 0) n = 1;
  return n;
}

export function closingLine(modules: ReadonlyArray<TestModule>, unhandled: Errors): string {
  let passed = 0;
  let failedTests = 0;
  let skipped = 0;
  let outside = unhandled.length;
  for (const m of modules) {
    for (const t of m.children.allTests()) {
      const s = t.result().state;
      if (s === 'passed') passed++;
      else if (s === 'failed') failedTests++;
      else skipped++;
    }
    outside += failuresOutsideTests(m);
  }
  const failed = failedTests + outside;
  const why = outside > 0 ? ` (${failedTests} tests, ${outside} outside tests: files that failed to load or collect, hooks, unhandled errors)` : '';
  return `${passed} passed, ${failed} failed${why}` + (skipped ? `, ${skipped} skipped` : '');
}

export default class ClosingLine implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: Errors): void {
    const line = closingLine(modules, unhandled);
    const file = process.env.CLOSING_LINE_FILE;
    if (file) writeFileSync(file, line + '\n');
    else console.log(line);
  }
}
