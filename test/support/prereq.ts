/**
 * Prerequisites of tests that need real peers (Debian tools, root, network namespaces).
 *
 * Outside CI a missing prerequisite skips the test with the reason; under CI=true it fails,
 * because a CI run that silently skipped the real-peer tests proved nothing.
 */
import { execFileSync } from 'node:child_process';
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
 * For `describe.skipIf(skip(...))`: the reason to skip outside CI; under CI it throws at
 * collection time so the file fails with the reason.
 */
export function skipUnless(why: string | null, what: string, ci = inCI): boolean {
  if (why === null) return false;
  if (ci) throw new Error(`${what}: prerequisite missing under CI=true: ${why}`);
  console.warn(`skipping ${what}: ${why}`);
  return true;
}
