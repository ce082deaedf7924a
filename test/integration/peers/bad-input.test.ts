/**
 * Bad input on a running switch (real device threads): garbage on a udp, a stream and a
 * vxlan port is counted by kind on the port that read it, the stream connection that sent
 * a garbage length is closed, and traffic between the ports flows on afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { CONFIG_DEFAULTS } from '../../../switch/config-types.js';
import { Switch } from '../../../switch/switch.js';
import { forwardProgram, checkAccounted } from '../../support/switch.js';
import { ethFrame, until } from '../../support/fake-io.js';

async function udpSocket(): Promise<{ s: dgram.Socket; port: number; got: Buffer[] }> {
  const s = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { s, port: s.address().port, got };
}

async function freePort(kind: 'udp' | 'tcp'): Promise<number> {
  if (kind === 'udp') {
    const u = await udpSocket();
    await new Promise<void>((r) => u.s.close(() => r()));
    return u.port;
  }
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const p = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return p;
}

function connect(port: number): Promise<{ c: net.Socket; records: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    const records: Buffer[] = [];
    let acc = Buffer.alloc(0);
    c.on('data', (d: Buffer) => {
      acc = Buffer.concat([acc, d]);
      while (acc.length >= 4 && acc.length >= 4 + acc.readUInt32BE(0)) {
        records.push(acc.subarray(4, 4 + acc.readUInt32BE(0)));
        acc = acc.subarray(4 + acc.readUInt32BE(0));
      }
    });
    c.once('connect', () => resolve({ c, records }));
    c.once('error', reject);
  });
}

function record(f: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(f.length);
  return Buffer.concat([h, f]);
}

describe('bad input on a running switch', () => {
  let sw: Switch | null = null;
  const closers: (() => void)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) c();
    if (sw) await sw.stop().catch(() => {});
    sw = null;
  });

  it('is counted by kind on each port and traffic keeps flowing', async () => {
    const peer = await udpSocket();
    const vxPeer = await udpSocket();
    closers.push(() => peer.s.close(), () => vxPeer.s.close());
    const [uPort, vPort, sPort] = [await freePort('udp'), await freePort('udp'), await freePort('tcp')];
    sw = await Switch.start({
      ...CONFIG_DEFAULTS,
      queues: 1,
      ports: [
        { name: 'u', type: 'udp', local: `127.0.0.1:${uPort}`, remote: `127.0.0.1:${peer.port}` },
        { name: 's', type: 'stream', listen: `127.0.0.1:${sPort}` },
        { name: 'v', type: 'vxlan', local: `127.0.0.1:${vPort}`, remote: `127.0.0.1:${vxPeer.port}`, vni: 7 },
      ],
      programs: [{ queues: [0], chain: [forwardProgram('u', 's')] }],
    });
    const logs: string[] = [];
    sw.on('log', (e: { message: string }) => logs.push(e.message));

    // Garbage on every port.
    const bad = connect(sPort);
    const { c: c1 } = await bad;
    closers.push(() => c1.destroy());
    const closed = new Promise<void>((r) => c1.once('close', () => r()));
    c1.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 1, 2, 3]));
    peer.s.send(Buffer.alloc(5), uPort, '127.0.0.1');
    vxPeer.s.send(Buffer.from([8, 0]), vPort, '127.0.0.1');
    vxPeer.s.send(Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 7, 0]), ethFrame(60)]), vPort, '127.0.0.1');
    vxPeer.s.send(Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 8, 0]), ethFrame(60)]), vPort, '127.0.0.1');
    await closed;
    const st = () => sw!.stats().ports;
    await until(() => st().u.rx_runt === 1 && st().v.rx_vxlan_unknown_vni === 1, 'garbage counted');
    expect(st().s.rx_bad_length).toBe(1);
    expect(st().v.rx_vxlan_short).toBe(1);
    expect(st().v.rx_vxlan_bad_flags).toBe(1);
    expect(logs.some((m) => /record length of 2147483647 bytes/.test(m))).toBe(true);

    // Traffic flows afterwards, both ways, on a new stream connection.
    const { c: c2, records } = await connect(sPort);
    closers.push(() => c2.destroy());
    await until(() => st().s.conn_accepted === 2, 'second connection');
    const toS = ethFrame(100, 1);
    peer.s.send(toS, uPort, '127.0.0.1');
    await until(() => records.length >= 1, 'a frame from u at the stream peer');
    expect(records[0]).toEqual(toS);
    const toU = ethFrame(200, 2);
    c2.write(record(toU));
    await until(() => peer.got.length >= 1, 'a frame from s at the udp peer');
    expect(peer.got[0]).toEqual(toU);

    c2.destroy();
    await sw.settled();
    const summary = await sw.stop();
    sw = null;
    expect(checkAccounted(summary)).toEqual([]);
  });

  it('refuses to start with two ports for one VNI, naming both', async () => {
    const lp = await freePort('udp');
    const vx = (name: string) => ({ name, type: 'vxlan', local: `127.0.0.1:${lp}`, remote: '127.0.0.1', vni: 9 });
    const start = Switch.start({
      ...CONFIG_DEFAULTS,
      queues: 1,
      ports: [vx('vxa'), vx('vxb')],
      programs: [{ queues: [0], chain: [forwardProgram('vxa', 'vxb')] }],
    });
    await expect(start).rejects.toThrow(/port vx[ab]: VNI 9 is already port vx[ab]'s on 127\.0\.0\.1:\d+ \(one port per VNI\)/);
  });
});
