/**
 * What a reload may change while the switch runs, and what needs a restart.
 *
 * Live: the programs (swapped queue by queue between two breaths), the steering file (each
 * port's device thread swaps to the new rules between two batches), the view's interval.
 * Everything else is fixed for the life of the process: the data path's shape (queues,
 * ports, frames, rings, budget: shared memory laid out at start) and the sockets the daemon
 * listens on (control.socket, metrics). A reload that changes one of those is refused whole,
 * naming each key, so the file and the running switch never disagree silently.
 */
import { isDeepStrictEqual } from 'node:util';
import type { LoadedConfig } from './config/index.js';

/** Switch keys laid out in shared memory at start. */
const FIXED_SWITCH_KEYS = ['queues', 'frameSize', 'poolFrames', 'superFrames', 'ringSize', 'budget', 'cpus', 'busyPoll', 'ports'] as const;

export interface Overrides {
  /** The control socket was given on the command line: the file's control.socket is not used. */
  socket?: boolean;
  /** The metrics address was given on the command line: the file's metrics is not used. */
  metrics?: boolean;
  /** The interval was given on the command line: the file's interval is not used. */
  interval?: boolean;
}

/** The keys (as written in the file) whose change from `a` to `b` needs a restart. */
export function restartKeys(a: LoadedConfig, b: LoadedConfig, o: Overrides = {}): string[] {
  const keys: string[] = FIXED_SWITCH_KEYS.filter((k) => !isDeepStrictEqual(a.switch[k], b.switch[k]));
  if (!o.socket && a.controlSocket !== b.controlSocket) keys.push('control.socket');
  if (!o.metrics && !isDeepStrictEqual(a.metrics, b.metrics)) keys.push('metrics');
  return keys;
}

export function restartMessage(keys: string[]): string {
  return `${keys.join(', ')} changed: restart the switch to change ${keys.length > 1 ? 'them' : 'it'} (a reload applies programs, steering rules, RSS and the interval); nothing was changed`;
}

/**
 * Steps applied in order, each with its undo registered before it runs (a step that fails
 * halfway may have changed part of the switch); on a failure the undos run newest first.
 */
export class Rollback {
  private readonly undos: { what: string; undo: () => Promise<unknown> }[] = [];

  async step(what: string, undo: () => Promise<unknown>, run: () => Promise<unknown>): Promise<void> {
    this.undos.push({ what, undo });
    await run();
  }

  /** Runs every undo, newest first; returns what could not be undone (empty when all were). */
  async undo(): Promise<string[]> {
    const failed: string[] = [];
    for (const u of this.undos.reverse()) {
      try {
        await u.undo();
      } catch (e) {
        failed.push(`${u.what}: ${(e as Error).message}`);
      }
    }
    this.undos.length = 0;
    return failed;
  }
}
