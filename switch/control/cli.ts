/**
 * What the command modules in bin/commands/ share when they talk to a running switch:
 * the --socket and --json options, one connection per command, and errors printed as one
 * clear line with exit status 1 (never a stack trace for an expected failure).
 */
import type { Argv } from 'yargs';
import { ControlClient, ControlClientError } from './client.js';
import { defaultSocketPath } from './socket-path.js';

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
