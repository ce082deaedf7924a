import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import vxlan, { writeVxlanHeader } from '../../../switch/ports/vxlan.js';
import type { Port } from '../../../switch/ports/port.js';
import * as native from '../../../lib/native/index.js';
import { FakeIO, ethFrame, until } from '../../support/fake-io.js';
import { freeUdpPort } from '../../support/udp.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function udpSocket(): Promise<{ s: dgram.Socket; port: number; got: { msg: Buffer; port: number }[] }> {
  const s = dgram.createSocket('udp4');
  cleanup.push(() => new Promise<void>((r) => s.close(() => r())));
  const got: { msg: Buffer; port: number }[] = [];
  s.on('message', (msg, rinfo) => got.push({ msg, port: rinfo.port }));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { s, port: s.address().port, got };
}

/** The receive/transmit path under test: each case runs once per `io` choice. */
let ioMode = 'mmsg';

async function vxPort(name: string, opts: Record<string, unknown>): Promise<{ port: Port; io: FakeIO }> {
  const port = vxlan.create({ name, type: 'vxlan', io: ioMode, ...opts });
  const io = new FakeIO(name, vxlan);
  await port.open(io);
  cleanup.push(() => port.close());
  return { port, io };
}

function encap(vni: number, frame: Buffer, flags = 0x08): Buffer {
  const b = Buffer.alloc(8 + frame.length);
  writeVxlanHeader(b, 0, vni);
  b[0] = flags;
  frame.copy(b, 8);
  return b;
}

function send(s: dgram.Socket, b: Buffer, port: number): Promise<void> {
  return new Promise((r, j) => s.send(b, port, '127.0.0.1', (e) => (e ? j(e) : r())));
}

