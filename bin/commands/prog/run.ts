/**
 * `xswitch prog run PROGRAM --pcap IN [--out OUT.pcapng] [--param k=v …]`: runs a program
 * over a capture without a switch, as `bpftool prog run` (BPF_PROG_TEST_RUN) does for one
 * packet: verdict counts, and the packets as the program left them with their verdicts.
 */
import type { Argv, CommandModule } from 'yargs';
import { importProgram, specifierFor } from '../../../programs/loader.js';
import { parseParamArgs } from '../../../programs/offline/params.js';
import { formatSummary, summaryJson } from '../../../programs/offline/report.js';
import { runOffline, DEFAULT_CHUNK } from '../../../programs/offline/run.js';

interface Args {
  program: string;
  pcap: string;
  out?: string;
  param: string[];
  params?: string;
  workers?: number;
  'chunk-size': number;
  ports: string;
  ingress: number;
  queue: number;
  queues: number;
  json: boolean;
}

const command: CommandModule<object, Args> = {
  command: 'run <program>',
  describe: 'Run a program over a pcap/pcapng capture (like bpftool prog run): verdict counts, output pcapng',
  builder: (y: Argv) =>
    y
      .positional('program', { type: 'string', demandOption: true, describe: 'built-in program name or path to a module' })
      .option('pcap', { type: 'string', demandOption: true, describe: 'input capture (pcap or pcapng)' })
      .option('out', { type: 'string', describe: 'write the packets as left by the program, with verdicts, to this pcapng file' })
      .option('param', { type: 'string', array: true, default: [], describe: 'program parameter key=value (repeat; lists take repeats or commas)' })
      .option('params', { type: 'string', describe: 'YAML/JSON file of parameters (for long lists)' })
      .option('workers', { type: 'number', describe: 'parallel workers (1: sequential; default: cores, at most 8)' })
      .option('chunk-size', { type: 'number', default: DEFAULT_CHUNK, describe: 'packets per parallel task' })
      .option('ports', { type: 'string', default: 'p1,p2', describe: 'port names of the imagined switch (ifindex 1, 2, …)' })
      .option('ingress', { type: 'number', default: 1, describe: 'ifindex the packets arrive on' })
      .option('queue', { type: 'number', default: 0, describe: 'RX queue index the program sees' })
      .option('queues', { type: 'number', default: 1, describe: 'number of queues (for per-queue maps and cpumap)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON' }) as unknown as Argv<Args>,
  handler: async (a) => {
    try {
      const m = await importProgram(specifierFor(a.program, process.cwd()));
      const params = parseParamArgs(m, a.param.map(String), a.params);
      const ports = a.ports
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((name, i) => ({ name, ifindex: i + 1 }));
      if (ports.length === 0) throw new Error('--ports: give at least one port name');
      const s = await runOffline({
        program: a.program,
        params,
        pcap: a.pcap,
        out: a.out,
        workers: a.workers,
        chunkSize: a['chunk-size'],
        ports,
        ingress: a.ingress,
        queue: a.queue,
        queues: a.queues,
      });
      console.log(a.json ? JSON.stringify(summaryJson(s), null, 2) : formatSummary(s));
      if (s.thrown > 0) process.exitCode = 1;
    } catch (e) {
      console.error(`xswitch prog run: ${(e as Error).message}`);
      process.exitCode = 2;
    }
  },
};
export default command;
