/**
 * How several vxlan ports (one per VNI, each in its own device thread) share one UDP socket.
 *
 * Linux vxlan devices send every VNI to the same address and dstport, so one socket must
 * receive them all and demultiplex by VNI. The ports meet on a BroadcastChannel named by
 * their local address (every thread of the process can join it):
 *
 *   port A (bind ok → owner)                  port B (EADDRINUSE → member)
 *     listens on the channel                    creates a handover (rings in shared memory)
 *     posts {owner}  ───────────────────────▶   posts {join, vni, handover}  (again on {owner})
 *     registers VNI → HandoverProducer  ◀─────
 *     posts {welcome | reject}  ─────────────▶  starts draining its handover
 *
 *   at close (member)                          posts {leave}; the owner flushes and forgets
 *                                              its handover, answers {left}; what is still
 *                                              in the ring is then the member's to count
 *   at close (owner)                           posts {closed}: no more frames for anyone
 *
 * The bind decides who owns the socket, so no port needs to know the others' configuration.
 * A member that hears no owner within JOIN_TIMEOUT_MS fails to open: the address is held
 * by some other program. Joining happens at open, off the data path.
 */
import { BroadcastChannel } from 'node:worker_threads';
import type { SharedHandover } from './handover.js';

export const JOIN_TIMEOUT_MS = 3000;

const ignore = (): void => {};

export type GroupMessage =
  | { kind: 'owner'; name: string }
  | { kind: 'join'; id: string; name: string; vni: number; handover: SharedHandover }
  | { kind: 'welcome'; id: string; owner: string }
  | { kind: 'reject'; id: string; reason: string }
  | { kind: 'leave'; vni: number; id: string }
  | { kind: 'left'; id: string }
  | { kind: 'closed'; name: string };

/** How long a closing member waits for the owner to let go of its handover ring. */
export const LEAVE_TIMEOUT_MS = 1000;

export function channelName(localKey: string): string {
  return `xswitch:vxlan:${localKey}`;
}

/** Owner side: answers joins; `register` returns an error text to reject, or null. */
export function serveGroup(
  channel: BroadcastChannel,
  ownerName: string,
  register: (vni: number, name: string, id: string, h: SharedHandover) => string | null,
  unregister: (vni: number, id: string) => void,
): void {
  channel.onmessage = (ev: unknown) => {
    const m = (ev as { data: GroupMessage }).data;
    if (m.kind === 'join') {
      const reason = register(m.vni, m.name, m.id, m.handover);
      channel.postMessage(reason === null ? { kind: 'welcome', id: m.id, owner: ownerName } : { kind: 'reject', id: m.id, reason });
    } else if (m.kind === 'leave') {
      unregister(m.vni, m.id);
      channel.postMessage({ kind: 'left', id: m.id } satisfies GroupMessage);
    }
  };
  channel.postMessage({ kind: 'owner', name: ownerName } satisfies GroupMessage);
}

/** Member side: resolves with the owner's port name once welcomed; rejects with a clear message. */
export function joinGroup(
  channel: BroadcastChannel,
  join: { id: string; name: string; vni: number; handover: SharedHandover },
  what: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      channel.onmessage = ignore;
      reject(new Error(`${what} is in use by another program, or by this switch's queue workers (no vxlan port's device thread owns it; the ports of one local address must all receive on the queue workers or all on their device threads: a port with flow-steering rules keeps its device thread, so give them all rules or none, or receive: device)`));
    }, JOIN_TIMEOUT_MS);
    const send = () => channel.postMessage({ kind: 'join', ...join } satisfies GroupMessage);
    channel.onmessage = (ev: unknown) => {
      const m = (ev as { data: GroupMessage }).data;
      if (m.kind === 'owner') send();
      else if (m.kind === 'welcome' && m.id === join.id) {
        clearTimeout(timer);
        channel.onmessage = ignore;
        resolve(m.owner);
      } else if (m.kind === 'reject' && m.id === join.id) {
        clearTimeout(timer);
        channel.onmessage = ignore;
        reject(new Error(m.reason));
      }
    };
    send();
  });
}

/**
 * Member side, at close: asks the owner to stop handing frames over and waits until it has
 * (it answers {left}, or has closed). Resolves true then, false after LEAVE_TIMEOUT_MS
 * without an answer (an owner thread that is gone puts nothing more either).
 */
export function leaveGroup(channel: BroadcastChannel, vni: number, id: string, timeoutMs = LEAVE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      channel.onmessage = ignore;
      resolve(false);
    }, timeoutMs);
    channel.onmessage = (ev: unknown) => {
      const m = (ev as { data: GroupMessage }).data;
      if ((m.kind === 'left' && m.id === id) || m.kind === 'closed') {
        clearTimeout(timer);
        channel.onmessage = ignore;
        resolve(true);
      }
    };
    channel.postMessage({ kind: 'leave', vni, id } satisfies GroupMessage);
  });
}

/** Owner side, at close: tells the members nothing more will be handed over. */
export function closeGroup(channel: BroadcastChannel, ownerName: string): void {
  channel.onmessage = ignore;
  channel.postMessage({ kind: 'closed', name: ownerName } satisfies GroupMessage);
}

/** Member side, between join and close: notes an owner that closes first (no leave needed then). */
export function watchOwner(channel: BroadcastChannel, onClosed: () => void): void {
  channel.onmessage = (ev: unknown) => {
    if ((ev as { data: GroupMessage }).data.kind === 'closed') onClosed();
  };
}
