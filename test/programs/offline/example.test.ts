import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWriter } from '../../../lib/pcap/writer.js';
import { PcapReader } from '../../../lib/pcap/reader.js';
import { udpFrame } from '../packets.js';

// The worked example of docs/programs.md, run as the page says.
const root = new URL('../../../', import.meta.url).pathname;
let dir = '';

// The example runs from dist/, which `npm test` builds before the suite.
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'example-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('docs/programs.md worked example (examples/programs/port-filter.ts)', () => {
  it('drops the listed ports and passes the rest, with verdicts in the output', () => {
    const input = path.join(dir, 'in.pcap');
    const w = createWriter(input, { format: 'pcap' });
    const ports = [23, 53, 445, 8080, 23, 445, 9999];
    for (const [i, dport] of ports.entries()) {
      const f = udpFrame({ dport, srcIp: i % 2 ? '2001:db8::1' : '192.0.2.1', dstIp: i % 2 ? '2001:db8::2' : '198.51.100.1' });
      w.write(f, 0, f.length, 1700000000, i);
    }
    w.close();
    const out = path.join(dir, 'out.pcapng');
    const json = JSON.parse(
      execFileSync('node', ['dist/bin/xswitch.js', 'prog', 'run', 'dist/examples/programs/port-filter.js', '--pcap', input, '--param', 'ports=23,445', '--out', out, '--json'], { cwd: root, encoding: 'utf8' }),
    );
    expect(json.verdicts).toMatchObject({ DROP: 4, PASS: 3 });
    const r = PcapReader.open(out);
    const verdicts: number[] = [];
    while (r.next()) verdicts.push(r.record.verdict);
    r.close();
    expect(verdicts).toEqual([1, 2, 1, 2, 1, 1, 2]);
  });
});
