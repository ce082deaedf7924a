/**
 * stream port: Ethernet frames over TCP or a UNIX socket, each preceded by its length as a
 * 4-byte big-endian number — the framing of QEMU `-netdev stream` (and the legacy
 * `-netdev socket,listen=/connect=`).
 *
 *   ports:
 *     - { name: vm1, type: stream, listen: 127.0.0.1:20100 }      # QEMU connects
 *     - { name: vm2, type: stream, connect: /run/vm2.sock }       # QEMU listens
 *
 * listen   host:port or a socket path to accept on. One peer at a time, as QEMU's own
 *          server: a second connection is refused (conn_rejected) while one is up. A stale
 *          socket file nobody listens on is replaced.
 * connect  host:port or a socket path to connect to; on failure or loss it reconnects with
 *          exponential backoff (100 ms doubling to 5 s, reset by a successful connect).
 * mtu      largest L3 packet (default 1500).
 *
 * Bad input: a record whose length exceeds what a frame of the switch can hold means the
 * stream is out of step — the connection is closed with a logged error (rx_bad_length) and
 * the switch runs on (a connecting port reconnects). Lengths within that but under 14 bytes
 * or over the MTU drop that frame only (rx_runt, rx_oversize). A connection that ends in
 * the middle of a record counts rx_truncated.
 * Receive: records are delivered from the socket's chunks in place (net/length-prefix.ts);
 * one io.flush() per chunk. Transmit: batched, one socket.write per burst (net/stream-tx.ts).
 */
import net from 'node:net';
import { existsSync, statSync, unlinkSync } from 'node:fs';
import type { Port, PortConfig, PortIO, PortType } from './port.js';
import type { OptionTypes } from './options.js';
import { isSocketPath, parseHostPort, formatHostPort } from './net/address.js';
import { checkMtu, checkMtuFits, overMtu, DEFAULT_MTU, ETH_HLEN, VLAN_HLEN } from './net/mtu.js';
import { LengthPrefixReader } from './net/length-prefix.js';
import { StreamTx } from './net/stream-tx.js';
import { BurstFlush } from './net/burst.js';
import { RxDrops } from './net/port-counters.js';

const COUNTERS = [
  'rx_runt',
  'rx_oversize',
  'rx_bad_length',
  'rx_truncated',
  'tx_oversize',
  'tx_no_peer',
  'tx_busy',
  'conn_accepted',
  'conn_rejected',
  'conn_lost',
  'connect_failed',
] as const;
const OPTIONS: OptionTypes = { listen: 'string', connect: 'string', mtu: 'integer' };
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;
const CLOSE_GRACE_MS = 1000;

type Endpoint = { path: string } | { host: string; port: number };

function parseEndpoint(text: unknown): Endpoint {
  if (typeof text === 'string' && isSocketPath(text)) return { path: text };
  const a = parseHostPort(text);
  return { host: a.host, port: a.port };
}

function describe(e: Endpoint): string {
  return 'path' in e ? e.path : formatHostPort({ ...e, family: e.host.includes(':') ? 6 : 4 });
}

function validate(config: PortConfig): string[] {
  const out: string[] = [];
  const has = (k: string) => config[k] !== undefined;
  if (has('listen') === has('connect')) out.push('give exactly one of listen (accept a peer) and connect (connect to a peer)');
  for (const k of ['listen', 'connect']) {
    if (!has(k)) continue;
    try {
      const e = parseEndpoint(config[k]);
      if ('port' in e && k === 'connect' && e.port === 0) out.push(`${k}: port 0 cannot be connected to`);
    } catch (e) {
      out.push(`${k}: ${(e as Error).message} (or a UNIX socket path)`);
    }
  }
  const m = checkMtu(config.mtu);
  if (m) out.push(m);
  return out;
}

