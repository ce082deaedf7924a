/**
 * A hostile vhost-user front-end (test/support/vhost-frontend.ts) on one port of a switch
 * whose two other ports serve real QEMU guests pinging each other. Each malformed message,
 * bad memory table or ring outside guest memory gets its clear error (the port's
 * lastRefusal, one vhost_msg_errors, a failure reply where one is due, the connection
 * closed); a descriptor outside every region breaks the device until the front-end stops
 * and restarts its rings. Nothing crashes and the guests never stop answering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONFIG_DEFAULTS } from '../../../switch/config-types.js';
import { Switch, type LogEvent } from '../../../switch/switch.js';
import { close, eventfdCreate } from '../../../lib/native/index.js';
import * as P from '../../../switch/ports/vhost-user/protocol.js';
import { buildGuest, MARK_OK, MARK_UP } from '../../support/guest.js';
import { describeNeeding, missing } from '../../support/prereq.js';
import { Procs, type Proc } from '../../support/procs.js';
import { startVhostGuest } from '../../support/qemu.js';
import { checkAccounted } from '../../support/switch.js';
import { Frontend, RAM_BYTES, RAM_UVA } from '../../support/vhost-frontend.js';
import { expectAccounted } from '../../switch/support.js';

const describePeer = describeNeeding(
  missing({ tools: ['qemu-system-x86_64', 'apt-get', 'apt-cache', 'dpkg-deb', 'cpio', 'gzip'] }),
  'a hostile vhost-user front-end beside QEMU guests',
);

const region = (guestPhys: number, size: number, uva = RAM_UVA + BigInt(guestPhys)) => ({ guestPhys: BigInt(guestPhys), size: BigInt(size), userAddr: uva, mmapOffset: 0n });

describePeer('a hostile vhost-user front-end', () => {
  const procs = new Procs();
  let sw: Switch;
  const logs: string[] = [];
  let dir = '';
  let evil = '';
  let a: Proc;
  let b: Proc;

  beforeAll(async () => {
    const guest = buildGuest();
    dir = mkdtempSync(path.join(tmpdir(), 'xs-vhost-evil-'));
    evil = path.join(dir, 'evil.sock');
    sw = await Switch.start({
      ...CONFIG_DEFAULTS,
      queues: 2,
      ports: [
        { name: 'vm1', type: 'vhost-user', socket: path.join(dir, 'vm1.sock') },
        { name: 'vm2', type: 'vhost-user', socket: path.join(dir, 'vm2.sock') },
        { name: 'evil', type: 'vhost-user', socket: evil },
      ],
      programs: [{ queues: [0, 1], chain: [{ name: 'l2switch', params: {}, continueOn: [] }] }],
    });
    sw.on('log', (e: LogEvent) => logs.push(`${e.level}: ${e.message}`));
    a = startVhostGuest(procs, guest, { socket: path.join(dir, 'vm1.sock'), mac: '52:54:00:00:02:11', ip: '192.0.2.11/24', peer: '192.0.2.12', append: 'xs.tcp=ping' }, 400);
    b = startVhostGuest(procs, guest, { socket: path.join(dir, 'vm2.sock'), mac: '52:54:00:00:02:12', ip: '192.0.2.12/24', peer: '192.0.2.11', append: 'xs.tcp=ping' }, 400);
    await Promise.all([a, b].map((g) => g.waitFor(new RegExp(MARK_UP), 180_000)));
    await Promise.all([a, b].map((g) => g.waitFor(new RegExp(MARK_OK), 120_000)));
  }, 400_000);

  afterAll(async () => {
    await procs.stopAll();
    const summary = await sw.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(checkAccounted(summary)).toEqual([]);
    expectAccounted(sw, summary);
  }, 60_000);

  const replies = (g: Proc) => (g.output().match(/bytes from 192\.0\.2\./g) ?? []).length;

  /** QEMU's opening: features, REPLY_ACK, owner. */
  async function negotiate(fe: Frontend): Promise<void> {
    const offered = await fe.getU64(P.Req.GET_FEATURES);
    fe.send(P.Req.SET_FEATURES, P.u64Payload(offered & ((1n << 32n) | (1n << 30n))));
    await fe.getU64(P.Req.GET_PROTOCOL_FEATURES);
    fe.send(P.Req.SET_PROTOCOL_FEATURES, P.u64Payload(1n << BigInt(P.PROTOCOL_F_REPLY_ACK)));
    await fe.ok(P.Req.SET_OWNER);
  }

  /** Runs `attack` on a fresh connection; expects the connection closed, one more error, and `why` as the refusal. */
  async function refused(attack: (fe: Frontend) => Promise<unknown>, why: RegExp, opts: { ack?: boolean } = {}): Promise<void> {
    const errors = sw.stats().ports.evil.vhost_msg_errors;
    const fe = await Frontend.connect(evil);
    try {
      const r = await attack(fe);
      // With REPLY_ACK negotiated, a refused request is answered 1 (failure) before the close.
      if (opts.ack) expect(r).toBe(1n);
      if (!fe.closed) expect(await fe.reply(5000)).toBe('closed');
    } finally {
      fe.close();
    }
    await until(() => sw.stats().ports.evil.vhost_msg_errors > errors, 5000, 'the refusal to be counted');
    expect(sw.stats().ports.evil.vhost_msg_errors).toBe(errors + 1);
    expect((await sw.portStatus('evil')).lastRefusal).toMatch(why);
    expect((await sw.portStatus('evil')).connected).toBe(false);
  }

  it('refuses malformed messages, each with its clear error', async () => {
    const before = replies(a);
    // Truncated header, then the front-end hangs up.
    await refused(async (fe) => {
      fe.raw(new Uint8Array([1, 0, 0, 0, 1, 0]));
      fe.close();
    }, /closed the connection after 6 of a header's 12 bytes \(truncated message\)/);
    // Truncated payload, and the front-end goes quiet.
    await refused(async (fe) => fe.raw(P.encodeRequest(P.Req.SET_FEATURES, new Uint8Array(8)).subarray(0, 16)), /stopped sending after 4 of SET_FEATURES \(2\)'s 8 payload bytes/);
    // Oversize: refused from the header, the payload is never read.
    await refused(async (fe) => {
      const h = P.encodeRequest(P.Req.SET_FEATURES, new Uint8Array(0));
      new DataView(h.buffer).setUint32(8, 1 << 20, true);
      fe.raw(h);
    }, /payload size 1048576 is above the 4096-byte maximum/);
    await refused(async (fe) => fe.raw(P.encodeRequest(P.Req.GET_FEATURES, new Uint8Array(0), 2)), /version 2 in flags 0x2, expected 1/);
    await refused(async (fe) => {
      await negotiate(fe);
      return fe.acked(99);
    }, /unknown request 99 is not a request this back-end knows/, { ack: true });
    await refused(async (fe) => fe.acked(P.Req.SET_FEATURES, new Uint8Array(3)), /SET_FEATURES \(2\): payload of 3 bytes, expected 8/);
    await refused(async (fe) => {
      await negotiate(fe);
      return fe.acked(P.Req.SET_FEATURES, P.u64Payload(1n << 40n));
    }, /include bits 0x10000000000 that were not offered/, { ack: true });
    await refused(async (fe) => {
      const efd = eventfdCreate();
      fe.send(P.Req.GET_FEATURES, new Uint8Array(0), [efd]);
      close(efd);
    }, /1 file descriptor\(s\) came with a request that takes none/);
    await refused(async (fe) => {
      await negotiate(fe);
      return fe.acked(P.Req.SET_VRING_NUM, P.vringStatePayload({ index: 9, num: 64 }));
    }, /ring index 9 is out of range \(this device has 2 rings: 1 queue pairs\)/, { ack: true });
    await refused(async (fe) => {
      await negotiate(fe);
      return fe.acked(P.Req.SET_VRING_NUM, P.vringStatePayload({ index: 0, num: 100 }));
    }, /ring 0 size 100 is not a power of two in 1\.\.1024/, { ack: true });
    await refused(async (fe) => {
      await negotiate(fe);
      return fe.acked(P.Req.SET_VRING_KICK, P.u64Payload(0n));
    }, /ring 0 kick: expected one file descriptor, 0 came/, { ack: true });
    expect(replies(a)).toBeGreaterThan(before);
  }, 120_000);

  it('refuses bad memory tables and ring addresses outside every region', async () => {
    const { memfdCreate } = await import('../../../lib/native/index.js');
    const table = async (fe: Frontend, regions: ReturnType<typeof region>[], fds: number[]) => {
      await negotiate(fe);
      return fe.acked(P.Req.SET_MEM_TABLE, P.memTablePayload(regions), fds);
    };
    const withRam = async (n: number, f: (fds: number[]) => Promise<unknown>) => {
      const fds = Array.from({ length: n }, () => memfdCreate('xs-evil', RAM_BYTES));
      try {
        return await f(fds);
      } finally {
        for (const fd of fds) close(fd);
      }
    };
    await refused((fe) => withRam(2, (fds) => table(fe, [region(0, RAM_BYTES), region(RAM_BYTES / 2, RAM_BYTES, RAM_UVA + 0x10000000n)], fds)), /regions 0 and 1 overlap in guest-physical memory/, { ack: true });
    await refused((fe) => withRam(2, (fds) => table(fe, [region(0, RAM_BYTES), region(RAM_BYTES, RAM_BYTES, RAM_UVA)], fds)), /regions 0 and 1 overlap in the front-end's address space/, { ack: true });
    await refused((fe) => withRam(1, (fds) => table(fe, [region(0, 0)], fds)), /region 0 \(guest 0x0, size 0x0\) has zero size/, { ack: true });
    await refused((fe) => withRam(1, (fds) => table(fe, [region(0, RAM_BYTES), region(RAM_BYTES, RAM_BYTES)], fds)), /2 regions came with 1 file descriptors \(one per region expected\)/, { ack: true });
    await refused((fe) => withRam(0, () => table(fe, [], [])), /the table has no regions/, { ack: true });
    await refused((fe) => {
      // An eventfd holds no bytes to map.
      const efd = eventfdCreate();
      return table(fe, [region(0, RAM_BYTES)], [efd]).finally(() => close(efd));
    }, /region 0 .* runs past the end of its fd, which holds 0 bytes/, { ack: true });
    await refused((fe) => {
      // A file opened read-only: the kernel refuses a shared writable mapping (EACCES).
      const file = path.join(dir, 'ro');
      writeFileSync(file, new Uint8Array(RAM_BYTES));
      const fd = openSync(file, 'r');
      return table(fe, [region(0, RAM_BYTES)], [fd]).finally(() => closeSync(fd));
    }, /region 0 .*mmap.*EACCES/, { ack: true });
    await refused((fe) => withRam(1, (fds) => table(fe, [region(0x100000000, RAM_BYTES)], fds)), /ends above 4 GiB/, { ack: true });
    // A region longer than its memfd: mapping it would succeed and touching its tail would
    // kill the switch with SIGBUS; refused from the fd's size.
    await refused((fe) => withRam(1, (fds) => table(fe, [region(0, 2 * RAM_BYTES)], fds)), /region 0 .* runs past the end of its fd, which holds 2097152 bytes/, { ack: true });
    // A kick fd that is a memfd, not an eventfd (poll would report it readable forever).
    await refused((fe) => withRam(1, async (fds) => {
      await negotiate(fe);
      return fe.acked(P.Req.SET_VRING_KICK, P.u64Payload(0n), fds);
    }), /ring 0 kick: the file descriptor is not an eventfd/, { ack: true });
    await refused(async (fe) => {
      await negotiate(fe);
      await withRam(1, (fds) => fe.ok(P.Req.SET_MEM_TABLE, P.memTablePayload([region(0, RAM_BYTES)]), fds));
      await fe.ok(P.Req.SET_VRING_NUM, P.vringStatePayload({ index: 0, num: 64 }));
      const outside = RAM_UVA + BigInt(RAM_BYTES) + 0x1000n;
      return fe.acked(P.Req.SET_VRING_ADDR, P.vringAddrPayload({ index: 0, flags: 0, desc: outside, used: RAM_UVA + 0x2000n, avail: RAM_UVA + 0x1000n, log: 0n }));
    }, /ring 0: its descriptor table at front-end address 0x7f0000201000 \(size 64\) is in no memory region/, { ack: true });
  }, 120_000);

  it('a descriptor outside every region breaks the device until its rings are stopped and restarted', async () => {
    const before = replies(b);
    const fe = await Frontend.connect(evil);
    try {
      await fe.setUp();
      const frame = new Uint8Array(60).fill(0xab);
      frame.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 2, 0x99, 0x88, 0xb5]);
      const rx0 = sw.stats().ports.evil.rx_packets;
      fe.sendFrame(frame);
      await until(() => sw.stats().ports.evil.rx_packets === rx0 + 1, 5000, 'the valid frame');
      // A TX descriptor that points past the guest's RAM.
      fe.tx!.addOne(RAM_BYTES + 0x1000, 100, false);
      fe.tx!.publish();
      const { eventfdWrite } = await import('../../../lib/native/index.js');
      eventfdWrite(fe.kick[1], 1);
      await until(() => sw.stats().ports.evil.tx_drop_malformed === 1, 5000, 'tx_drop_malformed');
      const st = await sw.portStatus('evil');
      expect(st.broken).toMatch(/Descriptor address outside guest memory/);
      expect(st.live).toBe(false);
      expect(st.connected).toBe(true); // a guest's fault, not the front-end's: the session stays
      expect(fe.errSignalled(1)).toBe(true);
      expect(sw.stats().ports.evil.needs_reset).toBe(1);
      // Broken: a valid frame is not taken.
      fe.sendFrame(frame, 0x110000);
      await new Promise((r) => setTimeout(r, 300));
      expect(sw.stats().ports.evil.rx_packets).toBe(rx0 + 1);
      // The reset QEMU performs when the guest resets the device: stop both rings, restart them.
      fe.send(P.Req.GET_VRING_BASE, P.vringStatePayload({ index: 0, num: 0 }));
      const r0 = await fe.reply();
      fe.send(P.Req.GET_VRING_BASE, P.vringStatePayload({ index: 1, num: 0 }));
      const r1 = await fe.reply();
      expect(typeof r0 === 'object' && P.readVringState(r0.payload)).toEqual({ index: 0, num: 0 });
      // Ring 1 stopped at the bad chain: as Linux vhost, a chain that fails its checks is not
      // consumed (the guest's reset discards it); this front-end skips it on restart.
      expect(typeof r1 === 'object' && P.readVringState(r1.payload)).toEqual({ index: 1, num: 1 });
      await fe.ok(P.Req.SET_VRING_BASE, P.vringStatePayload({ index: 1, num: 2 }));
      await fe.startRing(0);
      await fe.startRing(1);
      await until(() => sw.stats().ports.evil.rx_packets === rx0 + 2, 5000, 'the frame that waited, after the reset');
      expect((await sw.portStatus('evil')).broken).toBeNull();
    } catch (e) {
      throw new Error(`${(e as Error).message}\nlog:\n${logs.join('\n')}`);
    } finally {
      fe.close();
    }
    await until(() => replies(b) > before + 2, 10_000, 'the guests to keep answering');
    const c = sw.stats().ports;
    for (const n of ['vm1', 'vm2']) {
      expect(c[n].vhost_msg_errors + c[n].tx_drop_malformed + c[n].rx_drop_malformed, `${n} errors`).toBe(0);
      expect(c[n].vhost_disconnects, `${n} disconnects`).toBe(0);
    }
    expect(logs.some((l) => /vhost-user evil: Descriptor address outside guest memory; device broken/.test(l))).toBe(true);
  }, 60_000);
});

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
