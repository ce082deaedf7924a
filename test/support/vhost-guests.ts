/**
 * What the QEMU-over-vhost-user tests share: waiting for the guests' own markers (booted,
 * pinged, the SHA-256 of a TCP stream), the error context of a failure, and the stop that
 * checks the accounting; and the state a file of them keeps between its hooks (vhostRig).
 */
import { afterEach, beforeAll, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Switch } from '../../switch/switch.js';
import { buildGuest, MARK_ECHO_SHA, MARK_OK, MARK_RX_SHA, MARK_TX_SHA, MARK_UP, type Guest } from './guest.js';
import { Procs, type Proc } from './procs.js';
import { checkAccounted } from './switch.js';
import { expectAccounted } from '../switch/support.js';

/** A TCG guest boots in minutes on a loaded 2-core machine. */
export const BOOT_MS = 180_000;

/** Both guests up and configured; with `pings`, each has had its 3 pings answered. */
export async function guestsUp(guests: Proc[], pings = true): Promise<void> {
  await Promise.all(guests.map((g) => g.waitFor(new RegExp(MARK_UP), BOOT_MS)));
  await Promise.all(guests.map((g) => g.waitFor(new RegExp(`${MARK_OK} ([^\r\n]*)\r?\n`), 120_000)));
  if (pings) await Promise.all(guests.map((g) => g.waitFor(/3 packets transmitted, 3 packets received/, 30_000)));
}

/** The SHA-256 of the stream A sent, of what B received, and of what B echoed back to A. */
export async function streamHashes(a: Proc, b: Proc, rxMs = 300_000): Promise<{ tx: string; rx: string; echo: string }> {
  const tx = (await a.waitFor(new RegExp(`${MARK_TX_SHA} ([0-9a-f]{64})`), 120_000))[1];
  const rx = (await b.waitFor(new RegExp(`${MARK_RX_SHA} ([0-9a-f]{64})`), rxMs))[1];
  const echo = (await a.waitFor(new RegExp(`${MARK_ECHO_SHA} ([0-9a-f]{64})`), 60_000))[1];
  return { tx, rx, echo };
}

/** A failure with the switch's log and port counters and each guest's console tail. */
export function guestContext(e: unknown, logs: string[], sw: Switch | null, guests: Proc[]): Error {
  return new Error(`${(e as Error).message}\nswitch log:\n${logs.join('\n')}\nstats: ${JSON.stringify(sw?.stats().ports)}\n${guests.map((g, i) => `guest ${i} tail:\n${g.output().slice(-2000)}`).join('\n')}`);
}

/** Guests off, switch stopped: every frame back in its pool, every packet in one exit counter. */
export async function stopAccounted(procs: Procs, sw: Switch): Promise<void> {
  await procs.stopAll();
  const summary = await sw.stop();
  expect(checkAccounted(summary)).toEqual([]);
  expectAccounted(sw, summary);
}

/**
 * What a file of two-guest vhost-user tests keeps, with its hooks registered in the calling
 * describe: the guest built once; after each test the guests stopped, a switch the test left
 * running stopped, the sockets' directory removed.
 */
export function vhostRig(prefix: string) {
  const rig = {
    guest: null as unknown as Guest,
    procs: new Procs(),
    sw: null as Switch | null,
    logs: [] as string[],
    dir: '',
    /** A fresh directory for this test's two sockets. */
    sockets(): [string, string] {
      rig.dir = mkdtempSync(path.join(tmpdir(), prefix));
      return [path.join(rig.dir, 'vm1.sock'), path.join(rig.dir, 'vm2.sock')];
    },
    context: (e: unknown, guests: Proc[]): Error => guestContext(e, rig.logs, rig.sw, guests),
    /** Guests off, switch stopped, the accounting checked. */
    async finish(): Promise<void> {
      const s = rig.sw!;
      rig.sw = null;
      await stopAccounted(rig.procs, s);
    },
  };
  beforeAll(() => {
    rig.guest = buildGuest();
  }, 300_000);
  afterEach(async () => {
    await rig.procs.stopAll();
    if (rig.sw) await rig.sw.stop().catch(() => {});
    rig.sw = null;
    rig.logs.length = 0;
    if (rig.dir !== '') rmSync(rig.dir, { recursive: true, force: true });
    rig.dir = '';
  });
  return rig;
}
