/**
 * `xswitch capture -w FILE`: copy packets at a running switch's XDP hook, after the
 * program with their verdict (or before it, --stage entry), to pcapng (as xdpdump does). Stops after `-c N` packets or
 * on Ctrl-C; prints tcpdump-style totals.
 *
 * Each packet carries its verdict as epb_verdict (Wireshark: frame.verdict) and a comment
 * `queue=Q verdict=V`; interfaces are the switch's ports.
 */
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { printJson, withClient, withClientOptions, type ClientArgs } from '../cli.js';

interface Args extends ClientArgs {
  write: string;
  port?: string;
  queue?: number[];
  verdict?: string[];
  count?: number;
  snaplen?: number;
  filter?: string;
  stage: 'entry' | 'exit';
}

interface Status {
  file: string;
  packets: number;
  dropped: number;
  done: boolean;
}

const command: CommandModule<object, Args> = {
  command: 'capture',
  describe: 'Capture packets at the XDP hook with their verdicts to pcapng (xdpdump)',
  builder: (y) =>
    withClientOptions(y)
      .option('write', { alias: 'w', type: 'string', demandOption: true, describe: 'pcapng file to write' })
      .option('port', { alias: 'i', type: 'string', describe: 'only packets that came in on this port' })
      .option('queue', { alias: 'q', type: 'number', array: true, describe: 'only these queues (repeatable; default all)' })
      .option('verdict', { type: 'string', array: true, describe: 'only these verdicts: ABORTED DROP PASS TX REDIRECT' })
      .option('count', { alias: 'c', type: 'number', describe: 'stop after this many packets' })
      .option('snaplen', { alias: 's', type: 'number', describe: 'bytes kept of each packet (default 65535)' })
      .option('filter', { alias: 'f', type: 'string', describe: 'only packets matching ethtool -N words, e.g. "udp4 dst-port 53"' })
      .option('stage', { choices: ['entry', 'exit'] as const, default: 'exit' as const, describe: 'tap before the program (entry, as it arrived) or after it (exit, with its verdict), as xdpdump --rx-capture' })
      .example('$0 capture -w /tmp/q1.pcapng --queue 1 -c 100', '100 packets from queue 1')
      .example('$0 capture -w drops.pcapng --verdict DROP --port gen0', 'what gets dropped from gen0, until Ctrl-C')
      .example('$0 capture -w in.pcapng --stage entry -c 50', '50 packets as they arrived, before any program changed them')
      .example('$0 capture -w dns.pcapng -f "udp4 dst-port 53" -c 10', 'ten DNS queries, whatever queue they reach') as unknown as import('yargs').Argv<Args>,
  handler: (a) =>
    withClient(a, async (c) => {
      const file = path.resolve(a.write);
      await c.request('capture.start', { file, port: a.port, queues: a.queue, verdicts: a.verdict, count: a.count, snaplen: a.snaplen, filter: a.filter?.trim().split(/\s+/), stage: a.stage });
      if (!a.json) process.stderr.write(`capturing to ${file}${a.count ? `, ${a.count} packets` : ''} (Ctrl-C to stop)\n`);
      let interrupted = false;
      const onInt = () => (interrupted = true);
      process.on('SIGINT', onInt);
      let s: Status;
      for (;;) {
        await new Promise((r) => setTimeout(r, 100));
        s = await c.request<Status>('capture.status');
        if (s.done || interrupted) break;
      }
      s = await c.request<Status>('capture.stop');
      process.off('SIGINT', onInt);
      if (a.json) return printJson(s);
      process.stdout.write(`${s.packets} packet${s.packets === 1 ? '' : 's'} captured\n${s.dropped} packet${s.dropped === 1 ? '' : 's'} dropped by the capture ring\n`);
    }),
};

export default command;
