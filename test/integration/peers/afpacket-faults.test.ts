/**
 * What goes wrong on a real interface is a counter or a clear error, never a crash: the
 * kernel dropping packets when the ring is full (PACKET_STATISTICS tp_drops → rx_missed),
 * the link going down and coming back, and an interface that does not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomInt } from 'node:crypto';
import { Switch } from '../../../switch/switch.js';
import { CONFIG_DEFAULTS } from '../../../switch/config-types.js';
import { Netns, ip } from '../../support/netns.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { Procs } from '../../support/procs.js';
import { checkAccounted, startBetween } from '../../support/switch.js';
import { vethHost } from '../../support/veth.js';

const describePeer = describeNeeding(missing({ tools: ['ip', 'ping', 'ethtool', 'sysctl'], root: true, netns: true }), 'afpacket faults on veth pairs');
const NODE = process.execPath;

/** argv: host port count. Sends `count` 1000-byte datagrams as fast as the socket takes them. */
const FLOOD = `
const [host, port, n] = process.argv.slice(1);
const s = require('dgram').createSocket('udp4');
const b = Buffer.alloc(1000, 0x5a);
let left = Number(n), pending = 0;
function more() {
  while (left > 0 && pending < 512) { left--; pending++; s.send(b, Number(port), host, () => { pending--; if (left === 0 && pending === 0) s.close(); else more(); }); }
}
more();
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describePeer('afpacket ports: kernel drops, link down and up, a missing interface', () => {
  const ns = new Netns();
  const procs = new Procs();
  const logs: string[] = [];
  const net = randomInt(1, 255);
  const a1 = `10.97.${net}.1`;
  const a2 = `10.97.${net}.2`;
  const s1 = `${ns.prefix}s1`;
  const s2 = `${ns.prefix}s2`;
  const s3 = `${ns.prefix}s3`;
  const a3 = `10.97.${net}.3`;
  const sink = `10.97.${net}.99`;
  let sw: Switch;

  beforeAll(async () => {
    ns.add('h1', 'h2', 'h3');
    vethHost(ns, s1, 'h1', `${a1}/24`);
    vethHost(ns, s2, 'h2', `${a2}/24`);
    vethHost(ns, s3, 'h3', `${a3}/24`);
    // h3 floods a neighbour that does not exist (a static entry), so only p3's ring is stressed.
    ip('-n', ns.name('h3'), 'neigh', 'add', sink, 'lladdr', '02:00:00:00:00:99', 'dev', 'eth0');
    // p3's ring is two 16 KiB blocks that the kernel holds for a whole second: a flood fills it.
    sw = await startBetween(
      [
        { name: 'p1', type: 'afpacket', interface: s1 },
        { name: 'p2', type: 'afpacket', interface: s2 },
      ],
      logs,
      { ports: [
        { name: 'p1', type: 'afpacket', interface: s1 },
        { name: 'p2', type: 'afpacket', interface: s2 },
        { name: 'p3', type: 'afpacket', interface: s3, ring: 'v3', blocks: 2, blockSize: 16384, retireMs: 1000 },
      ] },
    );
  }, 60_000);

  afterAll(async () => {
    await procs.stopAll();
    if (sw) await sw.stop().catch(() => {});
    ns.cleanup();
  });

  const withLogs = (f: () => void | Promise<void>) => async () => {
    try {
      await f();
    } catch (e) {
      throw new Error(`${(e as Error).message}\nswitch log:\n${logs.join('\n')}\nports: ${JSON.stringify(sw.stats().ports)}`);
    }
  };

  it(
    'a full ring: the kernel drops, counted as rx_missed (and rx_dropped), and traffic continues',
    withLogs(async () => {
      ns.exec('h3', NODE, ['-e', FLOOD, sink, '9', '50000'], 60_000);
      await sleep(400); // two statistics reads
      const p3 = sw.stats().ports.p3;
      expect(p3.rx_missed).toBeGreaterThan(0);
      expect(p3.rx_dropped).toBeGreaterThanOrEqual(p3.rx_missed);
      expect(ns.exec('h2', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', a1])).toMatch(/2 received/);
    }),
  );

  it(
    'link down: reported, what is sent to it counted as carrier errors; link up: traffic resumes',
    withLogs(async () => {
      ip('link', 'set', s2, 'down');
      await sleep(300);
      expect((await sw.portStatus('p2')).link).toBe('down');
      expect(() => ns.exec('h1', 'ping', ['-c', '3', '-i', '0.2', '-W', '1', a2])).toThrow(/100% packet loss/);
      expect(sw.stats().ports.p2.tx_carrier_errors).toBeGreaterThan(0);
      ip('link', 'set', s2, 'up');
      const deadline = Date.now() + 10_000;
      while ((await sw.portStatus('p2')).link !== 'up' && Date.now() < deadline) await sleep(50);
      expect(ns.exec('h1', 'ping', ['-c', '3', '-i', '0.2', '-W', '3', a2])).toMatch(/3 received/);
      expect(logs.join('\n')).toMatch(/link down[\s\S]*link up/);
    }),
  );

  it('stops with every packet accounted for', async () => {
    const summary = await sw.stop();
    sw = undefined as unknown as Switch;
    expect(checkAccounted(summary)).toEqual([]);
  });

  it('an interface that does not exist stops the start with a clear error', async () => {
    const config = {
      ...CONFIG_DEFAULTS,
      ports: [
        { name: 'x', type: 'afpacket', interface: `${ns.prefix}nope` },
        { name: 'n', type: 'null' },
      ],
      programs: [],
    };
    await expect(Switch.start(config)).rejects.toThrow(new RegExp(`interface '${ns.prefix}nope' does not exist in this network namespace \\(if_nametoindex .*ENODEV`));
  });
});
