import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FlowFileErrors, loadSteering, loadSteeringControls, portsNamedIn } from '../../flows/file.js';
import { createSteerer } from '../../flows/steerer.js';
import { frame } from './frames.js';

const dir = mkdtempSync(path.join(tmpdir(), 'xswitch-flows-'));
const write = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};

describe('flow-steering file', () => {
  it('sections, the full ethtool form, comments and blank lines', () => {
    const f = write('ok.flows', [
      '# two ports',
      '',
      'ethtool -N wan0 flow-type udp4 dst-port 53 action 1   # DNS',
      '[port lan0]',
      '-L combined 2',
      '  -N flow-type tcp4 dst-port 22 action 1',
      'ethtool -U lan0 flow-type tcp4 dst-port 23 action 0',
      '--config-ntuple wan0 delete 2047',
      '-X equal 2',
      '[ port wan0 ]',
      '--set-channels combined 3',
    ].join('\n'));
    const c = loadSteeringControls(f, ['wan0', 'lan0', 'dmz0'], 4);
    expect(c.get('wan0')!.state.rules.size).toBe(0);
    expect(c.get('wan0')!.state.queues).toBe(3);
    expect(c.get('lan0')!.state.rules.size).toBe(2);
    expect(c.get('lan0')!.state.queues).toBe(2);
    expect(c.get('dmz0')!.state.queues).toBe(4); // not named: defaults
    expect(portsNamedIn(readFileSync(f, 'utf8'))).toEqual(['wan0', 'lan0']);
  });

  it('reports every error as file:line:column: ethtool message', () => {
    const f = write('bad.flows', [
      '[port wan0]',
      '-N flow-type udp4 dst-port 99999 action 1',
      'ethtool -X wan0 equal 2 weight 1 1',
      '-N flow-type tcp4 action 9',
      '-K wan0 rx on',
      '   -N flow-type udp4 frob 1 action 1 # comment',
      '[port nowhere]',
      'ethtool -N eth9 flow-type udp4 action 1',
      '[wan0]',
      '[port wan0]',
      '-N flow-type udp4 src-ip 10.1.1 action 1',
      '-N rx-flow-hash tcp4 sdq',
    ].join('\n'));
    let err: FlowFileErrors | undefined;
    try {
      loadSteering(f, ['wan0'], 4);
    } catch (e) {
      err = e as FlowFileErrors;
    }
    expect(err).toBeInstanceOf(FlowFileErrors);
    expect(err!.message.split('\n')).toEqual([
      `${f}:2:28: Invalid dst-port value[99999]`,
      `${f}:3:35: Equal and weight options are mutually exclusive`,
      `${f}:4:1: rmgr: Cannot insert RX class rule: Invalid argument`,
      `${f}:5:1: -K: only -N/-U (--config-ntuple), -X (--rxfh) and -L (--set-channels) configure a port here`,
      `${f}:6:22: Add rule, unrecognized option[frob]`,
      `${f}:7:7: no port named nowhere (ports: wan0)`,
      `${f}:8:12: Cannot get device settings: No such device (no port named eth9)`,
      `${f}:9:1: a section header is \`[port NAME]\``,
      `${f}:11:26: Invalid src-ip value[10.1.1]`,
      `${f}:12:22: ethtool: bad command line argument(s)`,
    ]);
  });

  it('a line outside any section must name its device', () => {
    const f = write('nodev.flows', '-N flow-type udp4 action 1\n');
    expect(() => loadSteering(f, ['wan0'], 4)).toThrow(`${f}:1:4: no device: name the port after the option, or put the line in a [port NAME] section`);
  });

  it('loadSteering gives every port a shared steering the device thread can use', () => {
    const f = write('one.flows', 'ethtool -N p1 flow-type udp4 dst-port 53 action 1\n');
    const m = loadSteering(f, ['p0', 'p1'], 2);
    expect([...m.keys()]).toEqual(['p0', 'p1']);
    const s = createSteerer(structuredClone(m.get('p1')!)); // crosses a thread boundary as is
    const pkt = frame({ ip: 4, proto: 17, dport: 53 });
    expect(s.steer(pkt, 0, pkt.length)).toBe(1);
  });
});
