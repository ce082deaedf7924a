/**
 * Prerequisites of tests that need real peers (Debian tools, root, network namespaces).
 *
 * Outside CI a missing prerequisite skips the test with the reason; under CI=true it fails,
 * because a CI run that silently skipped the real-peer tests proved nothing.
 */
import { execFileSync } from 'node:child_process';
import { describe, it } from 'vitest';
import { whyUnavailable as whyNativeUnavailable } from '../../lib/native/libc.js';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

/** Absolute path of `tool` on PATH (sbin included), or null. */
export function which(tool: string): string | null {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const d of dirs) {
    try {
      execFileSync('test', ['-x', `${d}/${tool}`]);
      return `${d}/${tool}`;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** Why the tests cannot run here (tools missing, not root, no netns, no native layer), or null when they can. */
export function missing(opts: { tools?: string[]; root?: boolean; netns?: boolean; native?: boolean }): string | null {
  const reasons: string[] = [];
  if (opts.native) {
    const why = whyNativeUnavailable();
    if (why !== null) reasons.push(`the native I/O layer (lib/native) is unavailable: ${why}`);
  }
  for (const t of opts.tools ?? []) if (which(t) === null) reasons.push(`${t} is not installed`);
  if ((opts.root || opts.netns) && process.getuid?.() !== 0) reasons.push('not running as root');
  if (opts.netns && reasons.length === 0) {
    const name = `xsprobe${process.pid}`;
    try {
      execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe' });
      execFileSync('ip', ['netns', 'del', name], { stdio: 'pipe' });
    } catch (e) {
      reasons.push(`cannot create network namespaces: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return reasons.length ? reasons.join('; ') : null;
}

/**
 * Whether to skip outside CI (saying why); under CI it throws at collection time so the
 * file fails with the reason. Tests use it through itNeeding/describeNeeding below.
 */
export function skipUnless(why: string | null, what: string, ci = inCI): boolean {
  if (why === null) return false;
  if (ci) throw new Error(`${what}: prerequisite missing under CI=true: ${why}`);
  console.warn(`skipping ${what}: ${why}`);
  return true;
}

/**
 * `it` for a test that needs a tool or a peer: `it` itself when `why` is null; outside CI,
 * `it.skip`, saying why; under CI=true it throws here, while the file is collected, so the
 * file fails with the reason (skipUnless). Tests write `itNeeding(missing(…), what)(name,
 * fn)` instead of vitest's conditional skip: no condition at the call site can let a
 * missing prerequisite pass quietly in CI.
 */
export function itNeeding(why: string | null, what: string, ci = inCI): typeof it {
  return skipUnless(why, what, ci) ? it.skip : it;
}

/** `describe` for tests that need a tool or a peer, as itNeeding. */
export function describeNeeding(why: string | null, what: string, ci = inCI): typeof describe {
  return skipUnless(why, what, ci) ? describe.skip : describe;
}
