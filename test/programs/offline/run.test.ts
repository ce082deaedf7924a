import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOffline } from '../../../programs/offline/run.js';
import { PcapReader } from '../../../lib/pcap/reader.js';
import { createWriter } from '../../../lib/pcap/writer.js';
import { udpFrame } from '../packets.js';
import { randInt, rng } from '../rng.js';
import { itNeeding, missing } from '../../support/prereq.js';

// Outside CI a missing tshark skips (and says so) the check that needs it; under CI it fails.
const itTshark = itNeeding(missing({ tools: ['tshark'] }), 'prog run: the tshark reading of its pcapng');

const root = new URL('../../../', import.meta.url).pathname;
let dir = '';
let input = '';
const N = 40000;

beforeAll(() => {
  // Workers run dist/, which `npm test` builds before the suite.
  dir = mkdtempSync(path.join(tmpdir(), 'prog-run-'));
  input = path.join(dir, 'in.pcap');
  const w = createWriter(input, { format: 'pcap' });
  const r = rng(21);
  for (let i = 0; i < N; i++) {
    const f = udpFrame({ srcIp: `192.0.2.${randInt(r, 256)}`, dstIp: `10.${randInt(r, 4)}.${randInt(r, 256)}.1`, ttl: 1 + randInt(r, 4), payload: randInt(r, 64) });
    w.write(f, 0, f.length, 1700000000 + Math.floor(i / 1000), (i % 1000) * 1000);
  }
  w.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const router = {
  routes: ['10.0.0.0/8 via 02:00:00:00:0a:0a dev p2', '10.1.0.0/16 via 02:00:00:00:0b:0b dev p3'],
  addresses: ['10.2.0.1'],
};

describe('offline runs (xswitch prog run)', () => {
  it('a parallel run over piscina chunks equals the sequential run, packet for packet', async () => {
    const ports = [1, 2, 3].map((i) => ({ name: `p${i}`, ifindex: i }));
    const seq = await runOffline({ program: 'router', params: router, pcap: input, workers: 1, ports, out: path.join(dir, 'seq.pcapng') });
    const par = await runOffline({ program: 'router', params: router, pcap: input, workers: 4, chunkSize: 3000, ports, out: path.join(dir, 'par.pcapng') });
    expect(par.workers).toBe(4);
    expect(par.chunks).toBe(Math.ceil(N / 3000));
    expect(par.verdicts).toEqual(seq.verdicts);
    expect(par.redirects).toEqual(seq.redirects);
    expect(seq.verdicts.REDIRECT + seq.verdicts.DROP + seq.verdicts.PASS).toBe(N);
    expect(seq.verdicts.DROP).toBeGreaterThan(0);
    // The output files hold the same packets, verdicts and timestamps.
    const a = PcapReader.open(path.join(dir, 'seq.pcapng'));
    const b = PcapReader.open(path.join(dir, 'par.pcapng'));
    let n = 0;
    while (a.next()) {
      expect(b.next()).toBe(true);
      expect(Buffer.compare(a.record.bytes(), b.record.bytes())).toBe(0);
      expect([b.record.verdict, b.record.tsSec, b.record.tsNsec]).toEqual([a.record.verdict, a.record.tsSec, a.record.tsNsec]);
      n++;
    }
    expect(b.next()).toBe(false);
    expect(n).toBe(N);
    a.close();
    b.close();
  });

  it('the CLI prints verdict counts and writes pcapng that tshark reads with verdicts', () => {
    const out = path.join(dir, 'cli.pcapng');
    const params = path.join(dir, 'router.yaml');
    writeFileSync(params, `routes:\n  - 10.0.0.0/8 via 02:00:00:00:0a:0a dev p2\n`);
    const text = execFileSync('node', [path.join(root, 'dist/bin/xswitch.js'), 'prog', 'run', 'router', '--pcap', input, '--out', out, '--params', params, '--param', 'addresses=10.2.0.1', '--workers', '1'], { encoding: 'utf8' });
    expect(text).toMatch(/^Program router on .*: 40000 packets/m);
    expect(text).toMatch(/XDP_REDIRECT\s+\d+/);
    const json = JSON.parse(execFileSync('node', [path.join(root, 'dist/bin/xswitch.js'), 'prog', 'run', 'router', '--pcap', input, '--params', params, '--json'], { encoding: 'utf8' }));
    expect(json.packets).toBe(N);
  });

  itTshark('tshark reads the CLI\'s pcapng with a verdict per packet', () => {
    const out = path.join(dir, 'cli.pcapng');
    expect(existsSync(out)).toBe(true);
    const lines = execFileSync('tshark', ['-r', out, '-c', '20', '-T', 'fields', '-e', 'frame.comment', '-e', 'ip.ttl'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
    expect(lines.length).toBe(20);
    for (const l of lines) expect(l).toMatch(/^XDP_(DROP|PASS|REDIRECT)/);
  });

  it('bad input gives a clear error', async () => {
    const bad = path.join(dir, 'bad.pcap');
    writeFileSync(bad, 'not a capture at all');
    await expect(runOffline({ program: 'router', params: {}, pcap: bad })).rejects.toThrow(/not a pcap or pcapng file/);
    await expect(runOffline({ program: 'nosuch', params: {}, pcap: input })).rejects.toThrow(/no built-in program named 'nosuch'/);
    await expect(runOffline({ program: 'router', params: { bogus: 1 }, pcap: input })).rejects.toThrow(/unknown parameter 'bogus'/);
    const r = spawnSync('node', [path.join(root, 'dist/bin/xswitch.js'), 'prog', 'run', 'ddos', '--pcap', input, '--param', 'rate=fast'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--param rate: 'fast' is not a number/);
  });
});
