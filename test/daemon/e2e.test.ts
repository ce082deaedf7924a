/**
 * The daemon end to end: `xswitch run` as a child process, driven by the `xswitch` CLI as
 * a user would — status, stats, flow rules, program replacement, reloads (good and bad),
 * abuse of the control socket under traffic, metrics — then SIGTERM, and the exit summary
 * must account for every packet and every frame.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { itNeeding, missing } from '../support/prereq.js';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { runCli, startDaemon, sleep, type DaemonProc, type Event } from './harness.js';

/** The golden file's text; UPDATE_GOLDEN=1 rewrites it from `actual` (review the diff). */
function golden(name: string, actual?: string): string {
  const f = path.join(import.meta.dirname, 'golden', name);
  if (process.env.UPDATE_GOLDEN === '1' && actual !== undefined) writeFileSync(f, actual);
  return readFileSync(f, 'utf8');
}

// Outside CI a missing tshark skips (and says so) the check that needs it; under CI it fails.
const itTshark = itNeeding(missing({ tools: ['tshark'] }), 'e2e: the tshark reading of a capture');
/** The capture the live-switch test writes, for the tshark test after it. */
let captureFile = '';

let d: DaemonProc | null = null;
afterEach(() => {
  d?.kill();
  d = null;
});

interface Summary extends Event {
  counters: Record<string, number>;
  accounting: Record<string, number>;
}

async function stats(x: DaemonProc): Promise<Record<string, number>> {
  const r = await x.cli(['stats', '--json']);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Record<string, number>;
}

/**
 * A change that stops one counter and not another has taken effect when, over one window,
 * `still` did not move while `moves` did. Waits for such a window (a loaded machine may take
 * longer than any fixed sleep to publish it) and returns its two samples; past the deadline
 * it returns the last window, so the caller's expectations fail with the numbers.
 */
async function quietWindow(x: DaemonProc, still: string, moves: string, windowMs = 300, deadlineMs = 15_000): Promise<[Record<string, number>, Record<string, number>]> {
  const end = Date.now() + deadlineMs;
  let a = await stats(x);
  for (;;) {
    await sleep(windowMs);
    const b = await stats(x);
    if ((b[still] === a[still] && b[moves] > a[moves]) || Date.now() > end) return [a, b];
    a = b;
  }
}

/** Waits until `key` has grown past `from` (the generator may be starved for a while). */
async function grows(x: DaemonProc, key: string, from: number, deadlineMs = 15_000): Promise<Record<string, number>> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const b = await stats(x);
    if (b[key] > from || Date.now() > end) return b;
    await sleep(100);
  }
}

async function stop(x: DaemonProc): Promise<Summary> {
  x.proc.kill('SIGTERM');
  const s = (await x.waitFor((e) => e.event === 'summary')) as Summary;
  expect(await x.exited).toBe(0);
  return s;
}

/** Every frame back in a pool, every packet in exactly one exit counter. */
function expectAccounted(s: Summary): void {
  expect(s.accounting['Unaccounted packets']).toBe(0);
  expect(s.accounting['Frames in flight']).toBe(0);
  expect(s.accounting['Frames queued']).toBe(0);
  expect(s.accounting['Frames doubled']).toBe(0);
  const c = s.counters;
  const queues = Object.keys(c).filter((k) => /^rx\d+_packets$/.test(k)).length;
  let entered = 0;
  let exited = 0;
  for (let q = 0; q < queues; q++) {
    entered += c[`rx${q}_packets`];
    for (const n of ['xdp_drop', 'xdp_aborted', 'xdp_invalid', 'xdp_tx_xmit', 'xdp_tx_full', 'xdp_redirect', 'xdp_redirect_err', 'xdp_pass']) exited += c[`rx${q}_${n}`];
  }
  expect(exited).toBe(entered);
  // What each port read went to a queue or one device drop counter.
  const ports = new Set(Object.keys(c).filter((k) => k.includes('.')).map((k) => k.split('.')[0]));
  let steered = 0;
  for (const p of ports) {
    const g = (n: string) => c[`${p}.${n}`] ?? 0;
    steered += g('rx_packets') - g('rx_no_buffer') - g('rx_ring_full') - g('rx_flow_drop') - g('rx_dropped');
  }
  expect(steered).toBe(entered);
}

