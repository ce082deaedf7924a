/**
 * `xswitch status`: what the running switch is — its configuration file, queues, ports,
 * programs, uptime, control-socket figures.
 */
import type { CommandModule } from 'yargs';
import { printJson, withClient, withClientOptions, type ClientArgs } from '../cli.js';
import { DEFAULT_CHAIN } from '../../switch/config-types.js';

interface Status {
  pid: number;
  config: string;
  socket: string;
  metrics: string | null;
  uptime: number;
  reloads: number;
  queues: number;
  frameSize: number;
  poolFrames: number;
  ringSize: number;
  budget: number;
  ports: { name: string; type: string; ifindex: number; status: Record<string, unknown> | null }[];
  programs: { queues: number[]; chain: { name: string; continueOn: string[] }[] }[];
  steering: string;
}

const command: CommandModule<object, ClientArgs> = {
  command: 'status',
  describe: 'What the running switch is running',
  builder: (y) => withClientOptions(y).example('$0 status', 'configuration, ports, programs, uptime'),
  handler: (a) =>
    withClient(a, async (c) => {
      const s = await c.request<Status>('status');
      if (a.json) return printJson(s);
      const lines = [
        `xswitch pid ${s.pid}, up ${s.uptime.toFixed(1)}s, ${s.reloads} reload${s.reloads === 1 ? '' : 's'}`,
        `  config:    ${s.config}`,
        `  socket:    ${s.socket}`,
        `  metrics:   ${s.metrics ? `http://${s.metrics}/metrics` : 'off'}`,
        `  queues:    ${s.queues} (budget ${s.budget}, ring ${s.ringSize}, ${s.poolFrames} frames of ${s.frameSize} bytes per port)`,
        `  steering:  ${s.steering}`,
        '  ports:',
        ...s.ports.map((p) => `    ${String(p.ifindex).padStart(3)}: ${p.name} (${p.type})${p.status && Object.keys(p.status).length ? '  ' + Object.entries(p.status).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ') : ''}`),
        '  programs:',
        ...(s.programs.length ? s.programs : [{ queues: [], chain: DEFAULT_CHAIN }]).map(
          (p) => `    queues ${p.queues.length ? p.queues.join(',') : 'all'}: ${p.chain.map((r) => r.name).join(' → ')}`,
        ),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }),
};

export default command;
