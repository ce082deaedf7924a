/**
 * Stopping a switch whose device thread has died: the stop still completes (it used to wait
 * for an answer that never came), and the port whose ingress could not be stopped is counted
 * in the stop summary and logged as an error.
 */
import { describe, expect, it } from 'vitest';
import { Switch, type LogEvent } from '../../switch/switch.js';
import { config } from './support.js';

describe('stop with a dead device thread', () => {
  it('completes, counts the port whose ingress could not be stopped, and logs it', async () => {
    const sw = await Switch.start(config([{ name: 'gen0', type: 'gen', rate: 1000 }, { name: 'out0', type: 'null' }], 1, [{ name: 'drop', continueOn: [] }]));
    const logs: LogEvent[] = [];
    sw.on('log', (e: LogEvent) => logs.push(e));
    // The port's device thread dies (as a crash would end it).
    const threads = (sw as unknown as { deviceThreads: { worker: { terminate(): Promise<number> } }[] }).deviceThreads;
    await threads[1].worker.terminate();
    const s = await sw.stop();
    expect(s.stopIngressFailures).toBe(1);
    const errors = logs.filter((e) => e.level === 'error').map((e) => e.message);
    expect(errors).toEqual([expect.stringMatching(/^stop: could not stop ingress of port out0 \(port out0: (its device thread has exited|no answer to stop-ingress)/)]);
  });

  it('a clean stop has no failure', async () => {
    const sw = await Switch.start(config([{ name: 'gen0', type: 'gen', count: 100 }, { name: 'out0', type: 'null' }], 1, [{ name: 'drop', continueOn: [] }]));
    await sw.waitFinished('gen0');
    const s = await sw.stop();
    expect(s.stopIngressFailures).toBe(0);
  });
});
