/**
 * Guest program: a small host. Answers ARP for its address, ICMP echo requests, and UDP on
 * its echo port (sends the payload back); optionally pings a peer and sends it UDP
 * datagrams, counting the answers — what `ping` and an echo client do in a real VM.
 *
 * params: ip (required), echoPort (default 7),
 *         ping: { ip, count, intervalMs = 5 }    ICMP echo requests to a peer
 *         udp:  { ip, port = 7, count, intervalMs = 5, bytes = 32 }   datagrams to a peer
 */
import { defineGuest, type GuestEnv } from '../../guest/program.js';
import * as P from '../../lib/net/packets.js';

interface Peer {
  ip: number;
  mac: Uint8Array | null;
  lastArp: number;
}

const CLIENT_PORT = 40000; // our side of the UDP exchange (never the echo port: no ping-pong)
const out = new Int32Array(2);
const reply = new Uint8Array(2048);
let myIp = 0;
let echoPort = 7;
let ping: { peer: Peer; count: number; interval: number; sent: number; last: number } | null = null;
let udp: { peer: Peer; port: number; count: number; interval: number; sent: number; last: number; payload: Uint8Array } | null = null;
let ci: Record<string, number> = {};

function peer(ip: string): Peer {
  return { ip: P.ipToU32(ip), mac: null, lastArp: 0 };
}

function resolve(env: GuestEnv, p: Peer, now: number): boolean {
  if (p.mac !== null) return true;
  if (now - p.lastArp >= 50) {
    p.lastArp = now;
    const n = P.writeArp(reply, 0, P.ARP_REQUEST, env.mac, myIp, null, p.ip);
    env.send(reply, 0, n);
    env.counters[ci.arp_requests_sent]++;
  }
  return false;
}

export default defineGuest({
  counters: ['arp_answered', 'echo_answered', 'udp_echoed', 'arp_requests_sent', 'arp_replies_rx', 'pings_sent', 'echo_replies_rx', 'udp_sent', 'udp_replies_rx', 'other_rx'],

  start(env) {
    if (typeof env.params.ip !== 'string') throw new Error('responder needs params.ip');
    myIp = P.ipToU32(env.params.ip);
    echoPort = typeof env.params.echoPort === 'number' ? env.params.echoPort : 7;
    ci = {};
    for (const n of this.counters!) ci[n] = env.counterIndex(n);
    const pg = env.params.ping as { ip: string; count: number; intervalMs?: number } | undefined;
    ping = pg ? { peer: peer(pg.ip), count: pg.count, interval: pg.intervalMs ?? 5, sent: 0, last: 0 } : null;
    const u = env.params.udp as { ip: string; port?: number; count: number; intervalMs?: number; bytes?: number } | undefined;
    udp = u
      ? { peer: peer(u.ip), port: u.port ?? 7, count: u.count, interval: u.intervalMs ?? 5, sent: 0, last: 0, payload: Uint8Array.from({ length: u.bytes ?? 32 }, (_, i) => i & 0xff) }
      : null;
  },

  receive(env, b, o, len) {
    const c = env.counters;
    const kind = P.classify(b, o, len, out);
    switch (kind) {
      case P.PKT_ARP_REQUEST:
        if (P.arpTargetIp(b, o) === myIp) {
          env.send(reply, 0, P.arpReply(reply, 0, b, o, env.mac));
          c[ci.arp_answered]++;
        }
        return;
      case P.PKT_ARP_REPLY: {
        const ip = P.arpSenderIp(b, o);
        for (const p of [ping?.peer, udp?.peer]) if (p && p.ip === ip) p.mac = b.slice(o + P.ETH_HLEN + 8, o + P.ETH_HLEN + 14);
        c[ci.arp_replies_rx]++;
        return;
      }
      case P.PKT_ICMP_ECHO_REQUEST:
        if (P.ipDst(b, o) !== myIp) break;
        {
          const n = P.turnAround(reply, 0, b, o, out[0], out[1], env.mac, 1);
          P.icmpEchoReply(reply, 34, out[1]);
          env.send(reply, 0, n);
          c[ci.echo_answered]++;
        }
        return;
      case P.PKT_ICMP_ECHO_REPLY:
        if (P.ipDst(b, o) === myIp) c[ci.echo_replies_rx]++;
        return;
      case P.PKT_UDP:
        if (P.ipDst(b, o) !== myIp) break;
        if (P.be16(b, out[0] + 2) === echoPort) {
          const n = P.turnAround(reply, 0, b, o, out[0], out[1], env.mac, 1);
          P.udpSwapPorts(reply, 34);
          env.send(reply, 0, n);
          c[ci.udp_echoed]++;
        } else if (udp !== null && P.be16(b, out[0] + 2) === CLIENT_PORT && P.be16(b, out[0]) === udp.port) {
          c[ci.udp_replies_rx]++;
        }
        return;
    }
    c[ci.other_rx]++;
  },

  tick(env, now) {
    if (ping !== null && ping.sent < ping.count && now - ping.last >= ping.interval && resolve(env, ping.peer, now)) {
      ping.last = now;
      const n = P.writeIcmpEcho(reply, 0, env.mac, ping.peer.mac!, myIp, ping.peer.ip, 0x1234, ping.sent + 1, 56);
      if (env.send(reply, 0, n)) {
        ping.sent++;
        env.counters[ci.pings_sent]++;
      }
    }
    if (udp !== null && udp.sent < udp.count && now - udp.last >= udp.interval && resolve(env, udp.peer, now)) {
      udp.last = now;
      const n = P.writeUdp(reply, 0, env.mac, udp.peer.mac!, myIp, udp.peer.ip, CLIENT_PORT, udp.port, udp.payload);
      if (env.send(reply, 0, n)) {
        udp.sent++;
        env.counters[ci.udp_sent]++;
      }
    }
  },
});
