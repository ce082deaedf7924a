/**
 * `xswitch trace --config FILE (--hex HEX | TUPLE…)`: where flow steering puts one packet —
 * the rule that matched (lowest location) or the RSS hash, indirection index and context,
 * and the queue. FILE is a switch configuration (YAML: its `steering` file, ports and
 * queues) or a flow-steering file. TUPLE is in ethtool's words:
 *   xswitch trace --config sw.yaml --port wan0 udp4 src-ip 10.0.0.1 dst-ip 10.0.0.2 dst-port 53
 */
import type { Argv, CommandModule } from 'yargs';
import { applyFlowText } from '../../flows/file.js';
import { SteeringControl } from '../../flows/control.js';
import { EthtoolError } from '../../flows/grammar.js';
import { frameFromTuple, parseHex, traceSteering } from '../../flows/trace.js';
import { flowTarget } from './flows.js';
import { loadConfig, ConfigError } from '../../daemon/config/index.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { traceLive } from '../cli.js';

interface Args {
  config?: string;
  socket?: string;
  hex?: string;
  port?: string;
  queues?: number;
  tuple?: (string | number)[];
}

const die = (msg: string, code = 2): never => {
  process.stderr.write(msg.endsWith('\n') ? msg : msg + '\n');
  process.exit(code);
};

const command: CommandModule<object, Args> = {
  command: 'trace [tuple..]',
  describe: 'Show which rule, RSS hash, indirection entry and queue a packet gets',
  builder: (y) =>
    y
      .parserConfiguration({ 'unknown-options-as-args': true })
      .option('config', { type: 'string', describe: 'switch configuration (YAML) or flow-steering file' })
      .option('socket', { type: 'string', describe: "trace against the running switch on this control socket: its live rules and RSS, then its programs' verdicts" })
      .check((a) => {
        if (a.config === undefined && a.socket === undefined) throw new Error('Give --config FILE, or --socket PATH for the running switch');
        return true;
      })
      .option('hex', { type: 'string', describe: 'the frame as hex bytes, from the destination MAC on' })
      .option('port', { type: 'string', describe: 'ingress port (default: the first)' })
      .option('queues', { type: 'number', describe: 'queue count, for a bare flow file (default 64)' })
      .positional('tuple', { type: 'string', array: true, describe: 'flow type and fields as ethtool -N takes them' })
      .example('$0 trace --config sw.yaml udp4 dst-ip 10.0.0.2 dst-port 53', 'the queue a DNS query lands on')
      .example('$0 trace --socket /run/xswitch.sock udp4 dst-ip 10.0.0.2 dst-port 53', 'the live switch: rule or RSS, queue, then each program\'s verdict')
      .example('$0 trace --config wan.flows --hex 0200000000020200000000010800…', 'trace raw bytes') as unknown as Argv<Args>,
  handler: async (a) => {
    if (a.config === undefined) return traceLive({ socket: a.socket!, port: a.port, hex: a.hex, tuple: a.tuple });
    let ports: string[];
    let queues: number;
    let text = '';
    let flowFile: string | undefined;
    try {
      if (/\.ya?ml$/i.test(a.config)) {
        const c = await loadConfig(a.config, { loadPrograms: false });
        ports = c.switch.ports.map((p) => p.name);
        queues = c.switch.queues;
        if (c.switch.steering) {
          flowFile = path.resolve(path.dirname(c.file), c.switch.steering);
          text = readFileSync(flowFile, 'utf8');
        }
      } else {
        flowFile = a.config;
        const t = await flowTarget(a.config, { queues: a.queues });
        ports = a.port && !t.ports.includes(a.port) ? [...t.ports, a.port] : t.ports;
        queues = t.queues;
        text = t.text;
      }
    } catch (e) {
      return die(e instanceof ConfigError ? e.message : `xswitch trace: ${(e as Error).message}`);
    }
    const port = a.port ?? ports[0];
    if (port === undefined) return die('xswitch trace: the configuration names no port (give --port)');
    if (!ports.includes(port)) return die(`xswitch trace: no port named ${port} (ports: ${ports.join(', ')})`);
    const controls = new Map(ports.map((p) => [p, new SteeringControl(p, queues)]));
    const { errors } = applyFlowText(text, controls);
    if (errors.length) return die(errors.map((e) => `${flowFile}:${e.line}:${e.column}: ${e.message}`).join('\n'), 1);
    let bytes: Uint8Array;
    try {
      if (a.hex !== undefined) {
        if (a.tuple?.length) return die('xswitch trace: give --hex or a tuple, not both');
        bytes = parseHex(a.hex);
      } else {
        if (!a.tuple?.length) return die('xswitch trace: give the packet: --hex BYTES or a tuple like `udp4 dst-ip 10.0.0.2 dst-port 53`');
        bytes = frameFromTuple(a.tuple.map(String));
      }
    } catch (e) {
      return die(`xswitch trace: ${e instanceof EthtoolError ? e.message : (e as Error).message}`);
    }
    for (const l of traceSteering(controls.get(port)!, bytes)) process.stdout.write(l + '\n');
  },
};

export default command;
