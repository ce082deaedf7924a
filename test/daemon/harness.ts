/**
 * Runs `xswitch run` as a child process (the compiled dist/bin/xswitch.js, as a user would)
 * and the CLI against it. Every daemon gets its own folder, socket and configuration.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const BIN = path.resolve('dist/bin/xswitch.js');

export function requireBuild(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
}

export interface Event {
  event: string;
  [k: string]: unknown;
}

export class DaemonProc {
  readonly events: Event[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private waiters: { pred: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];

  constructor(
    readonly proc: ChildProcess,
    readonly dir: string,
    readonly socket: string,
    readonly configFile: string,
  ) {
    let buf = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let e: Event;
        try {
          e = JSON.parse(line) as Event;
        } catch {
          e = { event: 'text', line };
        }
        this.events.push(e);
        this.waiters = this.waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  }

  waitFor(pred: (e: Event) => boolean, timeoutMs = 20_000): Promise<Event> {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for an event; stderr:\n${this.stderr}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(t);
          resolve(e);
        },
      });
    });
  }

  /** Messages the daemon logged (with --json, stderr carries one {event:'log'} per line). */
  logs(): string[] {
    return this.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as { message: string }).message);
  }

  async waitLog(re: RegExp, timeoutMs = 20_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.logs().some((m) => re.test(m))) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${re} on stderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  cli(args: string[], opts: { cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    return runCli([...args, '--socket', this.socket], opts);
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

export function runCli(args: string[], opts: { cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: opts.cwd, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Writes `yaml` into a fresh folder and starts `xswitch run` on it with --json. */
export async function startDaemon(yaml: string, extra: string[] = []): Promise<DaemonProc> {
  requireBuild();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xswitch-daemon-'));
  const configFile = path.join(dir, 'sw.yaml');
  writeFileSync(configFile, yaml);
  const socket = path.join(dir, 'ctl.sock');
  const proc = spawn(process.execPath, [BIN, 'run', '--config', configFile, '--socket', socket, '--json', '--interval', '0.2', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const d = new DaemonProc(proc, dir, socket, configFile);
  await Promise.race([
    d.waitFor((e) => e.event === 'start'),
    d.exited.then((code) => {
      throw new Error(`xswitch run exited (${code}) before starting:\n${d.stderr}`);
    }),
  ]);
  return d;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
