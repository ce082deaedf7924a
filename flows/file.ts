/**
 * The flow-steering file: ethtool commands, one per line, that configure the switch's
 * ports as `ethtool -N/-U`, `-X` and `-L` configure NICs.
 *
 *   # comments run from '#' to the end of the line; blank lines are ignored
 *   ethtool -N wan0 flow-type udp4 dst-port 53 action 1     # full ethtool form
 *   [port lan0]                                             # a section for one port:
 *   -X equal 2                                              #   inside it, the word
 *   -N flow-type tcp4 dst-port 80 queue 3 loc 10            #   `ethtool` and the device
 *   ethtool -L lan0 combined 4                              #   name are optional
 *
 * Lines run in order, per port, exactly as the commands would on a NIC (so `-L` before a
 * rule naming a higher queue matters). A line that fails changes nothing and is reported
 * as `file:line:column: <what ethtool prints>`, the column pointing at the word at fault;
 * every line is checked, so all errors come out at once.
 */
import { readFileSync } from 'node:fs';
import { EthtoolError } from './grammar.js';
import { SET_OPTIONS, SteeringControl } from './control.js';
import type { SharedSteering } from './shared.js';

export interface FlowFileError {
  line: number;
  column: number;
  message: string;
}

export class FlowFileErrors extends Error {
  constructor(readonly file: string, readonly errors: FlowFileError[]) {
    super(errors.map((e) => `${file}:${e.line}:${e.column}: ${e.message}`).join('\n'));
  }
}

/** Words that start a command's arguments, so cannot be a device name. */
const NOT_DEVICES = new Set(['flow-type', 'delete', 'rx-flow-hash', 'equal', 'weight', 'hkey', 'default', 'hfunc', 'context', 'start', 'rx', 'tx', 'other', 'combined']);

interface Word {
  text: string;
  col: number;
}

function words(line: string): { words: Word[]; end: number } {
  const hash = line.indexOf('#');
  const body = hash >= 0 ? line.slice(0, hash) : line;
  const out: Word[] = [];
  const re = /\S+/g;
  for (let m = re.exec(body); m; m = re.exec(body)) out.push({ text: m[0], col: m.index + 1 });
  return { words: out, end: body.trimEnd().length + 1 };
}

/**
 * Runs every line of `text` against one SteeringControl per port (ports the file does not
 * name keep the defaults: no rules, RSS with the default key over all queues).
 */
export function applyFlowText(text: string, controls: Map<string, SteeringControl>): { errors: FlowFileError[]; output: string[] } {
  const errors: FlowFileError[] = [];
  const output: string[] = [];
  let section: string | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const { words: w, end } = words(raw);
    if (w.length === 0) return;
    const err = (col: number, message: string) => errors.push({ line, column: col, message });
    const sec = /^\s*\[\s*port\s+(\S+)\s*\]\s*$/.exec(raw.replace(/#.*$/, ''));
    if (sec) {
      if (!controls.has(sec[1])) err(raw.indexOf(sec[1]) + 1, `no port named ${sec[1]} (ports: ${[...controls.keys()].join(', ')})`);
      section = controls.has(sec[1]) ? sec[1] : null;
      return;
    }
    if (w[0].text.startsWith('[')) return err(w[0].col, 'a section header is `[port NAME]`');
    let k = 0;
    if (w[k].text === 'ethtool') k++;
    if (k >= w.length) return err(end, 'missing an option (-N, -U, -X or -L)');
    const opt = w[k++];
    if (!SET_OPTIONS[opt.text]) {
      return err(opt.col, `${opt.text}: only -N/-U (--config-ntuple), -X (--rxfh) and -L (--set-channels) configure a port here`);
    }
    let port = section;
    if (k < w.length && controls.has(w[k].text)) port = w[k++].text;
    else if (k < w.length && section === null && !w[k].text.startsWith('-') && !NOT_DEVICES.has(w[k].text)) {
      return err(w[k].col, `Cannot get device settings: No such device (no port named ${w[k].text})`);
    }
    if (port === null) return err(k < w.length ? w[k].col : end, 'no device: name the port after the option, or put the line in a [port NAME] section');
    const args = w.slice(k);
    try {
      for (const o of controls.get(port)!.exec(opt.text, args.map((a) => a.text))) output.push(`${port}: ${o}`);
    } catch (e) {
      if (!(e instanceof EthtoolError)) throw e;
      const col = e.arg >= 0 && e.arg < args.length ? args[e.arg].col : e.arg < 0 ? opt.col : end;
      err(col, e.message);
    }
  });
  return { errors, output };
}

/** Builds the controls for `portNames` from a flow file; throws FlowFileErrors listing every error. */
export function loadSteeringControls(file: string, portNames: string[], queues: number): Map<string, SteeringControl> {
  const controls = new Map(portNames.map((p) => [p, new SteeringControl(p, queues)]));
  const text = readFileSync(file, 'utf8');
  const { errors } = applyFlowText(text, controls);
  if (errors.length) throw new FlowFileErrors(file, errors);
  return controls;
}

/**
 * What the supervisor hands each device thread (in workerData): the shared steering of
 * every port, compiled from the flow file. Pass each value to `createSteerer` there.
 */
export function loadSteering(file: string, portNames: string[], queues: number): Map<string, SharedSteering> {
  const out = new Map<string, SharedSteering>();
  for (const [p, c] of loadSteeringControls(file, portNames, queues)) out.set(p, c.shared);
  return out;
}


/** The port names a flow file mentions (sections and device words), for checking a file alone. */
export function portsNamedIn(text: string): string[] {
  const out = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const sec = /^\s*\[\s*port\s+(\S+)\s*\]\s*$/.exec(raw.replace(/#.*$/, ''));
    if (sec) {
      out.add(sec[1]);
      continue;
    }
    const w = words(raw).words.map((x) => x.text);
    let k = w[0] === 'ethtool' ? 1 : 0;
    if (!SET_OPTIONS[w[k] ?? '']) continue;
    k++;
    if (k < w.length && !NOT_DEVICES.has(w[k]) && !w[k].startsWith('-')) out.add(w[k]);
  }
  return [...out];
}
