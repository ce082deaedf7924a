/**
 * The control server: a UNIX socket, mode 0600, speaking protocol.ts.
 *
 * Robustness rules, each with its test in test/daemon/control/:
 * - garbage lines are answered `bad_request`; the connection stays open;
 * - a line over the request limit is answered `too_large`, then the connection closes;
 * - a client that half-closes still gets the answers to what it sent, then EOF;
 * - a client that sends nothing, or stops mid-line, is closed after `idleTimeoutMs`;
 * - a client that never reads its answers is closed when its unread output passes a limit;
 * - beyond `maxClients` a new connection gets `busy` and is closed;
 * - a client pipelining far ahead of its answers is not read until they catch up;
 * - a handler that takes longer than `requestTimeoutMs` is answered `timeout`.
 * Requests on one connection run one at a time, in order; connections run concurrently.
 */
import net from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import {
  ControlError,
  LineSplitter,
  MAX_REQUEST_BYTES,
  requestProblem,
  type Request,
  type Response,
} from './protocol.js';

export type Handler = (params: unknown, client: ClientInfo) => unknown;

/** Stands in the queue for a request the client cut short by closing its side. */
const INCOMPLETE = Symbol('incomplete request');

/** Requests read ahead of their answers on one connection before reading pauses. */
const MAX_QUEUED = 256;

export interface ClientInfo {
  /** Connection number (for logs). */
  id: number;
  /** True once the client has gone; long handlers (watch, capture) stop early. */
  readonly closed: boolean;
}

export interface ControlServerOptions {
  path: string;
  maxClients?: number;
  maxRequestBytes?: number;
  idleTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Longer limits for methods that load programs or files (reload, prog.*). */
  slowMethods?: Record<string, number>;
  /** Unread output a slow client may leave before it is dropped. */
  maxPendingOutput?: number;
  /** Reports connection-level trouble (off the data path; the daemon logs it). */
  log?: (message: string) => void;
}

export class ControlServer {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private nextId = 1;
  private closing = false;
  readonly opts: Required<ControlServerOptions>;
  /** Counts for `status`: accepted, rejected busy, bad requests, timeouts. */
  readonly counts = { connections: 0, busy: 0, requests: 0, badRequests: 0, tooLarge: 0, timeouts: 0, idleClosed: 0 };

  constructor(
    private readonly handlers: Record<string, Handler>,
    opts: ControlServerOptions,
  ) {
    this.opts = {
      maxClients: 64,
      maxRequestBytes: MAX_REQUEST_BYTES,
      idleTimeoutMs: 30_000,
      requestTimeoutMs: 10_000,
      maxPendingOutput: 16 * 1024 * 1024,
      slowMethods: {},
      log: () => {},
      ...opts,
    };
  }

  get path(): string {
    return this.opts.path;
  }

