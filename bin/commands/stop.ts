/**
 * `xswitch stop`: ask the running switch to stop cleanly (as SIGTERM does: stop ingress,
 * drain rings, flush captures, print the exit summary where it runs).
 */
import type { CommandModule } from 'yargs';
import { printJson, withClient, withClientOptions, type ClientArgs } from '../cli.js';

const command: CommandModule<object, ClientArgs> = {
  command: 'stop',
  describe: 'Stop the running switch cleanly',
  builder: (y) => withClientOptions(y).example('$0 stop', 'the switch prints its exit summary and exits 0'),
  handler: (a) =>
    withClient(a, async (c) => {
      const r = await c.request('stop');
      if (a.json) printJson(r);
      else process.stdout.write('stopping\n');
    }),
};

export default command;