const GEN = (extra = '') => `queues: 2
ringSize: 4096
ports:
  - name: gen0
    type: gen
    flows: 64
    rate: 50000${extra}
  - name: out0
    type: "null"
`;

// Each test starts a daemon and runs tens of CLI commands, each a new Node process: on a
// loaded machine that alone can take longer than the default minute.
describe('xswitch run, driven by the CLI', { timeout: 180_000 }, () => {
  it('a port that runs to completion refuses flow rules, saying why; reloading rules onto it is refused too', async () => {
    d = await startDaemon(GEN() + 'programs:\n  - chain:\n      - name: drop\n');
    const r = await d.cli(['flow', 'add', 'gen0', 'flow-type', 'udp4', 'dst-port', '9', 'action', '1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Cannot insert RX class rule: Operation not supported \(port gen0 runs to completion: .*set `thread: device` on the port/);
    expect((await d.cli(['flow', 'list', 'gen0'])).stdout).toMatch(/Total 0 rules/);
  });

  // thread: device: one device thread generates and steers, so rules apply live.
  it('status, stats, flow rules, program replacement, then SIGTERM with everything accounted', async () => {
    d = await startDaemon(GEN('\n    thread: device') + 'programs:\n  - chain:\n      - name: drop\n');
    expect(statSync(d.socket).mode & 0o777).toBe(0o600);
    const st = await d.cli(['status', '--json']);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ queues: 2, ports: [{ name: 'gen0', type: 'gen', ifindex: 1 }, { name: 'out0', type: 'null', ifindex: 2 }] });

    // Counters in ethtool -S form, moving.
    const text = await d.cli(['stats', '--filter', 'rx0_']);
    expect(text.stdout).toMatch(/^NIC statistics:\n {5}rx0_packets: \d+\n {5}rx0_bytes: \d+\n {5}rx0_xdp_drop: \d+\n/);
    const a = await stats(d);
    const b = await grows(d, 'rx_packets', a.rx_packets);
    expect(b.rx_packets).toBeGreaterThan(a.rx_packets);

    // Flow rules: ethtool's words in, ethtool's text out.
    let r = await d.cli(['flow', 'add', 'gen0', 'flow-type', 'udp4', 'dst-port', '9', 'action', '1', 'loc', '7']);
    expect(r).toMatchObject({ code: 0, stdout: '' }); // ethtool prints nothing when given loc
    r = await d.cli(['flow', 'add', 'gen0', 'flow-type', 'tcp4', 'src-ip', '192.0.2.0', 'm', '0.0.0.255', 'action', '-1']);
    expect(r).toMatchObject({ code: 0, stdout: 'Added rule with ID 2047\n' });
    r = await d.cli(['flow', 'list', 'gen0']);
    expect(r.stdout).toBe(golden('flow-list.txt'));
    r = await d.cli(['flow', 'add', 'gen0', 'flow-type', 'udp4', 'dst-port', '9', 'action', '5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^xswitch: /);
    // Rule 7 sends every gen flow (UDP to port 9) to queue 1: queue 0 stops growing.
    const [s1, s2] = await quietWindow(d, 'rx0_packets', 'rx1_packets');
    expect(s2.rx0_packets).toBe(s1.rx0_packets);
    expect(s2.rx1_packets).toBeGreaterThan(s1.rx1_packets);
    r = await d.cli(['flow', 'del', 'gen0', '7']);
    expect(r.code).toBe(0);
    r = await d.cli(['flow', 'del', 'gen0', '7']);
    expect(r).toMatchObject({ code: 1, stderr: 'xswitch: rmgr: Cannot delete RX class rule: No such file or directory\n' });
    expect((await d.cli(['rss', 'show', 'gen0'])).stdout).toBe(golden('rss-show.txt'));
    expect((await d.cli(['channels', 'gen0'])).stdout).toBe(golden('channels.txt'));

    // Replace the program on queue 1 with a redirect to out0 while traffic flows.
    const ctl = await import('../../daemon/control/client.js');
    r = await d.cli(['prog', 'replace', 'redirect', '--queues', '1', '--param', 'port=out0']);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: 'programs replaced (drop on 0; redirect on 1)\n' });
    r = await d.cli(['prog', 'attach', 'pass', '--queues', '0']);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: 'programs replaced (drop→pass on 0; redirect on 1)\n' });
    r = await d.cli(['prog', 'list']);
    expect(r.stdout).toBe('queue 0: drop  [continue on PASS] → pass\nqueue 1: redirect {"port":"out0"}\n');
    const s3 = await grows(d, 'out0.tx_packets', 0);
    expect(s3.rx1_xdp_redirect).toBeGreaterThan(0);
    expect(s3['out0.tx_packets']).toBeGreaterThan(0);
    // A bad replacement is refused with the loader's message; the running chain stays.
    await expect(ctl.requestOnce(d.socket, 'prog.replace', { queues: [0], chain: [{ name: 'redirect', params: { port: 'nowhere' } }] })).rejects.toThrow(
      "programs[0].chain[0].params.port: no port named 'nowhere' (ports: gen0, out0)",
    );

    const sum = await stop(d);
    expectAccounted(sum);
    expect(sum.counters.rx_xdp_drop).toBeGreaterThan(0);
    expect(sum.counters.rx_xdp_redirect).toBeGreaterThan(0);
  });

  it('maps, capture and trace against the live switch', async () => {
    d = await startDaemon(
      GEN() + 'programs:\n  - chain:\n      - name: ddos\n        params: { maxPrefixes: 64, maxSources: 1024 }\n        continueOn: [PASS]\n      - name: redirect\n        params: { port: out0 }\n',
    );
    const x = d;
    const list = await x.cli(['map', 'list']);
    expect(list.stdout).toMatch(/^1: lpm_trie {2}name ddos\/blocklist_v4 {2}flags 0x0\n\tkey 8B {2}value 4B {2}max_entries 64 {2}memlock \d+B\n/);
    // Block 10.0.0.0/8 (the generator's sources): everything is dropped from now on.
    let r = await x.cli(['map', 'update', 'name', 'ddos/blocklist_v4', 'key', '8', '0', '0', '0', '10', '0', '0', '0', 'value', '1', '0', '0', '0']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect((await x.cli(['map', 'dump', 'id', '1'])).stdout).toBe('key: 08 00 00 00 0a 00 00 00  value: 01 00 00 00\nFound 1 element\n');
    expect((await x.cli(['map', 'lookup', 'id', '1', 'key', 'hex', '20', '00', '00', '00', '0a', '01', '02', '03'])).stdout).toBe('key: 20 00 00 00 0a 01 02 03  value: 01 00 00 00\n');
    const [a, b] = await quietWindow(x, 'rx_xdp_redirect', 'rx_xdp_drop');
    expect(b.rx_xdp_redirect).toBe(a.rx_xdp_redirect);
    expect(b.rx_xdp_drop).toBeGreaterThan(a.rx_xdp_drop);

    // 100 packets at the hook, with their verdict.
    const file = path.join(x.dir, 'cap.pcapng');
    r = await x.cli(['capture', '-w', file, '-c', '100', '--verdict', 'DROP']);
    expect(r).toMatchObject({ code: 0, stdout: '100 packets captured\n0 packets dropped by the capture ring\n' });
    captureFile = file; // read by tshark in the next test

    // A filter in ethtool's words: one that matches the generator's flows, one that does not.
    r = await x.cli(['capture', '-w', path.join(x.dir, 'f.pcapng'), '-c', '20', '--filter', 'udp4 dst-port 9']);
    expect(r).toMatchObject({ code: 0, stdout: '20 packets captured\n0 packets dropped by the capture ring\n' });
    const cc = await import('../../daemon/control/client.js');
    await cc.requestOnce(x.socket, 'capture.start', { file: path.join(x.dir, 'none.pcapng'), filter: ['udp4', 'dst-port', '53'] });
    await sleep(300);
    expect(await cc.requestOnce(x.socket, 'capture.stop')).toMatchObject({ packets: 0, done: true });
    await expect(cc.requestOnce(x.socket, 'capture.start', { file: path.join(x.dir, 'bad.pcapng'), filter: ['udp4', 'dst-port', 'x'] })).rejects.toThrow(
      'filter: Invalid dst-port value[x]',
    );

    // Trace: steering, then the chain with the live blocklist.
    const ctl = await import('../../daemon/control/client.js');
    const tuple = ['udp4', 'src-ip', '10.0.0.1', 'dst-ip', '10.1.0.1', 'src-port', '1000', 'dst-port', '9'];
    const t1 = await ctl.requestOnce<{ lines: string[] }>(x.socket, 'trace', { port: 'gen0', tuple });
    expect(t1.lines.join('\n') + '\n').toBe(golden('trace-blocked.txt', t1.lines.join('\n') + '\n'));
    r = await x.cli(['map', 'delete', 'id', '1', 'key', '8', '0', '0', '0', '10', '0', '0', '0']);
    expect(r.code).toBe(0);
    const t2 = await ctl.requestOnce<{ lines: string[] }>(x.socket, 'trace', { port: 'gen0', tuple });
    expect(t2.lines.join('\n') + '\n').toBe(golden('trace-forwarded.txt', t2.lines.join('\n') + '\n'));
    await expect(ctl.requestOnce(x.socket, 'trace', { port: 'gen0', hex: '0200' })).resolves.toBeTruthy();

    expectAccounted(await stop(x));
  });

  itTshark('tshark reads that capture: the interface, the XDP verdict and the source of each packet', () => {
    expect(captureFile).not.toBe('');
    const tshark = spawnSync('tshark', ['-r', captureFile, '-T', 'fields', '-e', 'frame.interface_name', '-e', 'frame.verdict.ebpf_xdp', '-e', 'ip.src'], { encoding: 'utf8' });
    expect(tshark.status, tshark.stderr).toBe(0);
    const rows = tshark.stdout.trim().split('\n');
    expect(rows).toHaveLength(100);
    for (const row of rows) expect(row).toMatch(/^gen0\t1\t10\.\d+\.\d+\.\d+$/);
  });

  it('SIGHUP reload under traffic loses no packet; an invalid new configuration keeps the old one', async () => {
    // Deep rings and a large pool (1.6 s of traffic at 10,000/s) so that a busy machine's
    // scheduling stalls cannot overflow them: any loss left would be the reload's. (At
    // 30,000/s half a second of stall overflowed them on a shared 2-core machine under load.)
    const base = GEN('\n    count: 90000').replace('rate: 50000', 'rate: 10000').replace('ringSize: 4096', 'ringSize: 16384\npoolFrames: 32768');
    d = await startDaemon(base + 'programs:\n  - chain:\n      - name: drop\n');
    await sleep(500);
    // Reload to tx while the generator runs.
    writeFileSync(d.configFile, base + 'programs:\n  - chain:\n      - name: tx\n');
    d.proc.kill('SIGHUP');
    await d.waitLog(/reloaded .*programs replaced \(tx on 0,1\)/);
    // Now an invalid file: rejected with file:line:column, old chain keeps running.
    writeFileSync(d.configFile, base + 'programs:\n  - chain:\n      - name: tx\n        params: { bogus: 1 }\n');
    d.proc.kill('SIGHUP');
    await d.waitLog(new RegExp(`reload rejected, the running configuration stays:\\n${d.configFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:15:26: programs\\[0\\]\\.chain\\[0\\]\\.params\\.bogus: unknown parameter 'bogus'`));
    // A change that needs a restart is refused too.
    writeFileSync(d.configFile, base.replace('queues: 2', 'queues: 3') + 'programs:\n  - chain:\n      - name: drop\n');
    d.proc.kill('SIGHUP');
    await d.waitLog(/queues changed: restart the switch to change it/);
    const status = JSON.parse((await d.cli(['status', '--json'])).stdout) as { programs: { chain: { name: string }[] }[]; reloads: number };
    expect(status.programs[0].chain[0].name).toBe('tx');
    expect(status.reloads).toBe(1);
    // Wait for the generator to finish, then every one of its packets is accounted for.
    for (let i = 0; i < 200; i++) {
      const s = await stats(d);
      if (s['gen0.rx_packets'] === 90000) break;
      await sleep(100);
    }
    const sum = await stop(d);
    expectAccounted(sum);
    const c = sum.counters;
    expect(c['gen0.rx_packets']).toBe(90000);
    // Both programs ran (the reload happened under traffic), and no packet fell between them.
    expect(c.rx_xdp_drop).toBeGreaterThan(0);
    expect(c.rx_xdp_tx_xmit).toBeGreaterThan(0);
    expect(c['gen0.rx_ring_full'] + c['gen0.rx_no_buffer']).toBe(0);
    expect(c.rx_xdp_drop + c.rx_xdp_tx_xmit + c.rx_xdp_tx_full).toBe(90000);
  });

  it('a reload with a changed steering file swaps the rules live; a bad flow file is refused at its line', async () => {
    const yaml = GEN() + 'steering: sw.flows\nprograms:\n  - chain:\n      - name: drop\n';
    // The flow file must exist before the daemon validates the configuration.
    const pre = mkdtempSync(path.join(os.tmpdir(), 'xswitch-flows-'));
    writeFileSync(path.join(pre, 'sw.flows'), 'ethtool -X gen0 equal 1   # everything to queue 0\n');
    d = await startDaemon(yaml.replace('steering: sw.flows', `steering: ${path.join(pre, 'sw.flows')}`));
    const x = d;
    const a = await grows(x, 'rx0_packets', 0);
    expect(a.rx1_packets).toBe(0);
    expect(a.rx0_packets).toBeGreaterThan(0);
    writeFileSync(path.join(pre, 'sw.flows'), 'ethtool -X gen0 equal 1\nethtool -N gen0 flow-type udp4 dst-port 9 action 1 loc 1\n');
    let r = await x.cli(['reload']);
    expect(r).toMatchObject({ code: 0, stdout: `steering reloaded from ${path.join(pre, 'sw.flows')}\n` });
    const [b, c] = await quietWindow(x, 'rx0_packets', 'rx1_packets');
    expect(c.rx0_packets).toBe(b.rx0_packets);
    expect(c.rx1_packets).toBeGreaterThan(b.rx1_packets);
    expect((await x.cli(['flow', 'list', 'gen0', '--rule', '1'])).stdout).toMatch(/^Filter: 1\n\tRule Type: UDP over IPv4\n/);
    // A bad line: refused with the flow file's position, the rules stay.
    writeFileSync(path.join(pre, 'sw.flows'), 'ethtool -X gen0 equal 1\nethtool -N gen0 flow-type udp4 dst-port 99999 action 1\n');
    r = await x.cli(['reload']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`xswitch: ${path.join(pre, 'sw.flows')}:2:41: Invalid dst-port value[99999]\n`);
    expect((await x.cli(['flow', 'list', 'gen0', '--rule', '1'])).code).toBe(0);
    expectAccounted(await stop(x));
  });

  it('keeps switching while its control socket is abused', async () => {
    d = await startDaemon(GEN() + 'programs:\n  - chain:\n      - name: drop\n');
    const x = d;
    const before = await stats(x);
    const conns: net.Socket[] = [];
    const open = () =>
      new Promise<net.Socket>((resolve) => {
        const s = net.connect(x.socket, () => resolve(s));
        s.on('error', () => {});
        conns.push(s);
      });
    // Garbage, an oversized line, a half-close mid-request, silent clients, many clients.
    (await open()).write(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131) & 0xff)));
    (await open()).write('{"id":1,"method":"stats","params":"' + 'x'.repeat(200_000));
    (await open()).end('{"id":1,"met');
    for (let i = 0; i < 10; i++) await open();
    // Many clients at once, each pipelining requests: every one answered, or refused as busy.
    const { ControlClient } = await import('../../daemon/control/client.js');
    const clients = await Promise.all(Array.from({ length: 45 }, () => ControlClient.connect(x.socket)));
    const answers = await Promise.allSettled(clients.flatMap((c) => Array.from({ length: 10 }, () => c.request<{ counters: Record<string, number> }>('stats', { prefix: 'rx_packets' }))));
    for (const a of answers) {
      if (a.status === 'fulfilled') expect(a.value.counters.rx_packets).toBeGreaterThan(0);
      else expect(String(a.reason)).toMatch(/too many control clients/);
    }
    expect(answers.filter((a) => a.status === 'fulfilled').length).toBeGreaterThan(400);
    for (const c of clients) c.close();
    const after = await grows(x, 'rx_packets', before.rx_packets);
    expect(after.rx_packets).toBeGreaterThan(before.rx_packets);
    for (const s of conns) s.destroy();
    expectAccounted(await stop(x));
  });

  it('serves Prometheus metrics on loopback', async () => {
    d = await startDaemon(GEN() + 'metrics: 127.0.0.1:0\nprograms:\n  - chain:\n      - name: drop\n');
    const start = d.events.find((e) => e.event === 'start') as Event & { metrics: string };
    await grows(d, 'gen0.rx_packets', 0);
    const body = await (await fetch(`http://${start.metrics}/metrics`)).text();
    expect(body).toMatch(/^# TYPE xswitch_queue_packets_total counter$/m);
    expect(body).toMatch(/^xswitch_queue_packets_total\{queue="0"\} [1-9]\d*$/m);
    expect(body).toMatch(/^xswitch_port_rx_packets_total\{port="gen0"\} [1-9]\d*$/m);
    expect((await fetch(`http://${start.metrics}/nope`)).status).toBe(404);
    expectAccounted(await stop(d));
  });

  it('--duration stops by itself with the text exit summary', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xswitch-run-'));
    const f = path.join(dir, 'sw.yaml');
    writeFileSync(f, GEN() + 'programs:\n  - chain:\n      - name: drop\n');
    const r = await runCli(['run', '--config', f, '--duration', '1', '--quiet', '--socket', path.join(dir, 'ctl.sock')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Switching on 2 queues: ports gen0 \(gen, ifindex 1\), out0 \(null, ifindex 2\); programs drop on queues 0,1\n/);
    expect(r.stdout).toMatch(/^ {2}Duration {11}: 1\.\ds$/m);
    expect(r.stdout).toMatch(/^ {2}Packets received {3}: [1-9][\d,]*$/m);
    expect(r.stdout).toMatch(/^ {2}Unaccounted packets: 0$/m);
    expect(r.stdout).toMatch(/^ {2}Frames in flight {3}: 0$/m);
    expect(r.stderr).toBe(`xswitch: control socket ${path.join(dir, 'ctl.sock')}\n`);
  });

  it('a second switch on the same socket refuses to start and stops what it started', async () => {
    d = await startDaemon(GEN() + 'programs:\n  - chain:\n      - name: drop\n');
    const r = await runCli(['run', '--config', d.configFile, '--socket', d.socket, '--duration', '5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`xswitch: another xswitch is listening on ${d.socket} (stop it, or pass --socket)\n`);
    // The first one is untouched.
    expect((await d.cli(['status', '--json'])).code).toBe(0);
    expectAccounted(await stop(d));
  });

  it('a bad configuration does not start: file:line:column on stderr, exit status 2', async () => {
    await expect(startDaemon('queues: 0\nports:\n  - name: gen0\n    type: gen\n')).rejects.toThrow(/exited \(2\) before starting:\n.*sw\.yaml:1:9: queues: 0 is too small/);
  });
});
