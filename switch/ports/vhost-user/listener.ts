/**
 * The vhost-user socket file: created with mode 0600 before anyone can connect (bound in a
 * private 0700 folder beside PATH, chmod, then renamed onto PATH — there is no moment when
 * the socket exists with the process umask). A stale socket file that nobody serves is
 * replaced; a live one (another switch serving it) is an error, as is any other file there.
 */
import { chmodSync, lstatSync, mkdtempSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { close, connectUnix, listenUnix } from '../../../lib/native/index.js';

/** Listens on `socketPath` (non-blocking); returns the listening fd. Throws a clear error. */
export function listenPrivate(socketPath: string): number {
  let st: ReturnType<typeof lstatSync> | null = null;
  try {
    st = lstatSync(socketPath);
  } catch {
    // Nothing there: the usual case.
  }
  if (st !== null) {
    if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket (remove it, or choose another path)`);
    let live = false;
    try {
      close(connectUnix(socketPath));
      live = true;
    } catch {
      // Nobody accepts there: a stale socket from an earlier run.
    }
    if (live) throw new Error(`${socketPath} is served by another process`);
    unlinkSync(socketPath);
  }
  const dir = mkdtempSync(path.join(path.dirname(socketPath), '.xswitch-vhost-'));
  const tmp = path.join(dir, 's');
  try {
    const fd = listenUnix(tmp);
    try {
      chmodSync(tmp, 0o600);
      renameSync(tmp, socketPath);
    } catch (e) {
      close(fd);
      throw e;
    }
    return fd;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // Renamed onto socketPath: nothing left.
    }
    rmdirSync(dir);
  }
}