  async listen(): Promise<void> {
    await removeStale(this.opts.path);
    const server = net.createServer({ allowHalfOpen: true }, (s) => this.accept(s));
    // The socket file is created by listen(); a umask of 0177 makes it 0600 from its first
    // instant, so no other user can connect in the window before the chmod below.
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.opts.path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(old);
    }
    chmodSync(this.opts.path, 0o600);
    server.on('error', (e) => this.opts.log(`control socket: ${e.message}`));
    this.server = server;
  }

  /** Stops accepting, ends every connection, removes the socket file. */
  async close(): Promise<void> {
    this.closing = true;
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.destroy();
    // Only a server that listened owns the file: one that failed to start (another switch
    // answers on the path) must not remove that switch's socket.
    if (!s) return;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    try {
      unlinkSync(this.opts.path);
    } catch {
      // Already gone (server.close removes it on some platforms).
    }
  }

  private accept(sock: net.Socket): void {
    const id = this.nextId++;
    if (this.closing || this.sockets.size >= this.opts.maxClients) {
      this.counts.busy++;
      const r: Response = {
        id: null,
        ok: false,
        error: { code: this.closing ? 'shutting_down' : 'busy', message: this.closing ? 'the switch is stopping' : `too many control clients (at most ${this.opts.maxClients})` },
      };
      sock.on('error', () => {});
      sock.end(JSON.stringify(r) + '\n');
      setTimeout(() => sock.destroy(), 1000).unref(); // a refused client that never reads goes anyway
      return;
    }
    this.counts.connections++;
    this.sockets.add(sock);
    const info = { id, closed: false };
    const lines = new LineSplitter(this.opts.maxRequestBytes);
    const queue: (string | typeof INCOMPLETE)[] = [];
    let running = false;
    let ended = false;
    let refused = false;

    sock.setTimeout(this.opts.idleTimeoutMs);
    sock.on('timeout', () => {
      // Idle: nothing arrived for a while and nothing is being answered.
      if (running) return;
      this.counts.idleClosed++;
      sock.destroy();
    });
    sock.on('error', () => {
      // ECONNRESET / EPIPE from a client that left: nothing to answer.
    });
    sock.on('close', () => {
      info.closed = true;
      this.sockets.delete(sock);
    });

    const send = (r: Response): void => {
      if (sock.destroyed || !sock.writable) return;
      let text: string;
      try {
        text = JSON.stringify(r) + '\n';
      } catch (e) {
        text = JSON.stringify({ id: r.id, ok: false, error: { code: 'failed', message: `unserialisable result: ${(e as Error).message}` } }) + '\n';
      }
      sock.write(text);
      if (sock.writableLength > this.opts.maxPendingOutput) {
        this.opts.log(`control client ${id} does not read its answers; closing it`);
        sock.destroy();
      }
    };

    const pump = async (): Promise<void> => {
      if (running) return;
      running = true;
      while (queue.length > 0 && !sock.destroyed) {
        const line = queue.shift()!;
        if (line !== INCOMPLETE && line.trim() === '') continue;
        const r = await this.handle(line, info);
        // Answers to a pipelined burst leave in one write: corked until the queue is empty.
        if (queue.length > 0 && !sock.writableCorked) sock.cork();
        send(r);
      }
      if (sock.writableCorked) sock.uncork();
      running = false;
      if (lines.overflow()) {
        // Everything before the oversized line is answered; then the refusal, then close.
        if (!refused) {
          refused = true;
          send({ id: null, ok: false, error: { code: 'too_large', message: `request line longer than ${this.opts.maxRequestBytes} bytes` } });
          sock.end();
          setTimeout(() => sock.destroy(), 1000).unref();
        }
        return;
      }
      // Caught up: read again (paused below when a client pipelined too far ahead).
      if (sock.isPaused() && !ended) sock.resume();
      if (ended && !sock.destroyed) sock.end();
    };

    sock.on('data', (chunk: Buffer) => {
      for (const l of lines.push(chunk)) queue.push(l);
      if (lines.overflow()) {
        // Nothing more is read from this client; pump() answers what came before, refuses.
        this.counts.tooLarge++;
        sock.pause();
        sock.removeAllListeners('data');
        void pump();
        return;
      }
      // Backpressure: a client that pipelines faster than its requests are answered stops
      // being read until they are, so its queue cannot grow without bound.
      if (queue.length >= MAX_QUEUED) sock.pause();
      void pump();
    });
    sock.on('end', () => {
      // Half-close: the client has said all it will; answer it, then end our side.
      if (lines.buffered() > 0) queue.push(INCOMPLETE);
      ended = true;
      void pump();
    });
  }

  private async handle(line: string | typeof INCOMPLETE, client: ClientInfo): Promise<Response> {
    this.counts.requests++;
    if (line === INCOMPLETE) {
      this.counts.badRequests++;
      return { id: null, ok: false, error: { code: 'bad_request', message: 'the connection ended in the middle of a request (requests end with a newline)' } };
    }
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch (e) {
      this.counts.badRequests++;
      return { id: null, ok: false, error: { code: 'bad_request', message: `not JSON: ${(e as Error).message}` } };
    }
    const problem = requestProblem(req);
    if (problem) {
      this.counts.badRequests++;
      const id = req && typeof req === 'object' && (typeof req.id === 'number' || typeof req.id === 'string') ? req.id : null;
      return { id, ok: false, error: { code: 'bad_request', message: problem } };
    }
    if (this.closing) return { id: req.id, ok: false, error: { code: 'shutting_down', message: 'the switch is stopping' } };
    const h = Object.hasOwn(this.handlers, req.method) ? this.handlers[req.method] : undefined;
    if (!h) {
      return { id: req.id, ok: false, error: { code: 'unknown_method', message: `no method '${req.method}' (methods: ${Object.keys(this.handlers).sort().join(', ')})` } };
    }
    let timer: NodeJS.Timeout | undefined;
    const limit = this.opts.slowMethods[req.method] ?? this.opts.requestTimeoutMs;
    try {
      const result = await Promise.race([
        Promise.resolve().then(() => h(req.params ?? {}, client)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ControlError('timeout', `'${req.method}' took longer than ${limit} ms`)), limit);
        }),
      ]);
      return { id: req.id, ok: true, result: result ?? null };
    } catch (e) {
      if (e instanceof ControlError) {
        if (e.code === 'timeout') this.counts.timeouts++;
        return { id: req.id, ok: false, error: { code: e.code, message: e.message } };
      }
      return { id: req.id, ok: false, error: { code: 'failed', message: (e as Error)?.message ?? String(e) } };
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * A socket file left by a daemon that died is removed; one a live daemon answers on is
 * not (two daemons on one socket would each think they own it); anything that is not a
 * socket is never removed.
 */
async function removeStale(p: string): Promise<void> {
  let st;
  try {
    st = lstatSync(p);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${p} exists and is not a socket; not removing it`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(p);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another xswitch is listening on ${p} (stop it, or pass --socket)`);
  unlinkSync(p);
}
