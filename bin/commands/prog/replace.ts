/**
 * `xswitch prog replace PROGRAM --queues Q`: run PROGRAM instead of the current chain on
 * some queues of the running switch. The swap happens between two breaths: no packet is
 * lost or seen by half a change.
 */
import type { Argv, CommandModule } from 'yargs';
import { parseParams, parseQueues, printJson, programName, withClient, withClientOptions, type ClientArgs } from '../../cli.js';

export interface ProgArgs extends ClientArgs {
  program: string;
  queues: string;
  param?: (string | number)[];
  continueOn?: string[];
}

export function progOptions<T>(y: Argv<T>): Argv<T & ProgArgs> {
  return withClientOptions(y)
    .positional('program', { type: 'string', demandOption: true, describe: 'a built-in program or a module path' })
    .option('queues', { alias: 'q', type: 'string', default: 'all', describe: 'queues: "all" or a list like 0,1' })
    .option('param', { alias: 'p', type: 'string', array: true, describe: 'a parameter key=value (repeatable)' })
    .option('continue-on', { type: 'string', array: true, describe: 'verdicts that continue to the next program (default PASS)' }) as unknown as Argv<T & ProgArgs>;
}

export async function queuesFor(a: ProgArgs, request: <T>(m: string, p?: unknown) => Promise<T>): Promise<number[]> {
  if (a.queues !== 'all') return parseQueues(a.queues, 0);
  const s = await request<{ queues: number }>('status');
  return parseQueues('all', s.queues);
}

export function refOf(a: ProgArgs): { name: string; params: Record<string, unknown>; continueOn: string[] } {
  return { name: programName(a.program), params: parseParams(a.param), continueOn: a.continueOn ?? ['PASS'] };
}

const command: CommandModule<object, ProgArgs> = {
  command: 'replace <program>',
  describe: 'Replace the program chain on queues of the running switch',
  builder: (y) =>
    progOptions(y)
      .example('$0 prog replace drop --queues 0,1', 'drop everything on queues 0 and 1')
      .example('$0 prog replace redirect -p port=cap0', 'every queue forwards to cap0')
      .example('$0 prog replace ./myprog.js -q 1 -p limit=100', 'a program of your own'),
  handler: (a) =>
    withClient(a, async (c) => {
      const queues = await queuesFor(a, (m, p) => c.request(m, p));
      const r = await c.request<{ changes: string[] }>('prog.replace', { queues, chain: [refOf(a)] }, 120_000);
      if (a.json) printJson(r);
      else process.stdout.write((r.changes.join('\n') || 'no change') + '\n');
    }),
};

export default command;
