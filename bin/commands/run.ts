/**
 * `xswitch run --config FILE`: start the switch and keep it running (daemon/daemon.ts).
 */
import type { CommandModule } from 'yargs';
import { Daemon } from '../../daemon/daemon.js';
import { ConfigError } from '../../daemon/config/index.js';

interface Args {
  config: string;
  duration?: number;
  socket?: string;
  metrics?: string;
  json: boolean;
  interval?: number;
  quiet: boolean;
}

const command: CommandModule<object, Args> = {
  command: 'run',
  describe: 'Start the switch from a configuration file; live per-queue rates until Ctrl-C',
  builder: (y) =>
    y
      .option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'YAML configuration file' })
      .option('duration', { alias: 'd', type: 'number', describe: 'stop after this many seconds' })
      .option('socket', { type: 'string', describe: 'control socket path (default: the file\'s control.socket, else $XSWITCH_SOCKET, $XDG_RUNTIME_DIR/xswitch.sock or /tmp/xswitch-<uid>.sock)' })
      .option('metrics', { type: 'string', describe: 'serve Prometheus metrics on this loopback host:port' })
      .option('interval', { alias: 'i', type: 'number', describe: 'seconds between live-view lines (default: the file\'s interval, 1)' })
      .option('json', { type: 'boolean', default: false, describe: 'print rates and the exit summary as JSON lines' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no live view; only the start line and the exit summary' })
      .check((a) => {
        if (a.duration !== undefined && !(a.duration > 0)) throw new Error('--duration must be a number of seconds above 0');
        if (a.interval !== undefined && !(a.interval >= 0.1)) throw new Error('--interval must be at least 0.1 seconds');
        return true;
      })
      .example('$0 run --config examples/demo.yaml', 'run the demo until Ctrl-C')
      .example('$0 run -c examples/demo.yaml --duration 5', 'run for five seconds, then print the summary')
      .example('$0 run -c sw.yaml --metrics 127.0.0.1:9101 --socket /run/xswitch.sock', 'with a Prometheus endpoint'),
  handler: async (a) => {
    let d: Daemon;
    try {
      d = await Daemon.start({
        configFile: a.config,
        duration: a.duration,
        socket: a.socket,
        metrics: a.metrics,
        json: a.json,
        interval: a.interval,
        quiet: a.quiet,
      });
    } catch (e) {
      process.stderr.write(e instanceof ConfigError ? `${e.message}\n` : `xswitch: ${(e as Error).message}\n`);
      process.exit(e instanceof ConfigError ? 2 : 1);
    }
    // A closed pipe (`xswitch run … | head`) is a request to stop, not a crash.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') void d.stop();
    });
    const code = await d.done;
    // Worker threads and sockets are closed by now; exit explicitly so nothing lingers.
    process.exit(code);
  },
};

export default command;
