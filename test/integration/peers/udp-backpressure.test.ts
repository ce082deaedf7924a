/**
 * The udp port under a slow link: a token-bucket qdisc on a veth makes the kernel hold the
 * port's datagrams until its send buffer is full, so sends go asynchronous (libuv queues
 * them with a pointer to their bytes). The port must send what it staged — not whatever the
 * frame area holds by the time the kernel takes it — and count what it cannot send as
 * tx_busy instead of queueing without bound (node:dgram: what its 256 staging slots cannot
 * hold; sendmmsg: what the kernel's full send buffer refuses).
 *
 *   this process: udp port 10.98.N.1 ──veth (tbf 8 Mbit/s)──▶ <p>-rx: receiver 10.98.N.2:5000
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import udp from '../../../switch/ports/udp.js';
import type { Port } from '../../../switch/ports/port.js';
import { FakeIO, ethFrame, until } from '../../support/fake-io.js';
import { Netns, ip } from '../../support/netns.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { Procs } from '../../support/procs.js';

/** Whether `got` (2 hex digits per frame) is `sent` with some frames left out, order kept. */
function inOrder(got: string, sent: string): boolean {
  let k = 0;
  for (let i = 0; i < got.length; i += 2) {
    while (k < sent.length && sent.slice(k, k + 2) !== got.slice(i, i + 2)) k += 2;
    if (k >= sent.length) return false;
    k += 2;
  }
  return true;
}

/** UDP datagrams the kernel of namespace `ns` dropped for a full receive buffer (/proc/net/snmp RcvbufErrors). */
function rcvbufErrors(ns: string): number {
  const lines = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[names.indexOf('RcvbufErrors')]);
}

const describePeer = describeNeeding(missing({ tools: ['ip', 'tc'], root: true, netns: true }), 'udp port back-pressure over a rate-limited veth');

/**
 * Counts datagrams. Frame i carries seed i & 255 (source MAC byte 11) and payload bytes
 * (offset + seed) & 255, so a frame is intact when every payload byte matches its seed,
 * and the seeds in arrival order (hex) say which frames came and in what order.
 */
const RECEIVER = `
const s = require('dgram').createSocket('udp4');
let got = 0, corrupt = 0, seeds = '';
s.on('message', (m) => {
  got++;
  const seed = m[11];
  let ok = m.length === 1000;
  for (let i = 14; ok && i < m.length; i++) if (m[i] !== ((i + seed) & 255)) ok = false;
  if (!ok) corrupt++;
  seeds += seed.toString(16).padStart(2, '0');
});
s.bind(5000, process.argv[1], () => console.log('ready'));
process.stdin.on('data', () => console.log('got ' + got + ' corrupt ' + corrupt + ' seeds ' + seeds + ' .'));
`;

describePeer('udp port back-pressure', () => {
  const ns = new Netns();
  const procs = new Procs();
  const net = randomInt(1, 255);
  const veth = `${ns.prefix}q`;
  let port: Port | null = null;

  beforeAll(() => {
    ns.add('rx');
    ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name('rx'));
    ip('addr', 'add', `10.98.${net}.1/24`, 'dev', veth);
    ip('link', 'set', veth, 'up');
    ip('-n', ns.name('rx'), 'addr', 'add', `10.98.${net}.2/24`, 'dev', 'eth0');
    ip('-n', ns.name('rx'), 'link', 'set', 'eth0', 'up');
    // A static neighbour: datagrams waiting for ARP would be dropped by the neighbour queue.
    const mac = JSON.parse(ip('-j', '-n', ns.name('rx'), 'link', 'show', 'eth0'))[0].address as string;
    ip('neigh', 'replace', `10.98.${net}.2`, 'lladdr', mac, 'dev', veth, 'nud', 'permanent');
    // 8 Mbit/s with room for 4 MB queued: the socket's send buffer fills before the qdisc drops.
    execFileSync('tc', ['qdisc', 'add', 'dev', veth, 'root', 'tbf', 'rate', '8mbit', 'burst', '16kb', 'limit', '4mb'], { stdio: 'pipe' });
  });

  afterAll(async () => {
    if (port) await port.close();
    await procs.stopAll();
    ns.cleanup();
  });

  it('sends the staged bytes, and counts tx_busy rather than queueing without bound', async () => {
    const rx = procs.start(...ns.argv('rx', process.execPath, ['-e', RECEIVER, `10.98.${net}.2`]));
    await rx.waitFor(/ready/, 10_000);
    port = udp.create({ name: 'slow', type: 'udp', local: `10.98.${net}.1:0`, remote: `10.98.${net}.2:5000` });
    const io = new FakeIO('slow', udp);
    await port.open(io);

    const n = 800;
    // The frames the port accepted, in order: with node:dgram a prefix (then its staging
    // slots are full), with sendmmsg whichever found room in the kernel's send buffer.
    let expected = '';
    for (let i = 0; i < n; i++) {
      const before = io.get('tx_packets');
      io.transmit(port, ethFrame(1000, i & 255));
      if (io.get('tx_packets') > before) expected += (i & 255).toString(16).padStart(2, '0');
      // The device recycles the frame as soon as transmit returns: scribble over it.
      io.area.fill(0xee, io.dataOffset(0), io.dataOffset(0) + 1000);
    }
    const accepted = io.get('tx_packets');
    expect(io.get('tx_busy')).toBeGreaterThan(0);
    expect(accepted + io.get('tx_busy')).toBe(n);
    // 8 Mbit/s drains the accepted frames in well under 5 s.
    let got = 0;
    await until(
      () => {
        rx.child.stdin!.write('?\n');
        const all = [...rx.output().matchAll(/got (\d+) corrupt (\d+) seeds ([0-9a-f]*) \./g)];
        const last = all[all.length - 1];
        if (!last) return false;
        got = Number(last[1]);
        expect(Number(last[2]), 'corrupt frames').toBe(0);
        expect(inOrder(last[3]!, expected), 'the frames accepted, in the order sent').toBe(true);
        // A receiver starved of CPU may overflow its socket buffer: the kernel counts those.
        return got + rcvbufErrors(ns.name('rx')) === accepted;
      },
      `${accepted} datagrams at the receiver (have ${got})`,
      15_000,
    );
  }, 30_000);
});