class StreamPort implements Port {
  private io!: PortIO;
  private readonly mtu: number;
  private maxLen = 0;
  private readonly endpoint: Endpoint;
  private readonly listening: boolean;
  private server: net.Server | null = null;
  private conn: net.Socket | null = null;
  private reader!: LengthPrefixReader;
  private readonly tx = new StreamTx();
  private txBurst!: BurstFlush;
  private drops!: RxDrops;
  private closing = false;
  private backoff = BACKOFF_MIN_MS;
  private retry: NodeJS.Timeout | null = null;
  private createdPath: string | null = null;
  private connectErrorLogged = false;
  private iBadLength = 0;
  private iTruncated = 0;
  private iTxOversize = 0;
  private iTxNoPeer = 0;
  private iTxBusy = 0;
  private iAccepted = 0;
  private iRejected = 0;
  private iLost = 0;
  private iConnectFailed = 0;

  constructor(config: PortConfig) {
    this.mtu = (config.mtu as number | undefined) ?? DEFAULT_MTU;
    this.listening = config.listen !== undefined;
    this.endpoint = parseEndpoint(this.listening ? config.listen : config.connect);
  }

  async open(io: PortIO): Promise<void> {
    this.io = io;
    checkMtuFits(this.mtu, io.maxFrameLength, io.frameSize);
    this.maxLen = Math.min(io.maxFrameLength, this.mtu + ETH_HLEN + VLAN_HLEN);
    this.drops = new RxDrops(io, this.mtu);
    const ix = (n: (typeof COUNTERS)[number]) => io.counterIndex(n);
    this.iBadLength = ix('rx_bad_length');
    this.iTruncated = ix('rx_truncated');
    this.iTxOversize = ix('tx_oversize');
    this.iTxNoPeer = ix('tx_no_peer');
    this.iTxBusy = ix('tx_busy');
    this.iAccepted = ix('conn_accepted');
    this.iRejected = ix('conn_rejected');
    this.iLost = ix('conn_lost');
    this.iConnectFailed = ix('connect_failed');
    // A record longer than a frame of the switch can never be delivered: the stream is garbage.
    this.reader = new LengthPrefixReader(io.maxFrameLength, this.accept);
    this.txBurst = new BurstFlush(() => this.tx.flush());
    if (this.listening) await this.listen();
    else this.connect();
  }

  // ── listen ─────────────────────────────────────────────────────────────────
  private async listen(): Promise<void> {
    const server = net.createServer((s) => this.onIncoming(s));
    const e = this.endpoint;
    const what = `cannot listen on ${describe(e)}`;
    const tryListen = () =>
      new Promise<Error | null>((resolve) => {
        server.once('error', resolve);
        const done = () => {
          server.off('error', resolve);
          resolve(null);
        };
        if ('path' in e) server.listen(e.path, done);
        else server.listen({ host: e.host, port: e.port, exclusive: true }, done);
      });
    let err = await tryListen();
    if (err && 'path' in e && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && (await isStaleSocket(e.path))) {
      unlinkSync(e.path);
      err = await tryListen();
    }
    if (err) throw new Error(`${what}: ${err.message}`);
    if ('path' in e) this.createdPath = e.path;
    server.on('error', (x) => this.io.log('error', `listener error: ${x.message}`));
    this.server = server;
  }

  private onIncoming(s: net.Socket): void {
    if (this.conn !== null || this.closing) {
      this.io.counters[this.iRejected]++;
      this.io.log('warn', `refused a second connection from ${peerName(s)} (one peer at a time)`);
      s.destroy();
      return;
    }
    this.io.counters[this.iAccepted]++;
    this.attach(s);
  }

  // ── connect, with backoff ──────────────────────────────────────────────────
  private connect(): void {
    this.retry = null;
    if (this.closing) return;
    const s = 'path' in this.endpoint ? net.connect(this.endpoint.path) : net.connect(this.endpoint.port, this.endpoint.host);
    const onError = (err: Error) => {
      this.io.counters[this.iConnectFailed]++;
      if (!this.connectErrorLogged) {
        this.connectErrorLogged = true;
        this.io.log('warn', `cannot connect to ${describe(this.endpoint)}: ${err.message} (retrying)`);
      }
      s.destroy();
      this.scheduleReconnect();
    };
    s.once('error', onError);
    s.once('connect', () => {
      s.off('error', onError);
      this.backoff = BACKOFF_MIN_MS;
      this.connectErrorLogged = false;
      this.io.counters[this.iAccepted]++;
      this.attach(s);
    });
  }

