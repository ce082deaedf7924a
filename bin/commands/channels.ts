/**
 * `xswitch channels <port> [combined N]`: a running switch port's channels as
 * `ethtool -l DEV` prints them, or changed as `ethtool -L DEV combined N` changes them
 * (which queues that port's RSS and rules may use; the switch's queue count is fixed).
 */
import type { Argv, CommandModule } from 'yargs';
import { printJson, withClient, withClientOptions, type ClientArgs } from '../cli.js';

interface Args extends ClientArgs {
  port: string;
  words?: (string | number)[];
}

const command: CommandModule<object, Args> = {
  command: 'channels <port> [words..]',
  describe: 'Show (ethtool -l) or set (ethtool -L … combined N) a port\'s channels',
  builder: (y) =>
    withClientOptions(y)
      .parserConfiguration({ 'unknown-options-as-args': true })
      .positional('port', { type: 'string', demandOption: true, describe: 'port name' })
      .positional('words', { type: 'string', array: true, describe: '[rx N] [tx N] [other N] [combined N]' })
      .example('$0 channels gen0', 'Channel parameters for gen0: …')
      .example('$0 channels gen0 combined 1', 'steer everything from gen0 to queue 0') as unknown as Argv<Args>,
  handler: (a) =>
    withClient(a, async (c) => {
      if (a.words && a.words.length > 0) {
        const r = await c.request<{ output: string[] }>('channels.set', { port: a.port, args: a.words.map(String) });
        if (a.json) printJson(r);
        else for (const l of r.output) process.stdout.write(l + '\n');
        return;
      }
      const r = await c.request<{ text: string }>('channels.show', { port: a.port });
      if (a.json) printJson(r);
      else process.stdout.write(r.text.endsWith('\n') ? r.text : r.text + '\n');
    }),
};

export default command;
