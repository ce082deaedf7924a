/**
 * `xswitch validate FILE`: a dry run of the configuration — structure and meaning
 * (ports, queues, programs load with their parameters, steering file) — starting nothing.
 */
import type { CommandModule } from 'yargs';
import { ConfigError, loadConfig } from '../../switch/config/index.js';

interface Args {
  file: string;
  json: boolean;
}

const command: CommandModule<object, Args> = {
  command: 'validate <file>',
  describe: 'Check a configuration file without starting the switch',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'YAML configuration file' })
      .option('json', { type: 'boolean', default: false, describe: 'print { ok, issues } as JSON' })
      .example('$0 validate examples/demo.yaml', 'prints "examples/demo.yaml: OK …" or one line per problem'),
  handler: async (a) => {
    try {
      const c = await loadConfig(a.file);
      const s = c.switch;
      if (a.json) {
        process.stdout.write(JSON.stringify({ ok: true, issues: [], config: s }, null, 2) + '\n');
      } else {
        const chains = s.programs.length;
        process.stdout.write(
          `${a.file}: OK (${s.queues} queue${s.queues > 1 ? 's' : ''}, ${s.ports.length} port${s.ports.length > 1 ? 's' : ''}: ${s.ports.map((p) => `${p.name} (${p.type})`).join(', ')}; ${chains} program chain${chains === 1 ? '' : 's'})\n`,
        );
      }
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      if (a.json) process.stdout.write(JSON.stringify({ ok: false, issues: e.issues }, null, 2) + '\n');
      else process.stderr.write(e.message + '\n');
      process.exitCode = 1;
    }
  },
};

export default command;
