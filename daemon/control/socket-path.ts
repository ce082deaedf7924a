/**
 * Where the control socket is when nobody says: $XSWITCH_SOCKET, else a per-user path in
 * $XDG_RUNTIME_DIR (a private directory on systemd hosts), else in the temporary folder
 * with the user id in its name so users do not collide.
 */
import os from 'node:os';
import path from 'node:path';

export function defaultSocketPath(): string {
  if (process.env.XSWITCH_SOCKET) return process.env.XSWITCH_SOCKET;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  if (process.env.XDG_RUNTIME_DIR) return path.join(process.env.XDG_RUNTIME_DIR, 'xswitch.sock');
  return path.join(os.tmpdir(), `xswitch-${uid}.sock`);
}
