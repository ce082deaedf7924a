/**
 * A VXLAN member port that closes with frames still in its handover ring counts them: every
 * datagram the owner took for its VNI is in its rx_packets (delivered, or rx_dropped with
 * rx_handover_left), so the switch's accounting adds up at stop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import vxlan, { writeVxlanHeader } from '../../../switch/ports/vxlan.js';
import type { Port } from '../../../switch/ports/port.js';
import { FakeIO, ethFrame } from '../../support/fake-io.js';
import { freeUdpPort } from '../../support/udp.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function vxPort(name: string, opts: Record<string, unknown>): Promise<{ port: Port; io: FakeIO }> {
  const port = vxlan.create({ name, type: 'vxlan', ...opts });
  const io = new FakeIO(name, vxlan);
  await port.open(io);
  cleanup.push(() => port.close());
  return { port, io };
}

function encap(vni: number, frame: Buffer): Buffer {
  const b = Buffer.alloc(8 + frame.length);
  writeVxlanHeader(b, 0, vni);
  frame.copy(b, 8);
  return b;
}

/** The owner reads `n` datagrams for `vni` (as its socket handler would) and hands them over. */
function ownerReads(owner: Port, vni: number, n: number): void {
  const o = owner as unknown as { onMessage(msg: Buffer): void; flushRx(): void };
  for (let i = 0; i < n; i++) o.onMessage(encap(vni, ethFrame(60 + (i % 40), i)));
  o.flushRx();
}

async function pair() {
  const lp = await freeUdpPort();
  const common = { local: `127.0.0.1:${lp}`, remote: '127.0.0.1:9' };
  const a = await vxPort('vx1', { ...common, vni: 1 });
  const b = await vxPort('vx2', { ...common, vni: 2 });
  expect(b.port.status!()).toMatchObject({ role: 'member', owner: 'vx1' });
  return { a, b };
}

describe('vxlan member at close', () => {
  it('has the owner let go first and drains what was handed over: every frame counted', async () => {
    const { a, b } = await pair();
    ownerReads(a.port, 2, 100);
    await b.port.close(); // at once: the ring still holds the frames
    expect(b.io.get('rx_packets')).toBe(100);
    expect(b.io.get('rx_packets')).toBe(b.io.frames.length + b.io.get('rx_dropped'));
    // The owner forgot the member: later frames for its VNI are the owner's unknown-VNI drops.
    ownerReads(a.port, 2, 3);
    expect(a.io.get('rx_vxlan_unknown_vni')).toBe(3);
    expect(b.io.get('rx_packets')).toBe(100);
  });

  it('counts frames still in its ring as rx_handover_left when the owner has gone', async () => {
    const { a, b } = await pair();
    ownerReads(a.port, 2, 100);
    // As if the owner had closed first: no leave, the pump stops at once.
    (b.port as unknown as { ownerClosed: boolean }).ownerClosed = true;
    await b.port.close();
    expect(b.io.get('rx_packets')).toBe(100);
    expect(b.io.get('rx_handover_left') + b.io.frames.length).toBe(100);
    expect(b.io.get('rx_handover_left')).toBeGreaterThan(0);
    expect(b.io.get('rx_dropped')).toBe(b.io.get('rx_handover_left'));
  });

  it('an owner that closes first tells its members, which then close without waiting', async () => {
    const { a, b } = await pair();
    await a.port.close();
    await new Promise((r) => setTimeout(r, 50)); // the {closed} message reaches the member
    const t0 = Date.now();
    await b.port.close();
    expect(Date.now() - t0).toBeLessThan(500);
  });
});
