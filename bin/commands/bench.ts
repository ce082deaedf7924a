/**
 * `xswitch bench [mode…]`: the benchmark harness (bench/run.ts) — xdp-bench-style modes and
 * output, or JSON lines with --json. Runs in a child Node with --expose-gc, as `npm run
 * bench` does, so the modes' allocation checks have a collector to call.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';

interface Args {
  modes?: string[];
  seconds: number;
  json: boolean;
  list: boolean;
}

const command: CommandModule<object, Args> = {
  command: 'bench [modes..]',
  describe: 'Run the benchmark modes (xdp, steer, pcap, udp, endpoints, programs, control)',
  builder: (y) =>
    y
      .positional('modes', { type: 'string', array: true, describe: 'modes to run (all when none)' })
      .option('seconds', { type: 'number', default: 2, describe: 'measuring time per case' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per result line' })
      .option('list', { type: 'boolean', default: false, describe: 'list the modes and exit' })
      .example('$0 bench xdp', 'drop / tx / redirect Mpps against the postMessage, piscina and bare-ring references')
      .example('$0 bench steer --json', 'flow-steering ns/packet as JSON lines'),
  handler: async (a) => {
    const runner = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
    const args = ['--expose-gc', runner, ...(a.modes ?? []), '--seconds', String(a.seconds)];
    if (a.json) args.push('--json');
    if (a.list) args.push('--list');
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    const code = await new Promise<number>((res) => child.on('exit', (c) => res(c ?? 1)));
    process.exitCode = code;
  },
};
export default command;