describe.each(['mmsg', 'dgram'])('vxlan port (io: %s)', (mode) => {
  beforeEach(() => {
    ioMode = mode;
  });

  it('reports its io path', async () => {
    const peer = await udpSocket();
    const a = await vxPort('vx1', { local: `127.0.0.1:${await freeUdpPort()}`, remote: `127.0.0.1:${peer.port}`, vni: 1 });
    expect(a.port.status!()).toMatchObject({ io: mode === 'mmsg' ? 'recvmmsg/sendmmsg' : 'node:dgram' });
  });

  it('the ports of one local receive alike: queue workers (SO_REUSEPORT) and a device thread cannot share it', () => {
    const v = (name: string, extra: Record<string, unknown>) => ({ name, type: 'vxlan', local: '10.0.0.1', remote: '10.0.0.2', ...extra });
    expect(vxlan.validate!(v('v', { vni: 1, receive: 'rings' }))).toEqual(["receive: 'rings' is not auto, device or queues"]);
    expect(vxlan.validatePorts!([v('a', { vni: 1 }), v('b', { vni: 2 })])).toEqual([]);
    expect(vxlan.validatePorts!([v('a', { vni: 1, receive: 'device' }), v('b', { vni: 2, receive: 'device' })])).toEqual([]);
    expect(vxlan.validatePorts!([v('a', { vni: 1, receive: 'device' }), v('b', { vni: 2, local: '10.0.0.1:4790' })])).toEqual([]);
    if (native.available()) {
      expect(vxlan.validatePorts!([v('a', { vni: 1 }), v('b', { vni: 2, io: 'dgram' })])).toEqual([
        { port: 1, option: 'receive', message: expect.stringMatching(/^receives on its device thread but port a on 10\.0\.0\.1:4789 receives on the queue workers: .*receive: device/) },
      ]);
    }
  });

  it('validates its options', () => {
    expect(vxlan.validate!({ name: 'v', type: 'vxlan', local: '10.0.0.1', remote: '10.0.0.2', vni: 7, io: 'mmsg' })).toEqual([]);
    expect(vxlan.validate!({ name: 'v', type: 'vxlan', local: '10.0.0.1', remote: '10.0.0.2', vni: 7, io: 'epoll' })).toEqual(["io: 'epoll' is not auto, mmsg or dgram"]);
    expect(vxlan.validate!({ name: 'v', type: 'vxlan', local: '10.0.0.1', remote: '10.0.0.2', vni: 7 })).toEqual([]);
    const bad = vxlan.validate!({ name: 'v', type: 'vxlan', local: '10.0.0.1', vni: 1 << 24, dstport: 0 });
    expect(bad).toEqual([
      expect.stringMatching(/^remote: missing/),
      expect.stringMatching(/^dstport: 0 is not a port/),
      expect.stringMatching(/^vni: 16777216 is not an integer/),
    ]);
  });

  it('shares one socket between VNI ports, demultiplexes by VNI, and counts bad datagrams by kind', async () => {
    const peer = await udpSocket();
    const lp = await freeUdpPort();
    const common = { local: `127.0.0.1:${lp}`, remote: `127.0.0.1:${peer.port}` };
    const a = await vxPort('vx1', { ...common, vni: 1 });
    const b = await vxPort('vx2', { ...common, vni: 2 });
    const c = await vxPort('vx3', { ...common, vni: 0xabcdef });
    expect(a.port.status!()).toMatchObject({ role: 'owner', members: [{ vni: 2, port: 'vx2' }, { vni: 0xabcdef, port: 'vx3' }] });
    expect(b.port.status!()).toMatchObject({ role: 'member', owner: 'vx1' });

    const f1 = ethFrame(60, 1);
    const f2 = ethFrame(1464, 2); // mtu 1450 + 14
    const f3 = ethFrame(100, 3);
    await send(peer.s, encap(1, f1), lp);
    await send(peer.s, encap(2, f2), lp);
    await send(peer.s, encap(0xabcdef, f3), lp);
    await send(peer.s, encap(99, f1), lp); // unknown VNI
    await send(peer.s, encap(2, f1, 0x00), lp); // I flag clear
    await send(peer.s, encap(2, f1, 0x88), lp); // reserved bits set: ignored (RFC 7348)
    await send(peer.s, Buffer.from([8, 0, 0]), lp); // shorter than a header
    await send(peer.s, encap(2, Buffer.alloc(5)), lp); // inner runt
    await send(peer.s, encap(2, ethFrame(1465, 4)), lp); // over the member's MTU
    await a.io.waitFrames(1);
    await b.io.waitFrames(2);
    await c.io.waitFrames(1);
    await until(() => b.io.get('rx_packets') === 4, 'four frames for VNI 2');
    expect(a.io.frames).toEqual([f1]);
    expect(b.io.frames).toEqual([f2, f1]);
    expect(c.io.frames).toEqual([f3]);
    // The owner read the datagrams no VNI port can claim.
    expect(a.io.get('rx_vxlan_unknown_vni')).toBe(1);
    expect(a.io.get('rx_vxlan_bad_flags')).toBe(1);
    expect(a.io.get('rx_vxlan_short')).toBe(1);
    expect(a.io.get('rx_packets')).toBe(4);
    expect(a.io.get('rx_dropped')).toBe(3);
    // Each member counts its own frames, drops included.
    expect(b.io.get('rx_runt')).toBe(1);
    expect(b.io.get('rx_oversize')).toBe(1);
    expect(b.io.get('rx_dropped')).toBe(2);
  });

  it('encapsulates with the I flag and its VNI and sends to the remote dstport, from owner and members', async () => {
    const peer = await udpSocket();
    const lp = await freeUdpPort();
    const common = { local: `127.0.0.1:${lp}`, remote: '127.0.0.1', dstport: peer.port };
    const a = await vxPort('vx1', { ...common, vni: 1 });
    const b = await vxPort('vx2', { ...common, vni: 0x123456 });
    expect(a.io.transmit(a.port, ethFrame(64, 1))).toBe(true);
    expect(b.io.transmit(b.port, ethFrame(1464, 2))).toBe(true);
    expect(b.io.transmit(b.port, ethFrame(1465, 3))).toBe(false);
    expect(b.io.get('tx_oversize')).toBe(1);
    await until(() => peer.got.length === 2, 'two datagrams');
    const byVni = new Map(peer.got.map((g) => [g.msg.readUIntBE(4, 3), g]));
    expect([...byVni.keys()].sort()).toEqual([1, 0x123456]);
    for (const g of peer.got) {
      expect(g.msg.readUInt32BE(0)).toBe(0x08000000);
      expect(g.msg[7]).toBe(0);
    }
    expect(byVni.get(1)!.msg.subarray(8)).toEqual(ethFrame(64, 1));
    expect(byVni.get(1)!.port).toBe(lp); // the owner sends from the shared socket
    expect(byVni.get(0x123456)!.msg.subarray(8)).toEqual(ethFrame(1464, 2));
  });

  it('refuses a second port for the same VNI and keeps the others running', async () => {
    const peer = await udpSocket();
    const lp = await freeUdpPort();
    const common = { local: `127.0.0.1:${lp}`, remote: `127.0.0.1:${peer.port}` };
    const a = await vxPort('vx1', { ...common, vni: 5 });
    const dup = vxlan.create({ name: 'vx9', type: 'vxlan', ...common, vni: 5, io: mode });
    await expect(dup.open(new FakeIO('vx9', vxlan))).rejects.toThrow(/VNI 5 is already port vx1's on 127.0.0.1:\d+ \(one port per VNI\)/);
    await dup.close();
    await send(peer.s, encap(5, ethFrame(60)), lp);
    await a.io.waitFrames(1);
  });

  it('fails with a clear message when another program holds the address', async () => {
    const other = await udpSocket();
    const port = vxlan.create({ name: 'vx1', type: 'vxlan', local: `127.0.0.1:${other.port}`, remote: '127.0.0.1', vni: 1, io: mode });
    await expect(port.open(new FakeIO('vx1', vxlan))).rejects.toThrow(/local 127.0.0.1:\d+ is in use by another program/);
    await port.close();
  }, 10000);

  it('a member counts frames the owner could not hand over (its ring was full)', async () => {
    const peer = await udpSocket();
    const lp = await freeUdpPort();
    const common = { local: `127.0.0.1:${lp}`, remote: `127.0.0.1:${peer.port}` };
    await vxPort('vx1', { ...common, vni: 1 });
    const b = await vxPort('vx2', { ...common, vni: 2 });
    // Stall the member's drain loop, as a busy device thread would, then flood its VNI.
    const member = b.port as unknown as {
      running: boolean;
      pump(): Promise<void>;
      pumpDone: Promise<void>;
      consumer: { doorbell: { ring(): void }; ring: { peek(n: number): number } };
    };
    member.running = false;
    member.consumer.doorbell.ring();
    await member.pumpDone;
    const pkt = encap(2, ethFrame(60));
    // Waves until the ring is full (the kernel may drop some of a wave on a loaded machine), then one more.
    let fullWaves = 0;
    for (let wave = 0; wave < 400 && fullWaves < 2; wave++) {
      for (let i = 0; i < 50; i++) peer.s.send(pkt, lp, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 5));
      if (member.consumer.ring.peek(2048) === 1024) fullWaves++;
    }
    await new Promise((r) => setTimeout(r, 100));
    member.running = true;
    member.pumpDone = member.pump();
    await b.io.waitFrames(1024);
    await until(() => b.io.get('rx_handover_full') > 0, 'handover drops folded into the member');
    expect(b.io.frames.length).toBe(1024);
    expect(b.io.get('rx_packets')).toBe(1024 + b.io.get('rx_handover_full'));
    expect(b.io.get('rx_dropped')).toBe(b.io.get('rx_handover_full'));
  });
});
