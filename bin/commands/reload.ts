/**
 * `xswitch reload`: re-read the running switch's configuration file and apply what changed
 * (programs, steering rules, RSS) without restarting queues — as SIGHUP does, but with the
 * answer here: what changed, or why the new file was refused (the old one keeps running).
 */
import type { CommandModule } from 'yargs';
import { printJson, withClient, withClientOptions, type ClientArgs } from '../cli.js';

const command: CommandModule<object, ClientArgs> = {
  command: 'reload',
  describe: 'Re-read the configuration file of the running switch and apply the difference',
  builder: (y) => withClientOptions(y).example('$0 reload', 'prints the changes, or the file:line:column errors'),
  handler: (a) =>
    withClient(a, async (c) => {
      const r = await c.request<{ changes: string[] }>('reload', {}, 120_000);
      if (a.json) printJson(r);
      else process.stdout.write((r.changes.join('\n') || 'no change') + '\n');
    }),
};

export default command;
