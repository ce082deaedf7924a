/**
 * `xswitch stats`: the running switch's counters as `ethtool -S` prints them
 * (`NIC statistics:` then `     name: value`); `--watch` prints per-queue rates every
 * interval, xdp-bench style, until Ctrl-C or `--count` samples.
 */
import type { CommandModule } from 'yargs';
import { printJson, withClient, withClientOptions, type ClientArgs } from '../cli.js';
import { renderRates } from '../../daemon/view/live.js';
import { rates } from '../../daemon/view/rates.js';

interface Args extends ClientArgs {
  watch: boolean;
  interval: number;
  count?: number;
  filter?: string;
  all: boolean;
}

interface StatsReply {
  time: number;
  counters: Record<string, number>;
}

export function ethtoolS(counters: Record<string, number>): string {
  return 'NIC statistics:\n' + Object.entries(counters).map(([k, v]) => `     ${k}: ${v}\n`).join('');
}

const command: CommandModule<object, Args> = {
  command: 'stats',
  describe: 'Counters of the running switch (ethtool -S names); --watch for rates',
  builder: (y) =>
    withClientOptions(y)
      .option('watch', { alias: 'w', type: 'boolean', default: false, describe: 'print rates every interval' })
      .option('interval', { alias: 'i', type: 'number', default: 1, describe: 'seconds between samples with --watch' })
      .option('count', { alias: 'n', type: 'number', describe: 'stop --watch after this many samples' })
      .option('filter', { type: 'string', describe: 'only counters whose name starts with this' })
      .option('all', { type: 'boolean', default: true, describe: 'include zero counters (--no-all hides them)' })
      .check((a) => {
        if (!(a.interval >= 0.1)) throw new Error('--interval must be at least 0.1 seconds');
        if (a.count !== undefined && !(Number.isInteger(a.count) && a.count > 0)) throw new Error('--count must be a positive integer');
        return true;
      })
      .example('$0 stats', 'every counter, as ethtool -S prints them')
      .example('$0 stats --filter rx0_', 'queue 0 only')
      .example('$0 stats --watch --interval 0.5', 'per-queue rates twice a second')
      .example('$0 stats --json', 'counters as one JSON object'),
  handler: (a) =>
    withClient(a, async (c) => {
      const params = { prefix: a.filter ?? '' };
      if (!a.watch) {
        const r = await c.request<StatsReply>('stats', params);
        const shown = a.all ? r.counters : Object.fromEntries(Object.entries(r.counters).filter(([, v]) => v !== 0));
        if (a.json) printJson(shown);
        else process.stdout.write(ethtoolS(shown));
        return;
      }
      let prev = await c.request<StatsReply>('stats', params);
      let stop = false;
      const onInt = () => (stop = true);
      process.once('SIGINT', onInt);
      for (let n = 0; !stop && (a.count === undefined || n < a.count); n++) {
        await new Promise((r) => setTimeout(r, a.interval * 1000));
        const cur = await c.request<StatsReply>('stats', params);
        const seconds = (cur.time - prev.time) / 1000 || a.interval;
        if (a.json) {
          const r = rates(prev.counters, cur.counters, seconds);
          process.stdout.write(JSON.stringify({ time: cur.time, seconds, total: r.total, queues: r.queues }) + '\n');
        } else {
          process.stdout.write(renderRates(prev.counters, cur.counters, seconds).join('\n') + '\n');
        }
        prev = cur;
      }
      process.off('SIGINT', onInt);
    }),
};

export default command;
