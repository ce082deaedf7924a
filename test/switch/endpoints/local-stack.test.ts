/**
 * The local stack (XDP_PASS endpoint): ARP and ICMP echo answered for its addresses,
 * UDP handed to a bound socket, everything else counted; every packet in one counter.
 * The test plays the queue worker.
 */
import { describe, expect, it } from 'vitest';
import { LocalStackConfig, openEndpoint } from '../../../switch/endpoints/local-stack.js';
import { XskSocket } from '../../../switch/endpoints/xsk-socket.js';
import { createXskShared } from '../../../switch/endpoints/xsk-shared.js';
import * as P from '../../../lib/net/packets.js';
import { inetChecksum } from '../../programs/packets.js';

const PEER_MAC = P.macBytes('02:00:00:00:00:07');
const PEER_IP = P.ipToU32('192.0.2.7');
const STACK_IP = '192.0.2.1';
const STACK_MAC = '02:00:00:00:00:fe';

describe('local stack', () => {
  it('answers ARP and ping, delivers UDP to the bound socket, counts the rest', () => {
    const cfg = new LocalStackConfig(2, [{ ip: STACK_IP, mac: STACK_MAC }]);
    const sock = createXskShared({ frames: 64, ringSize: 64 });
    cfg.bindUdp(5353, 1, sock);
    expect(() => cfg.bindUdp(5353, 1, sock)).toThrow(/already bound/);
    const app = XskSocket.attach(sock);
    app.refill();
    const q1 = openEndpoint(cfg.perQueue[1]);
    const q0 = openEndpoint(cfg.perQueue[0]);
    const f = new Uint8Array(2048);
    const stackIp = P.ipToU32(STACK_IP);
    const sent: { port: number; b: Uint8Array }[] = [];
    const emit = (src: Uint8Array, off: number, len: number, port: number) => (sent.push({ port, b: src.slice(off, off + len) }), true);

    // ARP who-has 192.0.2.1 → reply from the stack's MAC, out of the ingress port.
    let n = P.writeArp(f, 0, P.ARP_REQUEST, PEER_MAC, PEER_IP, null, stackIp);
    expect(q1.deliver(f, 0, n, 4)).toBe(true);
    // ARP for someone else: not for us.
    n = P.writeArp(f, 0, P.ARP_REQUEST, PEER_MAC, PEER_IP, null, stackIp + 1);
    expect(q1.deliver(f, 0, n, 4)).toBe(false);
    // Ping → echo reply with valid checksums.
    n = P.writeIcmpEcho(f, 0, PEER_MAC, P.macBytes(STACK_MAC), PEER_IP, stackIp, 99, 1, 56);
    expect(q1.deliver(f, 0, n, 4)).toBe(true);
    // UDP to 5353 → the socket on queue 1; on queue 0 nothing is bound.
    n = P.writeUdp(f, 0, PEER_MAC, P.macBytes(STACK_MAC), PEER_IP, stackIp, 1111, 5353, new Uint8Array(20).fill(3));
    expect(q1.deliver(f, 0, n, 4)).toBe(true);
    expect(q0.deliver(f, 0, n, 4)).toBe(false);
    // UDP to an unbound port, a truncated IPv4 header, an IPv6 frame.
    n = P.writeUdp(f, 0, PEER_MAC, P.macBytes(STACK_MAC), PEER_IP, stackIp, 1111, 9, new Uint8Array(4));
    expect(q1.deliver(f, 0, n, 4)).toBe(false);
    expect(q1.deliver(f, 0, 20, 4)).toBe(false);
    P.put16(f, 12, 0x86dd);
    expect(q1.deliver(f, 0, 60, 4)).toBe(false);

    expect(q1.pollTx(64, emit)).toBe(2);
    q1.flush();
    expect(sent.map((s) => s.port)).toEqual([4, 4]);
    const out = new Int32Array(2);
    expect(P.classify(sent[0].b, 0, sent[0].b.length, out)).toBe(P.PKT_ARP_REPLY);
    expect(P.arpSenderIp(sent[0].b, 0)).toBe(stackIp);
    expect(Buffer.from(sent[0].b.subarray(22, 28)).toString('hex')).toBe('0200000000fe');
    expect(Buffer.from(sent[0].b.subarray(0, 6)).equals(Buffer.from(PEER_MAC))).toBe(true);
    expect(P.classify(sent[1].b, 0, sent[1].b.length, out)).toBe(P.PKT_ICMP_ECHO_REPLY);
    expect(P.ipDst(sent[1].b, 0)).toBe(PEER_IP);
    // Checked with the test's own RFC 1071 sum, over the lengths the IP header states.
    const reply = Buffer.from(sent[1].b);
    expect(inetChecksum(reply, 14, 34)).toBe(0);
    expect(inetChecksum(reply, 34, 14 + reply.readUInt16BE(16))).toBe(0);

    const got: number[] = [];
    app.receive(8, (_u, _a, len, port) => got.push(len, port));
    expect(got).toEqual([62, 4]);

    // The app answers through the stack: its TX descriptor names the egress port.
    expect(app.send(f, 0, 60, 2)).toBe(true);
    app.flushTx();
    sent.length = 0;
    expect(q1.pollTx(64, emit)).toBe(1);
    expect(sent[0].port).toBe(2);

    const s = cfg.stats();
    expect(s).toMatchObject({ arp_replied: 1, echo_replied: 1, udp_delivered: 1, udp_no_socket: 2, not_for_us: 2, malformed: 1, replies_sent: 2 });
    // Every delivered packet in exactly one exit counter.
    const exits = s.arp_replied + s.echo_replied + s.udp_delivered + s.udp_socket_drop + s.udp_no_socket + s.not_for_us + s.malformed + s.reply_full;
    expect(exits).toBe(8);
  });

  it('a full reply buffer counts reply_full instead of growing', () => {
    const cfg = new LocalStackConfig(1, [{ ip: STACK_IP, mac: STACK_MAC }]);
    const q = openEndpoint(cfg.perQueue[0]);
    const f = new Uint8Array(64);
    const n = P.writeArp(f, 0, P.ARP_REQUEST, PEER_MAC, PEER_IP, null, P.ipToU32(STACK_IP));
    let ok = 0;
    for (let i = 0; i < 100; i++) if (q.deliver(f, 0, n, 0)) ok++;
    expect(ok).toBe(64);
    expect(cfg.stats().reply_full).toBe(36);
    expect(q.pollTx(1000, () => true)).toBe(64);
  });

  it('rejects bad configuration clearly', () => {
    expect(() => new LocalStackConfig(1, [{ ip: '300.1.1.1', mac: STACK_MAC }])).toThrow(/invalid IPv4/);
    expect(() => new LocalStackConfig(1, [{ ip: STACK_IP, mac: 'nope' }])).toThrow(/invalid MAC/);
    expect(() => new LocalStackConfig(1, []).bindUdp(70000, 0, createXskShared({ frames: 4 }))).toThrow(/out of range/);
    expect(() => openEndpoint({})).toThrow(/LocalStackShared/);
  });
});
