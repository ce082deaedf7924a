/**
 * What the QEMU-over-vhost-user tests share: waiting for the guests' own markers (booted,
 * pinged, the SHA-256 of a TCP stream), the error context of a failure, and the stop that
 * checks the accounting.
 */
import { expect } from 'vitest';
import type { Switch } from '../../switch/switch.js';
import { MARK_ECHO_SHA, MARK_OK, MARK_RX_SHA, MARK_TX_SHA, MARK_UP } from './guest.js';
import type { Proc, Procs } from './procs.js';
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
