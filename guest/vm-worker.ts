/**
 * A VM: one worker thread with its own guest memory, running a virtio-net driver and a
 * guest program. Started by guest/runner.ts; commands (stop, reset, pause/resume RX)
 * arrive through the transport's kCommand word because this thread spends its life in a
 * polling loop or in Atomics.wait, not in its event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GuestMemory } from '../queues/virtqueue-memory.js';
import { RX_BUDGET, VirtioNetDriver, type DriverOptions } from './virtio-net-driver.js';
import { CMD_PAUSE_RX, CMD_RESET, CMD_RESUME_RX, CMD_STOP, GUEST_COUNTERS, GUEST_COUNTER_SLOTS, type GuestEnv, type GuestProgram } from './program.js';
import { macBytes } from '../lib/net/packets.js';
import * as T from '../queues/virtio-transport.js';

export interface VmWorkerData {
  memory: SharedArrayBuffer;
  transport: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  program: string;
  params: Record<string, unknown>;
  driver: DriverOptions;
  /** Reset and bring the device up again when it reports DEVICE_NEEDS_RESET. */
  autoReset: boolean;
}

const IDLE_SPINS = 256;
const WAIT_MS = 5;

const data = workerData as VmWorkerData;
const HALT_ATTEMPTED_POLL = GUEST_COUNTERS.indexOf('halt_attempted_poll');
const HALT_SUCCESSFUL_POLL = GUEST_COUNTERS.indexOf('halt_successful_poll');
const HALT_WAKEUP = GUEST_COUNTERS.indexOf('halt_wakeup');

async function main(): Promise<void> {
  const program = ((await import(data.program)) as { default: GuestProgram }).default;
  const names = [...GUEST_COUNTERS, ...(program.counters ?? [])];
  if (names.length > GUEST_COUNTER_SLOTS) throw new Error(`guest program has too many counters (${names.length} > ${GUEST_COUNTER_SLOTS})`);
  const index = new Map(names.map((n, i) => [n, i]));
  const c = new Float64Array(data.counters);
  const t = new Int32Array(data.transport);
  const nic = new VirtioNetDriver(new GuestMemory(data.memory), data.transport, data.driver);
  nic.init();
  const env: GuestEnv = {
    nic,
    mac: macBytes(nic.mac),
    params: data.params,
    counters: c,
    counterIndex(name) {
      const i = index.get(name);
      if (i === undefined) throw new Error(`guest program has no counter '${name}'`);
      return i;
    },
    send(bytes, offset, length, pair = 0) {
      if (!nic.send(pair % nic.pairs, bytes, offset, length)) {
        c[4]++;
        return false;
      }
      c[2]++;
      c[3] += length;
      return true;
    },
    sendOffload(bytes, offset, length, hdr, pair = 0) {
      if (!nic.sendOffload(pair % nic.pairs, bytes, offset, length, hdr)) {
        c[4]++;
        return false;
      }
      c[2]++;
      c[3] += length;
      return true;
    },
    txFrame(pair = 0) {
      const at = nic.txSlot(pair % nic.pairs);
      if (at < 0) c[4]++;
      return at;
    },
    sendFrame(length, hdr, pair = 0) {
      if (!nic.sendSlot(pair % nic.pairs, length, hdr)) {
        c[4]++;
        return false;
      }
      c[2]++;
      c[3] += length;
      return true;
    },
    log(message) {
      parentPort!.postMessage({ type: 'log', message });
    },
  };
  const onFrame = (bytes: Uint8Array, offset: number, length: number, pair: number) => {
    c[0]++;
    c[1] += length;
    c[6 + pair]++;
    program.receive(env, bytes, offset, length, pair);
  };
  program.start?.(env);
  parentPort!.postMessage({ type: 'ready', names, mac: nic.mac, pairs: nic.pairs, features: [nic.featLo, nic.featHi] });

  let cmdSeq = Atomics.load(t, T.kCommandSeq);
  let idle = 0;
  const spins = data.driver.busyPollSpins ?? IDLE_SPINS;
  // Frames came since the last sleep (the driver then coalesces its next interrupt).
  let busy = false;
  for (;;) {
    // Pairs with the runner's Atomics.add(kCommandSeq) after its kCommand store.
    const seq = Atomics.load(t, T.kCommandSeq);
    if (seq !== cmdSeq) {
      cmdSeq = seq;
      // Pairs with the runner's Atomics.store(kCommand) made before it bumped kCommandSeq.
      const cmd = Atomics.load(t, T.kCommand);
      if (cmd === CMD_STOP) {
        // What the device already delivered is read before the device is reset (a poll
        // takes at most a budget, so the rings may still hold frames here).
        for (let p = 0; p < nic.pairs; p++) nic.receive(p, onFrame);
        break;
      }
      if (cmd === CMD_RESET) {
        nic.reset();
        c[5]++;
        program.start?.(env);
      } else if (cmd === CMD_PAUSE_RX) nic.pauseRx(true);
      else if (cmd === CMD_RESUME_RX) nic.pauseRx(false);
      parentPort!.postMessage({ type: 'ack', seq });
    }
    if (data.autoReset && nic.needsReset()) {
      nic.reset();
      c[5]++;
      program.start?.(env);
    }
    // NAPI: each pair polled with a budget (its buffers reposted as it goes); a pair that
    // used its whole budget is polled again before anything sleeps.
    let n = 0;
    for (let p = 0; p < nic.pairs; p++) n += nic.poll(p, RX_BUDGET, onFrame);
    n += program.tick?.(env, Date.now()) ?? 0;
    nic.flushTx();
    if (n !== 0) {
      idle = 0;
      busy = true;
      continue;
    }
    // Nothing came: busy-poll a little (net.core.busy_poll), then re-enable interrupts,
    // re-check, and sleep (napi_complete_done).
    if (++idle > spins) {
      for (let p = 0; p < nic.pairs; p++) nic.reclaimTx(p);
      nic.wait(WAIT_MS, busy);
      c[HALT_ATTEMPTED_POLL] = nic.haltAttemptedPoll;
      c[HALT_SUCCESSFUL_POLL] = nic.haltSuccessfulPoll;
      c[HALT_WAKEUP] = nic.haltWakeup;
      busy = false;
    }
  }
  // Leave the device quiet: after a reset it touches none of our memory.
  // Pairs with the device's Atomics.store(kAttached) in attach()/detach().
  if (Atomics.load(t, T.kAttached) === 1) nic.writeStatus(0);
  parentPort!.postMessage({ type: 'stopped' });
}

main().catch((e: Error) => {
  parentPort!.postMessage({ type: 'fatal', message: e.message });
  process.exitCode = 1;
});
