/**
 * Test helpers: frames with real headers, captures built byte by byte (independently of
 * the writers under test), temporary folders and the Wireshark tools.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// One CI detection for the whole suite (CI=true or CI=1).
export { inCI } from '../../support/prereq.js';

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function tempDir(): { dir: string; file(name: string): string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'xswitch-pcap-'));
  return { dir, file: (n) => path.join(dir, n), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function checksum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet + IPv4 (valid checksum) + UDP frame of `size` bytes; packet i differs in addresses, ports, payload. */
export function udpFrame(i: number, size = 64): Buffer {
  const b = Buffer.alloc(size);
  b.set([0x02, 0, 0, 0, 0, 0x02], 0);
  b.set([0x02, 0, 0, 0, (i >> 8) & 0xff, i & 0xff], 6);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(size - 14, 16);
  b.writeUInt16BE(i & 0xffff, 18);
  b[22] = 64;
  b[23] = 17;
  b.set([10, 0, (i >> 8) & 0xff, i & 0xff], 26);
  b.set([192, 0, 2, 1 + (i % 200)], 30);
  b.writeUInt16BE(checksum(b, 14, 20), 24);
  b.writeUInt16BE(1024 + (i % 60000), 34);
  b.writeUInt16BE(9000 + (i % 7), 36);
  b.writeUInt16BE(size - 34, 38);
  for (let k = 42; k < size; k++) b[k] = (i * 7 + k) & 0xff;
  return b;
}

export interface RawRecord {
  sec: number;
  /** µs or ns, as the file's magic says. */
  frac: number;
  data: Uint8Array;
  origLen?: number;
}

/** A classic pcap built by hand, in either byte order and either precision. */
export function classicFile(o: { le: boolean; ns: boolean; linkType?: number; snapLen?: number; records: RawRecord[] }): Buffer {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  const u32 = (b: Buffer, v: number, at: number) => (o.le ? b.writeUInt32LE(v >>> 0, at) : b.writeUInt32BE(v >>> 0, at));
  const u16 = (b: Buffer, v: number, at: number) => (o.le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  u32(h, o.ns ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  u16(h, 2, 4);
  u16(h, 4, 6);
  u32(h, o.snapLen ?? 65535, 16);
  u32(h, o.linkType ?? 1, 20);
  parts.push(h);
  for (const r of o.records) {
    const rh = Buffer.alloc(16);
    u32(rh, r.sec, 0);
    u32(rh, r.frac, 4);
    u32(rh, r.data.length, 8);
    u32(rh, r.origLen ?? r.data.length, 12);
    parts.push(rh, Buffer.from(r.data));
  }
  return Buffer.concat(parts);
}

/** pcapng blocks built by hand. */
export class NgBuilder {
  private parts: Buffer[] = [];
  constructor(private le = true) {}

  private u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    return b;
  }
  private u16(v: number): Buffer {
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return b;
  }
  option(code: number, value: Uint8Array): Buffer {
    const pad = Buffer.alloc((4 - (value.length % 4)) % 4);
    return Buffer.concat([this.u16(code), this.u16(value.length), Buffer.from(value), pad]);
  }
  endOfOptions(): Buffer {
    return Buffer.alloc(4);
  }
  block(type: number, body: Buffer): this {
    const pad = Buffer.alloc((4 - (body.length % 4)) % 4);
    const len = 12 + body.length + pad.length;
    this.parts.push(this.u32(type), this.u32(len), body, pad, this.u32(len));
    return this;
  }
  /** A section header; `le` switches the byte order from here on. */
  shb(le = this.le): this {
    this.le = le;
    return this.block(0x0a0d0d0a, Buffer.concat([this.u32(0x1a2b3c4d), this.u16(1), this.u16(0), Buffer.alloc(8, 0xff)]));
  }
  idb(o: { linkType?: number; snapLen?: number; tsresol?: number; tsoffset?: number } = {}): this {
    const opts: Buffer[] = [];
    if (o.tsresol !== undefined) opts.push(this.option(9, Uint8Array.of(o.tsresol)));
    if (o.tsoffset !== undefined) {
      const v = Buffer.alloc(8);
      if (this.le) v.writeBigInt64LE(BigInt(o.tsoffset));
      else v.writeBigInt64BE(BigInt(o.tsoffset));
      opts.push(this.option(14, v));
    }
    if (opts.length) opts.push(this.endOfOptions());
    return this.block(1, Buffer.concat([this.u16(o.linkType ?? 1), this.u16(0), this.u32(o.snapLen ?? 0), ...opts]));
  }
  epb(iface: number, ts: bigint, data: Uint8Array, o: { origLen?: number; options?: Buffer[] } = {}): this {
    const pad = Buffer.alloc((4 - (data.length % 4)) % 4);
    const opts = o.options?.length ? [...o.options, this.endOfOptions()] : [];
    return this.block(
      6,
      Buffer.concat([
        this.u32(iface),
        this.u32(Number(ts >> 32n)),
        this.u32(Number(ts & 0xffffffffn)),
        this.u32(data.length),
        this.u32(o.origLen ?? data.length),
        Buffer.from(data),
        pad,
        ...opts,
      ]),
    );
  }
  spb(data: Uint8Array, origLen = data.length): this {
    return this.block(3, Buffer.concat([this.u32(origLen), Buffer.from(data)]));
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/**
 * Runs a capture tool (dumpcap or tcpdump with `-c N` and a filter on `port`) on lo while
 * sending UDP datagrams carrying `payload` to 127.0.0.1:port until the tool exits.
 */
export async function liveCapture(cmd: string, args: string[], port: number, payload: string): Promise<void> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const sock = createSocket('udp4');
  // Keep sending until the capture has its packets (it may start listening late).
  const timer = setInterval(() => sock.send(Buffer.from(payload), port, '127.0.0.1'), 5);
  const kill = setTimeout(() => child.kill('SIGTERM'), 15_000);
  const code = await done;
  clearInterval(timer);
  clearTimeout(kill);
  sock.close();
  if (code !== 0) throw new Error(`${cmd} exited with ${code}: ${err}`);
}
