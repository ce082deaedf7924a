/**
 * `xswitch prog attach PROGRAM --queues Q`: add PROGRAM at the end of the chain on some
 * queues (libxdp's multi-program dispatcher); the previous last program continues to it
 * on its continue-on verdicts. A queue running only the default `pass` gets PROGRAM alone.
 */
import type { CommandModule } from 'yargs';
import { printJson, withClient } from '../../cli.js';
import { progOptions, queuesFor, refOf, type ProgArgs } from './replace.js';

const command: CommandModule<object, ProgArgs> = {
  command: 'attach <program>',
  describe: 'Append a program to the chain on queues of the running switch',
  builder: (y) =>
    progOptions(y)
      .example('$0 prog attach drop --queues 1', 'queue 1: <current chain> → drop')
      .example('$0 prog attach redirect -p port=cap0 --continue-on PASS', 'forward what the chain passes'),
  handler: (a) =>
    withClient(a, async (c) => {
      const queues = await queuesFor(a, (m, p) => c.request(m, p));
      const r = await c.request<{ changes: string[] }>('prog.attach', { queues, program: refOf(a) }, 120_000);
      if (a.json) printJson(r);
      else process.stdout.write((r.changes.join('\n') || 'no change') + '\n');
    }),
};

export default command;
