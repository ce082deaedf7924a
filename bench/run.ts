/**
 * `npm run bench [-- MODE… --seconds S --json]`: runs every benchmark mode file in
 * bench/modes/ (or the named ones) and prints xdp-bench-style lines, or JSON lines with
 * --json. Figures are meant to be read as ratios against the references measured in the
 * same run (this machine is shared and noisy).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { BenchMode, BenchResult } from './harness.js';

const argv = await yargs(hideBin(process.argv))
  .scriptName('npm run bench --')
  .usage('$0 [mode…] [--seconds S] [--rounds N] [--minutes M] [--json]')
  .option('seconds', { type: 'number', default: 2, describe: 'measuring time per case' })
  .option('rounds', { type: 'number', describe: 'fuzz: rounds per configuration (default 100000)' })
  .option('minutes', { type: 'number', describe: 'soak: minutes to run (default 10)' })
  .option('json', { type: 'boolean', default: false, describe: 'one JSON object per result line' })
  .option('list', { type: 'boolean', default: false, describe: 'list the modes and exit' })
  .strictOptions()
  .help()
  .parseAsync();

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'modes');
const modes: BenchMode[] = [];
for (const f of readdirSync(dir).filter((f) => f.endsWith('.js')).sort()) {
  const m = (await import(pathToFileURL(path.join(dir, f)).href)) as { default?: BenchMode | BenchMode[] };
  if (m.default) modes.push(...(Array.isArray(m.default) ? m.default : [m.default]));
}
if (argv.list) {
  for (const m of modes) console.log(`${m.name.padEnd(14)} ${m.description}`);
  process.exit(process.exitCode ?? 0);
}
const wanted = argv._.map(String);
const selected = wanted.length ? modes.filter((m) => wanted.includes(m.name)) : modes.filter((m) => !m.onlyWhenNamed);
if (wanted.length && selected.length !== wanted.length) {
  const known = modes.map((m) => m.name);
  console.error(`unknown mode(s): ${wanted.filter((w) => !known.includes(w)).join(', ')} (known: ${known.join(', ')})`);
  process.exit(2);
}
const report = (r: BenchResult) => {
  if (argv.json) console.log(JSON.stringify(r));
};
for (const m of selected) {
  if (!argv.json) console.log(`\n== ${m.name}: ${m.description}`);
  await m.run({ seconds: argv.seconds, json: argv.json, rounds: argv.rounds, minutes: argv.minutes }, report);
}
process.exit(process.exitCode ?? 0);
