import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import udp from '../../../switch/ports/udp.js';
import type { Port } from '../../../switch/ports/port.js';
import { FakeIO, ethFrame, until } from '../../support/fake-io.js';
import { portOptionIssues } from '../../../switch/ports/options.js';

const open: Port[] = [];
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
  for (const s of sockets.splice(0)) s.close();
});

async function peer(): Promise<{ s: dgram.Socket; port: number; got: Buffer[] }> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { s, port: s.address().port, got };
}

async function start(opts: Record<string, unknown>): Promise<{ port: Port; io: FakeIO; local: number }> {
  const port = udp.create({ name: 'u0', type: 'udp', local: '127.0.0.1:0', ...opts });
  const io = new FakeIO('u0', udp);
  await port.open(io);
  open.push(port);
  const local = Number(String(port.status!().local).split(':')[1]);
  return { port, io, local };
}

function send(s: dgram.Socket, b: Buffer, port: number): Promise<void> {
  return new Promise((r, j) => s.send(b, port, '127.0.0.1', (e) => (e ? j(e) : r())));
}

describe('udp port', () => {
  it('validates its options with messages naming the option', () => {
    expect(udp.validate!({ name: 'u', type: 'udp', local: '127.0.0.1:1' })).toEqual([]);
    expect(udp.validate!({ name: 'u', type: 'udp' })).toEqual([expect.stringMatching(/^local: missing/)]);
    expect(udp.validate!({ name: 'u', type: 'udp', local: '1.2.3.4:99999' })[0]).toMatch(/^local: .*port '99999'/);
    expect(udp.validate!({ name: 'u', type: 'udp', local: 'x:1', remote: 'nohost' })[0]).toMatch(/^remote: .*no port/);
    expect(udp.validate!({ name: 'u', type: 'udp', local: 'x:1', mtu: 20 })[0]).toMatch(/^mtu: 20 is not/);
    expect(portOptionIssues(udp, { name: 'u', type: 'udp', local: 'x:1', colour: 1 })).toEqual(["unknown option 'colour' (udp takes: local, remote, mtu, io, thread)"]);
  });

  it('receives one frame per datagram, byte for byte, with one flush per burst', async () => {
    const { io, local } = await start({});
    const p = await peer();
    const frames = [ethFrame(42, 1), ethFrame(60, 2), ethFrame(1514, 3)];
    for (const f of frames) await send(p.s, f, local);
    await io.waitFrames(3);
    expect(io.frames).toEqual(frames);
    expect(io.get('rx_packets')).toBe(3);
    expect(io.get('rx_dropped')).toBe(0);
    expect(io.flushes).toBeLessThanOrEqual(3);
  });

  it('counts runts and frames over the MTU, and accepts a VLAN-tagged full frame', async () => {
    const { io, local } = await start({ mtu: 1500 });
    const p = await peer();
    const tagged = ethFrame(1518, 4, 0x8100);
    await send(p.s, Buffer.alloc(10), local); // runt
    await send(p.s, Buffer.alloc(0), local); // empty datagram
    await send(p.s, ethFrame(1515, 5), local); // one byte over, untagged
    await send(p.s, ethFrame(1519, 6, 0x8100), local); // one byte over, tagged
    await send(p.s, tagged, local);
    await io.waitFrames(1);
    await until(() => io.get('rx_packets') === 5, 'five datagrams counted');
    expect(io.frames).toEqual([tagged]);
    expect(io.get('rx_runt')).toBe(2);
    expect(io.get('rx_oversize')).toBe(2);
    expect(io.get('rx_dropped')).toBe(4);
  });

  it('learns its peer from the first datagram and sends frames back unchanged', async () => {
    const { port, io, local } = await start({});
    const p = await peer();
    expect(io.transmit(port, ethFrame(64))).toBe(false);
    expect(io.get('tx_no_peer')).toBe(1);
    await send(p.s, ethFrame(60), local);
    await io.waitFrames(1);
    const out = [ethFrame(64, 7), ethFrame(1514, 8)];
    for (const f of out) expect(io.transmit(port, f)).toBe(true);
    await until(() => p.got.length === 2, 'two datagrams at the peer');
    expect(p.got).toEqual(out);
    expect(port.status!().peer).toBe(`127.0.0.1:${p.port}`);
  });

  it('sends to a configured remote and refuses frames over the MTU', async () => {
    const p = await peer();
    const { port, io } = await start({ remote: `127.0.0.1:${p.port}`, mtu: 1000 });
    expect(io.transmit(port, ethFrame(1014, 1))).toBe(true);
    expect(io.transmit(port, ethFrame(1015, 2))).toBe(false);
    expect(io.get('tx_oversize')).toBe(1);
    await until(() => p.got.length === 1, 'one datagram');
    expect(p.got[0]).toEqual(ethFrame(1014, 1));
  });

  it('keeps what it sent intact when the frame area is overwritten right after transmit', async () => {
    const p = await peer();
    const { port, io } = await start({ remote: `127.0.0.1:${p.port}` });
    let sent = 0;
    for (let wave = 0; wave < 20; wave++) {
      // Waves of 50 fit the peer's receive buffer, so every datagram sent arrives.
      for (let i = 0; i < 50; i++) {
        if (io.transmit(port, ethFrame(1000, sent))) sent++;
        io.area.fill(0xee, io.dataOffset(0), io.dataOffset(0) + 1000); // the frame is recycled at once
      }
      await until(() => p.got.length === sent, `${sent} datagrams at the peer`);
    }
    expect(sent).toBe(1000);
    for (let i = 0; i < p.got.length; i++) expect(p.got[i].equals(ethFrame(1000, i))).toBe(true);
    expect(io.get('tx_packets')).toBe(1000);
  });

  it('works over IPv6', async () => {
    const s6 = dgram.createSocket('udp6');
    sockets.push(s6);
    const got: Buffer[] = [];
    s6.on('message', (m) => got.push(m));
    await new Promise<void>((r) => s6.bind(0, '::1', r));
    const port = udp.create({ name: 'u6', type: 'udp', local: '[::1]:0', remote: `[::1]:${s6.address().port}` });
    const io = new FakeIO('u6', udp);
    await port.open(io);
    open.push(port);
    const local = Number(/\]:(\d+)$/.exec(String(port.status!().local))![1]);
    await new Promise<void>((r) => s6.send(ethFrame(80, 1), local, '::1', () => r()));
    await io.waitFrames(1);
    expect(io.frames[0]).toEqual(ethFrame(80, 1));
    expect(io.transmit(port, ethFrame(90, 2))).toBe(true);
    await until(() => got.length === 1, 'a datagram over IPv6');
    expect(got[0]).toEqual(ethFrame(90, 2));
  });

  it('fails to open with a clear message when the address is taken', async () => {
    const p = await peer();
    const port = udp.create({ name: 'u1', type: 'udp', local: `127.0.0.1:${p.port}` });
    await expect(port.open(new FakeIO('u1', udp))).rejects.toThrow(new RegExp(`local: cannot bind 127.0.0.1:${p.port}: .*EADDRINUSE`));
  });

  it('refuses an MTU its frames cannot hold', async () => {
    const port = udp.create({ name: 'u2', type: 'udp', local: '127.0.0.1:0', mtu: 9000 });
    await expect(port.open(new FakeIO('u2', udp))).rejects.toThrow(/mtu 9000 needs frames of up to 9018 bytes .* holds 1792/);
  });
});
