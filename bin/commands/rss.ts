/**
 * `xswitch rss show|set`: a running switch port's RSS indirection table and hash key,
 * as `ethtool -x DEV` prints them and `ethtool -X DEV …` sets them.
 */
import type { Argv, CommandModule } from 'yargs';
import { printJson, withClient, withClientOptions, type ClientArgs } from '../cli.js';

interface ShowArgs extends ClientArgs {
  port: string;
  context?: number;
}
interface SetArgs extends ClientArgs {
  port: string;
  words: (string | number)[];
}

const show: CommandModule<ClientArgs, ShowArgs> = {
  command: 'show <port>',
  describe: 'Print the indirection table, key and hash function (ethtool -x)',
  builder: (y) =>
    y
      .positional('port', { type: 'string', demandOption: true, describe: 'port name' })
      .option('context', { type: 'number', describe: 'an RSS context other than 0' })
      .example('$0 rss show gen0', 'table, key and hash function') as Argv<ShowArgs>,
  handler: (a) =>
    withClient(a, async (c) => {
      const r = await c.request<{ text: string }>('rss.show', { port: a.port, context: a.context });
      if (a.json) printJson(r);
      else process.stdout.write(r.text.endsWith('\n') ? r.text : r.text + '\n');
    }),
};

const set: CommandModule<ClientArgs, SetArgs> = {
  command: 'set <port> <words..>',
  describe: 'Change RSS: the words ethtool -X takes after the device name',
  builder: (y) =>
    y
      .positional('port', { type: 'string', demandOption: true, describe: 'port name' })
      .positional('words', { type: 'string', array: true, demandOption: true, describe: '[hkey K] [start N] [equal N | weight W… | default] [hfunc F] [context N|new] [delete]' })
      .example('$0 rss set gen0 equal 2', 'spread over queues 0 and 1')
      .example('$0 rss set gen0 weight 3 1', 'three quarters to queue 0') as Argv<SetArgs>,
  handler: (a) =>
    withClient(a, async (c) => {
      const r = await c.request<{ output: string[] }>('rss.set', { port: a.port, args: a.words.map(String) });
      if (a.json) printJson(r);
      else for (const l of r.output) process.stdout.write(l + '\n');
    }),
};

const command: CommandModule<object, ClientArgs> = {
  command: 'rss <command>',
  describe: 'RSS of a running switch port (ethtool -x / -X)',
  builder: (y) =>
    withClientOptions(y)
      .parserConfiguration({ 'unknown-options-as-args': true })
      .command(show)
      .command(set)
      .demandCommand(1, 'rss show | set'),
  handler: () => {},
};

export default command;
