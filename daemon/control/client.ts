/**
 * The control client: what every `xswitch <command>` that talks to a running switch uses.
 * One connection, requests answered in order; a per-request timeout; a clear message when
 * no switch is running.
 */
import net from 'node:net';
import { LineSplitter, MAX_RESPONSE_BYTES, type Response } from './protocol.js';

export class ControlClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ControlClientError';
  }
}

export class ControlClient {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly lines = new LineSplitter(MAX_RESPONSE_BYTES);
  private failure: Error | null = null;

  private constructor(
    private readonly sock: net.Socket,
    readonly path: string,
  ) {
    sock.on('data', (chunk: Buffer) => {
      for (const l of this.lines.push(chunk)) this.answer(l);
      if (this.lines.overflow()) this.fail(new ControlClientError('too_large', `answer larger than ${MAX_RESPONSE_BYTES} bytes`));
    });
    sock.on('error', (e) => this.fail(new ControlClientError('io', `control socket ${path}: ${e.message}`)));
    sock.on('close', () => this.fail(new ControlClientError('closed', `the switch closed the control connection (${path})`)));
  }

  static connect(path: string, timeoutMs = 5000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(path);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new ControlClientError('timeout', `no answer from ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new ControlClient(sock, path));
      });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why =
          e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
            ? `no switch is running on ${path} (start one with \`xswitch run --config FILE\`, or pass --socket)`
            : e.code === 'EACCES'
              ? `permission denied on ${path} (the control socket belongs to the user running the switch)`
              : `cannot connect to ${path}: ${e.message}`;
        reject(new ControlClientError(e.code ?? 'io', why));
      });
    });
  }

  /** Sends one request; resolves with its result or rejects with the daemon's error. */
  request<T = unknown>(method: string, params: unknown = {}, timeoutMs = 15_000): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new ControlClientError('timeout', `'${method}': no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve: resolve as (r: unknown) => void, reject, timer });
      this.sock.write(JSON.stringify({ id, method, params }) + '\n');
    });
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }

  private answer(line: string): void {
    let r: Response;
    try {
      r = JSON.parse(line) as Response;
    } catch {
      this.fail(new ControlClientError('bad_response', `the switch sent something that is not JSON: ${line.slice(0, 80)}`));
      return;
    }
    const w = typeof r.id === 'number' ? this.waiting.get(r.id) : undefined;
    if (!w) {
      // An answer to no request of ours (busy / too_large carry id null): fail everything.
      if (!r.ok) this.fail(new ControlClientError(r.error.code, r.error.message));
      return;
    }
    this.waiting.delete(r.id as number);
    clearTimeout(w.timer);
    if (r.ok) w.resolve(r.result);
    else w.reject(new ControlClientError(r.error.code, r.error.message));
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    for (const [, w] of this.waiting) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiting.clear();
  }
}

/** One request on a fresh connection (for commands that ask one thing). */
export async function requestOnce<T = unknown>(path: string, method: string, params: unknown = {}, timeoutMs?: number): Promise<T> {
  const c = await ControlClient.connect(path);
  try {
    return await c.request<T>(method, params, timeoutMs);
  } finally {
    c.close();
  }
}
