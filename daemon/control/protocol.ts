/**
 * The control protocol: newline-delimited JSON over a UNIX stream socket.
 *
 *   client → daemon   {"id": 1, "method": "stats", "params": {}}\n
 *   daemon → client   {"id": 1, "ok": true, "result": {...}}\n
 *                     {"id": 1, "ok": false, "error": {"code": "bad_params", "message": "..."}}\n
 *
 * One request per line, answered in order on the same connection (a client may pipeline).
 * A line longer than MAX_REQUEST_BYTES is answered `too_large` and the connection closed
 * (the rest of the line cannot be found reliably); a line that is not a JSON request is
 * answered `bad_request` and the connection stays usable.
 */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Responses can be large (a map dump); the client refuses beyond this. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export interface Request {
  id: number | string;
  method: string;
  params?: unknown;
}

export type Response =
  | { id: number | string | null; ok: true; result: unknown }
  | { id: number | string | null; ok: false; error: { code: ErrorCode; message: string } };

export type ErrorCode =
  | 'bad_request' // not JSON, or not {id, method, params}
  | 'too_large' // request line over the limit
  | 'unknown_method'
  | 'bad_params' // the method's parameters are wrong
  | 'failed' // the method ran and failed (message says why)
  | 'timeout' // the method took longer than the daemon allows
  | 'busy' // too many clients
  | 'shutting_down';

/** An error a handler throws to choose its code (any other error is `failed`). */
export class ControlError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

/** Checks that a parsed line is a request; returns the problem or null. */
export function requestProblem(v: unknown): string | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'a request is a JSON object {id, method, params}';
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'number' && typeof r.id !== 'string') return "'id' must be a number or a string";
  if (typeof r.method !== 'string' || !/^[a-z][a-z0-9_.-]{0,63}$/.test(r.method)) return "'method' must be a method name such as \"stats\"";
  return null;
}

/**
 * Splits a byte stream into lines without holding more than `limit` bytes of one line.
 * push() returns the complete lines in the chunk; overflow() says the current line is
 * past the limit (the caller answers too_large and stops reading).
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private pending = 0;
  private over = false;

  constructor(readonly limit: number) {}

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this.pending + piece.length > this.limit) {
        this.over = true;
        return lines;
      }
      this.parts.push(piece);
      lines.push(Buffer.concat(this.parts).toString('utf8').replace(/\r$/, ''));
      this.parts = [];
      this.pending = 0;
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (this.pending + rest.length > this.limit) {
      this.over = true;
      return lines;
    }
    if (rest.length > 0) {
      // Copy: the chunk's memory belongs to the socket.
      this.parts.push(Buffer.from(rest));
      this.pending += rest.length;
    }
    return lines;
  }

  overflow(): boolean {
    return this.over;
  }

  /** Bytes of an unfinished line (non-zero at EOF means the client cut a request short). */
  buffered(): number {
    return this.pending;
  }
}
