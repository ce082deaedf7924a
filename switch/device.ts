/**
 * Device thread: hosts one port. Ingress (the port's poll(), or its socket handlers) and
 * egress (draining the queues' tx rings into port.transmit()) share this thread, so a
 * port never needs a lock.
 *
 *   loop:
 *     ingress on and port polls → bursts of port.poll(budget), flush after each
 *     drain tx rings → port.transmit(); a drain that frees a full ring rings its worker
 *     nothing to do → after tx traffic, busy-poll SPIN_MS (NAPI); then NEEDS_WAKEUP on the
 *                      tx rings and wait on the doorbell without blocking the event loop
 *                      (sockets keep delivering meanwhile)
 *     busy → every few bursts, yield one macrotask so messages and timers run
 *
 * Requests from the supervisor arrive as ordinary messages (this thread has an event loop).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setImmediate as yieldNow } from 'node:timers/promises';
import { DeviceIO } from './device-io.js';
import { DefaultRssSteerer, type Steerer } from '../flows/rss.js';
import type { Port, PortConfig, PortType } from './ports/port.js';
import type { SharedLayout } from './layout.js';

export interface DeviceWorkerData {
  layout: SharedLayout;
  port: number;
  config: PortConfig;
  /** URL of the port type's module (switch/ports/<type>.js or a user module). */
  module: string;
  steering: { module: string; shared: unknown } | null;
  /** Run to completion: the queue workers poll this port's RX queues, so this thread does not poll. */
  rxOnQueues: boolean;
  /** The port type's state shared with its queue sides (PortType.sharedState), or null. */
  shared: SharedArrayBuffer | null;
}

export type DeviceRequest =
  | { type: 'start-ingress'; id: number }
  | { type: 'stop-ingress'; id: number }
  | { type: 'close'; id: number }
  | { type: 'control'; id: number; msg: unknown }
  | { type: 'steering'; id: number; module: string; shared: unknown }
  | { type: 'status'; id: number };

const BURSTS_PER_YIELD = 64;
// After the last work, look again for this long before sleeping (NAPI's busy poll, as the
// queue workers do): while a worker keeps sending, each of its breaths would otherwise find
// this thread asleep and pay a futex wake, and this thread an event-loop turn, per burst
// (measured on the pcap sink: that cost more than writing the packets).
const SPIN_MS = 0.2;
const IDLE_POLL_MS = 1; // a polling port that had nothing (rate limit): look again soon
// Idle, the loop waits for its doorbell: tx rings ring it (NEEDS_WAKEUP), requests and
// socket events run on the event loop meanwhile, and io.flush() adopts steering changes.
// The timeout is a safety net against a lost ring, not a poll: each wake-up of an idle
// thread costs CPU (`npm run bench -- wake`, idle-cpu), so it is rare.
const IDLE_SLEEP_MS = 1000;

const data = workerData as DeviceWorkerData;
const log = (level: 'info' | 'warn' | 'error', message: string) =>
  parentPort!.postMessage({ type: 'log', level, message: `port ${data.config.name}: ${message}` });

async function makeSteerer(s: { module: string; shared: unknown } | null): Promise<Steerer> {
  if (s === null) return new DefaultRssSteerer(data.layout.queues);
  const mod = (await import(s.module)) as { createSteerer(shared: unknown): Steerer };
  return mod.createSteerer(s.shared);
}

async function main(): Promise<void> {
  const type = ((await import(data.module)) as { default: PortType }).default;
  const port: Port = type.create(data.config);
  const io = new DeviceIO(data.layout, data.port, data.config.name, await makeSteerer(data.steering), log, data.shared);
  io.rxOnQueues = data.rxOnQueues;
  // A polling port starts producing only when every port is up (start-ingress): a
  // generator must not fill the tx ring of a port still opening its file.
  let ingress = false;
  let closing = false;
  let finished = false;
  const budget = data.layout.budget;
  // A port whose RX queues the workers poll is not polled here (its rx rings keep one
  // producer), unless its poll serves its control plane too (a VM port: it then receives
  // only from the rings no worker holds, and hands producing over with the rings).
  const polls = port.poll !== undefined && (!data.rxOnQueues || port.pollsBesideQueues === true);

  parentPort!.on('message', async (req: DeviceRequest) => {
    const reply = (ok: boolean, value?: unknown, error?: string) => parentPort!.postMessage({ type: 'reply', id: req.id, ok, value, error });
    try {
      switch (req.type) {
        case 'start-ingress':
          ingress = true;
          io.doorbell.ring(); // wake the loop from its idle wait
          return reply(true);
        case 'stop-ingress':
          ingress = false;
          io.ingressOpen = false;
          io.flush();
          return reply(true);
        case 'close':
          ingress = false;
          closing = true;
          io.doorbell.ring(); // wake the loop so it sees `closing`
          return;
        case 'control':
          if (port.control === undefined) return reply(false, undefined, `port type ${type.type} takes no control requests`);
          return reply(true, await port.control(req.msg));
        case 'steering':
          io.steerer = await makeSteerer({ module: req.module, shared: req.shared });
          return reply(true);
        case 'status':
          return reply(true, { finished, ...(port.status?.() ?? {}) });
      }
    } catch (e) {
      reply(false, undefined, (e as Error).message);
    }
  });

  await port.open(io);
  parentPort!.postMessage({ type: 'ready' });

  let bursts = 0;
  let idleSince = -1;
  let txBusy = false;
  for (;;) {
    let work = 0;
    if (ingress && !finished && polls) {
      for (let b = 0; b < 8; b++) {
        const n = port.poll!(budget);
        io.flush();
        if (n < 0) {
          finished = true;
          parentPort!.postMessage({ type: 'finished' });
          break;
        }
        if (n === 0) break;
        work += n;
      }
    }
    io.steerer.refresh();
    // What the queue sides handed over (a capture buffer to write) counts as work: the loop
    // looks again before it sleeps.
    if (port.service !== undefined) work += port.service();
    const drained = io.drain(port, budget);
    work += drained;
    // Spin after tx traffic only: a paced poll with nothing due sleeps its IDLE_POLL_MS.
    if (drained !== 0) txBusy = true;
    if (closing && io.txPending() === 0) break;
    if (work !== 0) {
      idleSince = -1;
      if (++bursts % BURSTS_PER_YIELD === 0) await yieldNow();
      continue;
    }
    if (txBusy && !closing) {
      const now = performance.now();
      if (idleSince < 0) idleSince = now;
      if (now - idleSince < SPIN_MS) {
        // Sockets and messages still get their turn while we spin.
        if (++bursts % BURSTS_PER_YIELD === 0) await yieldNow();
        continue;
      }
    }
    idleSince = -1;
    txBusy = false;
    // Read the doorbell before the final check (pairs with Doorbell.ring in Ring.submit).
    const seen = io.doorbell.read();
    if (io.prepareSleep() && !closing) {
      const polling = ingress && !finished && polls;
      await io.doorbell.sleepAsync(seen, polling ? IDLE_POLL_MS : IDLE_SLEEP_MS);
    }
    io.endSleep();
  }
  io.flush();
  await port.close();
  parentPort!.postMessage({ type: 'closed' });
}

main().catch((e: Error) => {
  parentPort!.postMessage({ type: 'fatal', message: `port ${data.config.name}: ${e.message}` });
  process.exitCode = 1;
});
