/**
 * Network namespaces for one test run, named with a prefix unique to the run, deleted
 * (with every interface in them) by cleanup(). Commands run with `ip netns exec`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export class Netns {
  /** e.g. 'xs3fa9' — short, because interface names derived from it have 15 characters at most. */
  readonly prefix = 'xs' + randomBytes(2).toString('hex');
  private readonly created: string[] = [];

  /** Full name of namespace `short` (e.g. 'ul' → 'xs3fa9-ul'). */
  name(short: string): string {
    return `${this.prefix}-${short}`;
  }

  add(...shorts: string[]): void {
    for (const s of shorts) {
      const n = this.name(s);
      ip('netns', 'add', n);
      this.created.push(n);
      ip('-n', n, 'link', 'set', 'lo', 'up');
    }
  }

  /** Runs a command inside namespace `short`; returns stdout; throws with stderr on failure. */
  exec(short: string, cmd: string, args: string[], timeoutMs = 30_000): string {
    return run('ip', ['netns', 'exec', this.name(short), cmd, ...args], timeoutMs);
  }

  /** Runs a command in this process's own namespace (e.g. sysctl on the switch's end of a veth). */
  execRoot(cmd: string, args: string[], timeoutMs = 30_000): string {
    return run(cmd, args, timeoutMs);
  }

  /** Argument list for spawning a long-running command inside a namespace. */
  argv(short: string, cmd: string, args: string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.name(short), cmd, ...args]];
  }

  /** Deletes every namespace this instance created (their interfaces go with them). */
  cleanup(): void {
    for (const n of this.created.splice(0).reverse()) {
      try {
        ip('netns', 'del', n);
      } catch {
        // already gone
      }
    }
  }
}

export function ip(...args: string[]): string {
  return run('ip', args, 10_000);
}

function run(cmd: string, args: string[], timeoutMs: number): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  } catch (e) {
    const x = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(x.stderr || x.stdout || x.message).trim()}`);
  }
}
