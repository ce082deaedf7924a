#!/usr/bin/env node
/**
 * The xswitch command. Every file in bin/commands/ is one yargs command module (its default
 * export); they are loaded here so a new command is a new file and nothing else.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.join(here, 'commands');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.js'))
  .sort();
const commands: CommandModule[] = [];
for (const f of files) {
  const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { default?: CommandModule };
  if (mod.default) commands.push(mod.default);
}

let cli = yargs(hideBin(process.argv))
  .scriptName('xswitch')
  .usage('$0 <command> [options]\n\nA multi-queue software switch built the way Linux XDP processes packets.')
  .strict()
  .demandCommand(1, 'Name a command; `xswitch --help` lists them.')
  .recommendCommands()
  .completion('completion', 'Print a bash/zsh completion script')
  .help()
  .alias('h', 'help')
  .version()
  .wrap(Math.min(110, process.stdout.columns || 100));
for (const c of commands) cli = cli.command(c);
await cli.parseAsync();
