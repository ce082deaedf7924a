/**
 * `xswitch flow add|del|list`: ntuple rules on a running switch's port, in ethtool's words
 * and with ethtool's output (`ethtool -N DEV …`, `ethtool -n DEV`).
 */
import type { Argv, CommandModule } from 'yargs';
import { printJson, withClient, withClientOptions, type ClientArgs } from '../cli.js';

interface AddArgs extends ClientArgs {
  port: string;
  words: (string | number)[];
}
interface DelArgs extends ClientArgs {
  port: string;
  loc: number;
}
interface ListArgs extends ClientArgs {
  port: string;
  rule?: number;
  rxFlowHash?: string;
}

const print = (r: { output?: string[]; text?: string }, json: boolean, full: unknown) => {
  if (json) return printJson(full);
  if (r.text !== undefined) process.stdout.write(r.text.endsWith('\n') ? r.text : r.text + '\n');
  for (const l of r.output ?? []) process.stdout.write(l + '\n');
};

const add: CommandModule<ClientArgs, AddArgs> = {
  command: 'add <port> <words..>',
  describe: 'Add a rule: the words ethtool -N takes after the device name',
  builder: (y) =>
    y
      .positional('port', { type: 'string', demandOption: true, describe: 'port name' })
      .positional('words', { type: 'string', array: true, demandOption: true, describe: 'flow-type T [field value [m mask]]… action|queue N [loc N]' })
      .example('$0 flow add gen0 flow-type udp4 dst-port 53 action 1', 'DNS to queue 1 (prints "Added rule with ID <n>")')
      .example('$0 flow add gen0 flow-type tcp4 src-ip 10.0.0.0 m 0.0.0.255 action -1 loc 5', 'drop a /24 at location 5') as Argv<AddArgs>,
  handler: (a) =>
    withClient(a, async (c) => {
      const r = await c.request<{ output: string[] }>('flow.add', { port: a.port, args: a.words.map(String) });
      print(r, a.json, r);
    }),
};

const del: CommandModule<ClientArgs, DelArgs> = {
  command: 'del <port> <loc>',
  aliases: ['delete'],
  describe: 'Delete the rule at a location (ethtool -N DEV delete N)',
  builder: (y) =>
    y
      .positional('port', { type: 'string', demandOption: true, describe: 'port name' })
      .positional('loc', { type: 'number', demandOption: true, describe: "the rule's location" })
      .example('$0 flow del gen0 1023', 'remove rule 1023') as Argv<DelArgs>,
  handler: (a) =>
    withClient(a, async (c) => {
      const r = await c.request<{ output: string[] }>('flow.del', { port: a.port, loc: a.loc });
      print(r, a.json, r);
    }),
};

const list: CommandModule<ClientArgs, ListArgs> = {
  command: 'list <port>',
  aliases: ['show'],
  describe: 'List the rules as ethtool -n prints them',
  builder: (y) =>
    y
      .positional('port', { type: 'string', demandOption: true, describe: 'port name' })
      .option('rule', { type: 'number', describe: 'only the rule at this location (ethtool -n DEV rule N)' })
      .option('rx-flow-hash', { type: 'string', describe: 'the hashed fields of a flow type (ethtool -n DEV rx-flow-hash T)' })
      .example('$0 flow list gen0', 'every rule')
      .example('$0 flow list gen0 --rule 5', 'one rule') as Argv<ListArgs>,
  handler: (a) =>
    withClient(a, async (c) => {
      const r = await c.request<{ text: string; counters: Record<string, number> }>('flow.list', { port: a.port, rule: a.rule, rxFlowHash: a.rxFlowHash });
      print(r, a.json, r);
    }),
};

const command: CommandModule<object, ClientArgs> = {
  command: 'flow <command>',
  describe: 'Flow-steering rules of a running switch (ethtool -N / -n)',
  builder: (y) =>
    withClientOptions(y)
      // ethtool words include negative numbers (action -1): they are words, not options.
      .parserConfiguration({ 'unknown-options-as-args': true })
      .command(add)
      .command(del)
      .command(list)
      .demandCommand(1, 'flow add | del | list'),
  handler: () => {},
};

export default command;
