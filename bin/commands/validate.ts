/**
 * `xswitch validate FILE`: a dry run of the configuration — structure and meaning
 * (ports, queues, programs load with their parameters, steering file) — starting nothing.
 */
import type { CommandModule } from 'yargs';
import { ConfigError, loadConfig } from '../../daemon/config/index.js';
import { configJsonSchemaText } from '../../daemon/config/json-schema.js';

interface Args {
  file?: string;
  json: boolean;
  schema: boolean;
}

const command: CommandModule<object, Args> = {
  command: 'validate [file]',
  describe: 'Check a configuration file without starting the switch',
  builder: (y) =>
    y
      .positional('file', { type: 'string', describe: 'YAML configuration file' })
      .option('json', { type: 'boolean', default: false, describe: 'print { ok, issues } as JSON' })
      .option('schema', { type: 'boolean', default: false, describe: 'print the JSON Schema of configuration files (docs/xswitch.schema.json)' })
      .check((a) => {
        if (!a.schema && !a.file) throw new Error('Name a configuration file (or --schema)');
        return true;
      })
      .example('$0 validate examples/demo.yaml', 'prints "examples/demo.yaml: OK …" or one line per problem')
      .example('$0 validate --schema > docs/xswitch.schema.json', 'regenerate the published JSON Schema'),
  handler: async (a) => {
    if (a.schema) {
      process.stdout.write(configJsonSchemaText());
      return;
    }
    if (!a.file) return;
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
      if (!(e instanceof ConfigError)) {
        process.stderr.write(`xswitch: ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      if (a.json) process.stdout.write(JSON.stringify({ ok: false, issues: e.issues }, null, 2) + '\n');
      else process.stderr.write(e.message + '\n');
      process.exitCode = 1;
    }
  },
};

export default command;
