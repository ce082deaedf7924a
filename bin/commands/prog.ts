/**
 * `xswitch prog <subcommand>`: programs. Every module in bin/commands/prog/ is one
 * subcommand (its default export, a yargs command module), loaded here, so a new
 * subcommand is a new file in that folder.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Argv, CommandModule } from 'yargs';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prog');
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const subcommands: CommandModule[] = [];
for (const f of readdirSync(dir)
  .filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts'))
  .sort()) {
  const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { default?: CommandModule };
  if (mod.default) subcommands.push(mod.default);
}

const command: CommandModule = {
  command: 'prog <command>',
  describe: 'Programs: run one over a capture offline (and list/attach/replace on a running switch)',
  builder: (y: Argv) => {
    let b = y;
    for (const c of subcommands) b = b.command(c);
    return b.demandCommand(1, 'Name a prog subcommand; `xswitch prog --help` lists them.');
  },
  handler: () => {},
};
export default command;