  private scheduleReconnect(): void {
    if (this.closing || this.listening || this.retry !== null) return;
    this.retry = setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
  }

  // ── one connection ─────────────────────────────────────────────────────────
  private attach(s: net.Socket): void {
    this.conn = s;
    s.setNoDelay(true);
    this.reader.reset();
    this.tx.attach(s);
    this.io.log('info', `connected to ${peerName(s)}`);
    s.on('data', (chunk: Buffer) => this.onData(s, chunk));
    s.on('error', (err) => this.io.log('warn', `connection error: ${err.message}`));
    s.on('close', () => this.detach(s));
  }

  private detach(s: net.Socket): void {
    if (this.conn !== s) return;
    if (this.reader.midRecord) this.io.counters[this.iTruncated]++;
    this.conn = null;
    this.tx.attach(null);
    if (!this.closing) {
      this.io.counters[this.iLost]++;
      this.io.log('info', `peer ${peerName(s)} disconnected`);
      this.scheduleReconnect();
    }
  }

  private onData(s: net.Socket, chunk: Buffer): void {
    if (this.conn !== s) return;
    const ok = this.reader.feed(chunk, 0, chunk.length);
    this.io.flush();
    if (!ok) {
      this.io.counters[this.iBadLength]++;
      this.io.log(
        'error',
        `${peerName(s)} sent a record length of ${this.reader.badLength} bytes ` +
          `(a frame holds at most ${this.reader.maxLength}): closing the connection`,
      );
      this.reader.reset(); // what was mid-record is garbage, not a truncated frame
      s.destroy();
    }
  }

  private readonly accept = (b: Uint8Array, o: number, len: number): void => {
    if (this.drops.admit(b, o, len)) this.io.receive(b, o, len);
  };

  // ── transmit ───────────────────────────────────────────────────────────────
  transmit(area: Uint8Array, offset: number, length: number): boolean {
    if (!this.tx.connected) {
      this.io.counters[this.iTxNoPeer]++;
      return false;
    }
    if (length > this.maxLen || overMtu(area, offset, length, this.mtu)) {
      this.io.counters[this.iTxOversize]++;
      return false;
    }
    if (!this.tx.append(area, offset, length)) {
      this.io.counters[this.iTxBusy]++;
      return false;
    }
    this.txBurst.schedule();
    return true;
  }

  flushTx(): void {
    this.tx.flush();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.tx.flush();
    const c = this.conn;
    if (c) {
      // Let what is staged reach the peer, but never wait on a peer that stopped reading.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, CLOSE_GRACE_MS);
        c.end(() => (clearTimeout(t), resolve()));
      });
      c.destroy();
    }
    const srv = this.server;
    this.server = null;
    if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
    if (this.createdPath && existsSync(this.createdPath)) unlinkSync(this.createdPath);
  }

  status(): Record<string, unknown> {
    return {
      mode: this.listening ? 'listen' : 'connect',
      endpoint: describe(this.endpoint),
      connected: this.conn !== null,
      peer: this.conn ? peerName(this.conn) : null,
      mtu: this.mtu,
    };
  }
}

function peerName(s: net.Socket): string {
  return s.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : 'a UNIX socket peer';
}

/** True when `path` is a socket file nobody accepts on (left by a process that died). */
function isStaleSocket(path: string): Promise<boolean> {
  try {
    if (!statSync(path).isSocket()) return Promise.resolve(false);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

const stream: PortType = {
  type: 'stream',
  options: OPTIONS,
  counters: COUNTERS,
  validate,
  create: (config) => new StreamPort(config),
};
export default stream;
