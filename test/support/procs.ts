/**
 * Child processes a test starts, and only those, ended by their own pid when the test is done.
 * Output is kept so a failing test can show what the peer printed.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Proc {
  child: ChildProcess;
  /** stdout and stderr together, as received. */
  output(): string;
  /** Resolves with the first match of `re` in the output; rejects after `ms` or when the process exits first. */
  waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

export class Procs {
  private readonly started: Proc[] = [];

  start(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    let out = '';
    const listeners = new Set<() => void>();
    const onData = (d: Buffer) => {
      out += d.toString('latin1');
      for (const l of [...listeners]) l();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    let code: number | null | undefined;
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (c) => {
        code = c;
        for (const l of [...listeners]) l();
        resolve(c);
      });
      child.once('error', (e) => {
        out += `\n[spawn error: ${e.message}]`;
        code = -1;
        for (const l of [...listeners]) l();
        resolve(-1);
      });
    });
    const proc: Proc = {
      child,
      output: () => out,
      exited,
      waitFor: (re, ms) =>
        new Promise((resolve, reject) => {
          const check = () => {
            const m = re.exec(out);
            if (m) return done(() => resolve(m));
            if (code !== undefined) return done(() => reject(new Error(`${cmd} exited (${code}) before printing ${re}; output:\n${tail(out)}`)));
          };
          const timer = setTimeout(() => done(() => reject(new Error(`no ${re} from ${cmd} after ${ms} ms; output:\n${tail(out)}`))), ms);
          const done = (f: () => void) => {
            clearTimeout(timer);
            listeners.delete(check);
            f();
          };
          listeners.add(check);
          check();
        }),
    };
    this.started.push(proc);
    return proc;
  }

  /** Ends every process this instance started (SIGTERM, then SIGKILL after `graceMs`). */
  async stopAll(graceMs = 2000): Promise<void> {
    const live = this.started.splice(0).filter((p) => p.child.exitCode === null && p.child.signalCode === null && p.child.pid !== undefined);
    for (const p of live) p.child.kill('SIGTERM');
    await Promise.all(
      live.map((p) =>
        Promise.race([p.exited, new Promise((r) => setTimeout(r, graceMs))]).then(() => {
          if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
          return p.exited;
        }),
      ),
    );
  }
}

function tail(s: string, n = 3000): string {
  return s.length > n ? '…' + s.slice(-n) : s;
}
