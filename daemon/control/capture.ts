/**
 * Captures behind the control socket: capture.start / capture.status / capture.stop.
 * One capture at a time (every queue's tap would otherwise need several rings); the daemon
 * stops a running capture, flushing its file, before it stops the switch.
 */
import path from 'node:path';
import { Capture, type CaptureTarget } from '../../switch/capture/capture.js';
import { ControlError } from './protocol.js';
import { objectParams } from './handlers.js';
import type { Handler } from './server.js';

export class CaptureControl {
  private current: Capture | null = null;

  constructor(
    private readonly target: () => CaptureTarget | null,
    private readonly ports: () => string[],
    private readonly queues: () => number,
  ) {}

  async stop(): Promise<void> {
    await this.current?.stop();
  }

  handlers(): Record<string, Handler> {
    return {
      'capture.start': async (raw) => {
        const p = objectParams(raw, 'capture.start');
        if (this.current && !this.current.status().done) throw new ControlError('failed', `a capture is already running (to ${this.current.opts.file}); stop it first`);
        if (typeof p.file !== 'string' || !path.isAbsolute(p.file)) throw new ControlError('bad_params', "capture.start: 'file' must be an absolute path");
        const n = this.queues();
        const queues = p.queues === undefined ? Array.from({ length: n }, (_, i) => i) : p.queues;
        if (!Array.isArray(queues) || queues.length === 0 || !queues.every((q) => Number.isInteger(q) && q >= 0 && q < n)) {
          throw new ControlError('bad_params', `capture.start: queues must be queue numbers from 0 to ${n - 1}`);
        }
        const target = this.target();
        if (!target) throw new ControlError('failed', 'this switch has no packet tap');
        try {
          this.current = await Capture.start(target, {
            file: p.file,
            ports: this.ports(),
            port: typeof p.port === 'string' ? p.port : undefined,
            queues: queues as number[],
            verdicts: Array.isArray(p.verdicts) ? p.verdicts.map(String) : undefined,
            count: typeof p.count === 'number' ? p.count : undefined,
            snaplen: typeof p.snaplen === 'number' ? p.snaplen : undefined,
            filter: Array.isArray(p.filter) ? p.filter.map(String) : undefined,
            stage: p.stage === 'entry' ? 'entry' : 'exit',
          });
        } catch (e) {
          throw new ControlError('bad_params', (e as Error).message);
        }
        return this.current.status();
      },
      'capture.status': () => {
        if (!this.current) throw new ControlError('failed', 'no capture has run');
        return this.current.status();
      },
      'capture.stop': async () => {
        if (!this.current) throw new ControlError('failed', 'no capture is running');
        return this.current.stop();
      },
    };
  }
}
