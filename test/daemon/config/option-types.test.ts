/**
 * Every option of every port type, given a value of a wrong type, is an error at that
 * option's line:column in the configuration file — never coerced, never a silent default.
 * The options come from the port types' own declarations (PortType.options), and the port
 * types from the ports folder, so a new option or port type is walked without editing this.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../daemon/config/index.js';
import { importPortType, knownPortTypes } from '../../../switch/ports/index.js';
import { kindsOf, type OptionKind } from '../../../switch/ports/options.js';

/** Options that make a port of each type valid (the option under test overrides its own). */
const BASE: Record<string, Record<string, string>> = {
  gen: {},
  null: {},
  pcap: { write: 'out.pcap' },
  udp: { local: "'127.0.0.1:20000'" },
  stream: { listen: "'127.0.0.1:20100'" },
  vxlan: { local: '10.0.0.1', remote: '10.0.0.2', vni: '1' },
  virtio: {},
  afpacket: { interface: 'veth0' },
  tap: {},
  'vhost-user': { socket: '/tmp/xs-vhost.sock' },
};

/** Values of each YAML kind, and which declared kinds accept them (this test's own table). */
const VALUES: { yaml: string; acceptedBy: OptionKind[] }[] = [
  { yaml: '"4"', acceptedBy: ['string'] },
  { yaml: '4', acceptedBy: ['integer', 'number'] },
  { yaml: '1.5', acceptedBy: ['number'] },
  { yaml: 'true', acceptedBy: ['boolean'] },
  { yaml: '[1, 2]', acceptedBy: ['integer[]'] },
  { yaml: '{ a: 1 }', acceptedBy: [] },
];

async function issues(yaml: string): Promise<string[]> {
  try {
    await parseConfig(yaml, 'bad.yaml', { loadPrograms: false });
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.line}:${i.column}: ${i.message}`);
    throw e;
  }
}

describe('port options of a wrong type', () => {
  it('every port type has a valid base configuration here', async () => {
    expect(Object.keys(BASE).sort()).toEqual(knownPortTypes().sort());
    for (const type of knownPortTypes()) {
      const lines = Object.entries(BASE[type]).map(([k, v]) => `    ${k}: ${v}\n`).join('');
      expect(await issues(`ports:\n  - name: p0\n    type: "${type}"\n${lines}`)).toEqual([]);
    }
  });

  for (const type of knownPortTypes()) {
    it(`${type}: each option, each wrong kind of value, is reported at the option`, async () => {
      const t = await importPortType(type);
      let walked = 0;
      for (const [key, spec] of Object.entries(t.options)) {
        const kinds = kindsOf(spec);
        for (const v of VALUES) {
          if (v.acceptedBy.some((k) => kinds.includes(k))) continue;
          const base = Object.entries(BASE[type]).filter(([k]) => k !== key);
          // The option under test is on line 4; the base options follow it.
          const yaml = `ports:\n  - name: p0\n    type: "${type}"\n    ${key}: ${v.yaml}\n` + base.map(([k, b]) => `    ${k}: ${b}\n`).join('');
          const column = 5 + key.length + 2;
          const got = await issues(yaml);
          expect(got, `${type}.${key}: ${v.yaml}`).toEqual([expect.stringMatching(new RegExp(`^4:${column}: ports\\[0\\]\\.${key}: must be .*, got `))]);
          walked++;
        }
      }
      expect(walked).toBeGreaterThanOrEqual(Object.keys(t.options).length * 3);
    });
  }

  it('says what it got and what is allowed', async () => {
    expect(await issues('ports:\n  - name: vm0\n    type: virtio\n    queuePairs: "4"\n')).toEqual([
      '4:17: ports[0].queuePairs: must be an integer, got "4" (a string)',
    ]);
    expect(await issues('ports:\n  - name: g\n    type: gen\n    size: [64, "x"]\n')).toEqual([
      '4:11: ports[0].size: must be an integer or a list of integers, got [64,"x"] (a list)',
    ]);
  });
});
