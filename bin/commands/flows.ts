/**
 * `xswitch flows validate FILE` and `xswitch flows show FILE [--port P]`: a flow-steering
 * file (ethtool -N/-U, -X, -L lines) checked, or shown as `ethtool -l`, `-x` and `-n`
 * would show the ports it configures — without a running switch.
 *
 * The ports and the queue count come from the switch configuration (`--config`), or from
 * `--ports`/`--queues`; with neither, the ports the file names and 64 queues (the most a
 * switch has) are assumed.
 */
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { applyFlowText, portsNamedIn } from '../../flows/file.js';
import { SteeringControl } from '../../flows/control.js';
import { loadConfig, ConfigError } from '../../daemon/config/index.js';

interface Args {
  file: string;
  config?: string;
  ports?: string;
  queues?: number;
  port?: string;
}

/** The ports and queues a flow file is checked against. */
export async function flowTarget(file: string, a: { config?: string; ports?: string; queues?: number }): Promise<{ ports: string[]; queues: number; text: string }> {
  const text = readFileSync(file, 'utf8');
  if (a.config) {
    const c = await loadConfig(a.config, { loadPrograms: false });
    return { ports: c.switch.ports.map((p) => p.name), queues: a.queues ?? c.switch.queues, text };
  }
  const ports = a.ports ? a.ports.split(',').filter(Boolean) : portsNamedIn(text);
  return { ports, queues: a.queues ?? 64, text };
}

function run(file: string, ports: string[], queues: number, text: string) {
  const controls = new Map(ports.map((p) => [p, new SteeringControl(p, queues)]));
  return { controls, ...applyFlowText(text, controls) };
}

const options = (y: Argv) =>
  y
    .positional('file', { type: 'string', demandOption: true, describe: 'flow-steering file' })
    .option('config', { type: 'string', describe: 'switch configuration (YAML) giving the ports and queue count' })
    .option('ports', { type: 'string', describe: 'port names, comma-separated (default: those the file names)' })
    .option('queues', { type: 'number', describe: 'queue count (default: the configuration\'s, else 64)' });

const fail = (e: unknown): never => {
  if (e instanceof ConfigError) process.stderr.write(e.message + '\n');
  else process.stderr.write(`xswitch flows: ${(e as Error).message}\n`);
  process.exit(2);
};

const validate: CommandModule<object, Args> = {
  command: 'validate <file>',
  describe: 'Check every line of a flow-steering file; print each error as file:line:column: message',
  builder: (y) => options(y) as unknown as Argv<Args>,
  handler: async (a) => {
    const t = await flowTarget(a.file, a).catch(fail);
    const { errors, controls } = run(a.file, t.ports, t.queues, t.text);
    for (const e of errors) process.stderr.write(`${a.file}:${e.line}:${e.column}: ${e.message}\n`);
    if (errors.length) process.exit(1);
    const rules = [...controls.values()].reduce((n, c) => n + c.state.rules.size, 0);
    process.stdout.write(`${a.file}: OK (${rules} rule(s) on ${controls.size} port(s), ${t.queues} queue(s))\n`);
  },
};

const show: CommandModule<object, Args> = {
  command: 'show <file>',
  describe: 'Print ethtool -l, -x and -n output for the ports a flow-steering file configures',
  builder: (y) => options(y).option('port', { type: 'string', describe: 'only this port' }) as unknown as Argv<Args>,
  handler: async (a) => {
    const t = await flowTarget(a.file, a).catch(fail);
    const { errors, controls } = run(a.file, t.ports, t.queues, t.text);
    for (const e of errors) process.stderr.write(`${a.file}:${e.line}:${e.column}: ${e.message}\n`);
    if (errors.length) process.exit(1);
    if (a.port && !controls.has(a.port)) fail(new Error(`no port named ${a.port} (ports: ${[...controls.keys()].join(', ')})`));
    for (const [name, c] of controls) {
      if (a.port && name !== a.port) continue;
      let out = `$ ethtool -l ${name}\n${c.showChannels()}$ ethtool -x ${name}\n${c.showRxfh()}\n`;
      for (const id of [...c.state.contexts.keys()].filter((k) => k !== 0).sort((x, y) => x - y)) {
        out += `$ ethtool -x ${name} context ${id}\n${c.showRxfh(id)}\n`;
      }
      process.stdout.write(out + `$ ethtool -n ${name}\n${c.showRules()}`);
    }
  },
};

const command: CommandModule = {
  command: 'flows <command>',
  describe: 'Check or show a flow-steering file (ethtool -N/-X/-L lines)',
  builder: (y) => y.command(validate).command(show).demandCommand(1),
  handler: () => {},
};

export default command;
