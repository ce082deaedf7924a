/**
 * What the command modules in bin/commands/ share when they talk to a running switch:
 * the --socket and --json options, one connection per command, and errors printed as one
 * clear line with exit status 1 (never a stack trace for an expected failure).
 */
import type { Argv } from 'yargs';
import { ControlClient, ControlClientError } from '../daemon/control/client.js';
import { defaultSocketPath } from '../daemon/control/socket-path.js';
import { resolve as resolvePath } from 'node:path';

export interface ClientArgs {
  socket: string;
  json: boolean;
}

export function withClientOptions<T>(y: Argv<T>): Argv<T & ClientArgs> {
  return y
    .option('socket', {
      type: 'string',
      default: defaultSocketPath(),
      defaultDescription: '$XSWITCH_SOCKET, $XDG_RUNTIME_DIR/xswitch.sock or /tmp/xswitch-<uid>.sock',
      describe: 'control socket of the running switch',
    })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of text' }) as Argv<T & ClientArgs>;
}

/** Runs `fn` with a connected client; prints failures and sets the exit code. */
export async function withClient(args: ClientArgs, fn: (c: ControlClient) => Promise<void>): Promise<void> {
  let c: ControlClient | null = null;
  try {
    c = await ControlClient.connect(args.socket);
    await fn(c);
  } catch (e) {
    fail(e);
  } finally {
    c?.close();
  }
}

export function fail(e: unknown): void {
  const msg = e instanceof ControlClientError || e instanceof Error ? e.message : String(e);
  process.stderr.write(`xswitch: ${msg}\n`);
  process.exitCode = 1;
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

/**
 * `--param k=v` values: numbers, true/false, JSON lists/maps, otherwise strings
 * (`port=cap0`, `rate=1000`, `pairs=["a","b"]`).
 */
export function parseParams(list: readonly (string | number)[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of list ?? []) {
    const s = String(item);
    const i = s.indexOf('=');
    if (i <= 0) throw new Error(`--param ${s}: expected key=value`);
    const k = s.slice(0, i);
    const v = s.slice(i + 1);
    if (/^-?\d+(\.\d+)?$/.test(v)) out[k] = Number(v);
    else if (v === 'true' || v === 'false') out[k] = v === 'true';
    else if (/^[[{]/.test(v)) {
      try {
        out[k] = JSON.parse(v);
      } catch {
        throw new Error(`--param ${k}: ${v} is not valid JSON`);
      }
    } else out[k] = v;
  }
  return out;
}

/** `0,1` or `all` → queue numbers (all needs the switch's queue count). */
export function parseQueues(s: string, queues: number): number[] {
  if (s === 'all') return Array.from({ length: queues }, (_, i) => i);
  const out = s.split(',').map((x) => Number(x.trim()));
  if (out.some((q) => !Number.isInteger(q) || q < 0)) throw new Error(`--queues ${s}: expected "all" or queue numbers like 0,1`);
  return out;
}

/** A program name as the daemon needs it: module paths made absolute from here. */
export function programName(name: string): string {
  return name.includes('/') || /\.(m?js|ts)$/.test(name) ? resolvePath(name) : name;
}

/** `xswitch trace --socket S …`: the live trace (steering, then the queue's chain with verdicts). */
export async function traceLive(a: { socket: string; port?: string; hex?: string; tuple?: (string | number)[]; json?: boolean }): Promise<void> {
  await withClient({ socket: a.socket, json: a.json ?? false }, async (c) => {
    const r = await c.request<{ lines: string[]; queue: number | null; verdict: string | null }>('trace', {
      port: a.port,
      hex: a.hex,
      tuple: a.tuple?.map(String),
    });
    if (a.json) printJson(r);
    else for (const l of r.lines) process.stdout.write(l + '\n');
  });
}
