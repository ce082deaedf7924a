/**
 * `xswitch prog list`: the program chain on every queue of the running switch.
 *
 *   queue 0: drop
 *   queue 1: redirect {"port":"cap0"} → pass     (continue on PASS)
 */
import type { CommandModule } from 'yargs';
import { printJson, withClient, withClientOptions, type ClientArgs } from '../../cli.js';

interface Ref {
  name: string;
  params: Record<string, unknown>;
  continueOn: string[];
}

export function formatChain(chain: Ref[]): string {
  return chain
    .map((r, i) => {
      const params = Object.keys(r.params).length ? ' ' + JSON.stringify(r.params) : '';
      const cont = i < chain.length - 1 ? `  [continue on ${r.continueOn.join(',') || 'nothing'}]` : '';
      return `${r.name}${params}${cont}`;
    })
    .join(' → ');
}

const command: CommandModule<object, ClientArgs> = {
  command: 'list',
  describe: 'The program chain on every queue of the running switch',
  builder: (y) => withClientOptions(y).example('$0 prog list', 'one line per queue'),
  handler: (a) =>
    withClient(a, async (c) => {
      const r = await c.request<{ queue: number; chain: Ref[] }[]>('prog.list');
      if (a.json) return printJson(r);
      for (const q of r) process.stdout.write(`queue ${q.queue}: ${formatChain(q.chain)}\n`);
    }),
};

export default command;
