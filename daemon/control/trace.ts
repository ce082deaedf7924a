/**
 * `trace` against the live switch: where one packet would go now — the steering of its
 * ingress port (the rule that matched, or RSS hash, indirection entry and queue; flows/
 * traceSteering over the published table), then the program chain of that queue, program
 * by program, with each verdict and where a redirect points.
 *
 * The chain runs here, in the main thread, on a copy of the packet, with the very maps the
 * queues use (as BPF_PROG_TEST_RUN does): a program that updates maps per packet (a rate
 * limiter's bucket, a learning switch's table) updates them for this packet too.
 */
import { frameFromTuple, parseHex, traceSteering } from '../../flows/trace.js';
import { EthtoolError, type SteeringControl } from '../../flows/index.js';
import { instantiateOffline, PacketSlot } from '../../programs/offline/instance.js';
import { REDIRECT_BROADCAST, REDIRECT_CPU, REDIRECT_PORT, REDIRECT_XSK } from '../../programs/context.js';
import { verdictName, XDP_REDIRECT } from '../../programs/verdicts.js';
import type { LoadedProgram } from '../../programs/loader.js';
import type { ProgramRef } from '../../switch/config-types.js';
import { ControlError } from './protocol.js';
import { objectParams } from './handlers.js';
import type { Handler } from './server.js';

export interface TraceTarget {
  controls(): Map<string, SteeringControl>;
  ports(): string[];
  queues(): number;
  chainOf(queue: number): ProgramRef[];
  /** The loaded programs of a chain (the switch's cache: same maps as the queues). */
  load(chain: ProgramRef[]): Promise<LoadedProgram[]>;
}

export function traceHandlers(t: TraceTarget): Record<string, Handler> {
  return {
    trace: async (raw) => {
      const p = objectParams(raw, 'trace');
      const ports = t.ports();
      const port = typeof p.port === 'string' ? p.port : ports[0];
      const control = t.controls().get(port);
      if (!control) throw new ControlError('bad_params', `trace: no port named '${port}' (ports: ${ports.join(', ')})`);
      let bytes: Uint8Array;
      try {
        if (typeof p.hex === 'string') bytes = parseHex(p.hex);
        else if (Array.isArray(p.tuple) && p.tuple.length > 0) bytes = frameFromTuple(p.tuple.map(String));
        else throw new ControlError('bad_params', "trace: give 'hex' (the frame's bytes) or 'tuple' (ethtool words such as udp4 dst-port 53)");
      } catch (e) {
        if (e instanceof EthtoolError || e instanceof Error) throw new ControlError('bad_params', e.message);
        throw e;
      }
      const lines = traceSteering(control, bytes);
      const m = /^queue: (\d+)$/.exec(lines[lines.length - 1]);
      if (!m) return { lines, queue: null, verdict: null };
      const queue = Number(m[1]);
      const chain = t.chainOf(queue);
      const loaded = await t.load(chain);
      const info = ports.map((name, i) => ({ name, ifindex: i + 1 }));
      const slot = new PacketSlot(ports.length);
      slot.load(bytes, ports.indexOf(port) + 1, queue, 0);
      lines.push(`queue ${queue} runs ${chain.map((r) => r.name).join(' → ')}:`);
      let verdict = -1;
      for (let i = 0; i < loaded.length; i++) {
        const inst = await instantiateOffline(loaded[i], { queue, queues: t.queues(), ports: info });
        slot.ctx.redirectKind = 0;
        try {
          verdict = inst.prog(slot.ctx);
        } catch (e) {
          lines.push(`  ${i}: ${loaded[i].name} threw: ${(e as Error).message} → ABORTED`);
          verdict = 0;
          break;
        }
        const goesOn = i < loaded.length - 1 && ((loaded[i].continueMask >>> verdict) & 1) === 1;
        lines.push(`  ${i}: ${loaded[i].name} → ${verdictName(verdict)}${goesOn ? ' (continues)' : ''}`);
        if (!goesOn) break;
      }
      let target = '';
      if (verdict === XDP_REDIRECT) {
        const k = slot.ctx.redirectKind;
        const idx = slot.ctx.redirectIndex;
        target =
          k === REDIRECT_PORT ? ` to port ${ports[idx] ?? `#${idx}`} (ifindex ${idx + 1})`
          : k === REDIRECT_CPU ? ` to queue ${idx}`
          : k === REDIRECT_XSK ? ` to socket ${idx}`
          : k === REDIRECT_BROADCAST ? ` to ports ${ports.filter((_, i) => slot.ctx.broadcastPorts[i] === 1).join(', ')}`
          : '';
      }
      lines.push(`verdict: ${verdictName(verdict)}${target}`);
      return { lines, queue, verdict: verdictName(verdict) };
    },
  };
}
