/**
 * The configuration file's structure, as one zod schema: the first of the loader's two
 * passes (structure, then meaning — meaning.ts). The same schema produces the published
 * JSON Schema (json-schema.ts), and each field's description is the "what is allowed"
 * half of every error message about it, so the three never drift apart.
 */
import { z } from 'zod';
import { VERDICT_NAMES } from '../../programs/verdicts.js';
import { CONFIG_DEFAULTS } from '../../switch/config-types.js';

/** Linux interface names are at most 15 characters (IFNAMSIZ − 1); ports follow suit. */
export const PORT_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/;
/** Programs chained on one queue: libxdp's dispatcher takes up to 10. */
export const MAX_CHAIN = 10;
export const MAX_QUEUES = 64;

const powerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

const port = z
  .looseObject({
    name: z.string().regex(PORT_NAME).describe("a port name: a letter, then up to 14 letters, digits, '_', '.', '-'"),
    type: z.string().regex(/^[a-z][a-z0-9-]*$/).describe('a port type: gen, null, pcap, udp, stream, vxlan, virtio, vhost-user, afpacket, tap'),
  })
  .describe('a port, a map: name, type, then the options of its type');

const programRef = z
  .strictObject({
    name: z.string().min(1).describe('a built-in program (drop, pass, tx, redirect, …) or a module path relative to this file'),
    params: z.record(z.string(), z.unknown()).default({}).describe("the program's parameters, a map"),
    continueOn: z
      .array(z.enum(VERDICT_NAMES))
      .default(['PASS'])
      .describe('verdicts that continue to the next program (default [PASS], as libxdp): ABORTED, DROP, PASS, TX, REDIRECT'),
  })
  .describe('a program in a chain, a map: name, params, continueOn');

const queueSet = z
  .union([z.literal('all'), z.array(z.int().min(0).max(MAX_QUEUES - 1)).min(1)])
  .describe('"all" or a list of queue numbers, e.g. [0, 1]');

const queuePrograms = z
  .strictObject({
    queues: queueSet.default('all'),
    chain: z.array(programRef).min(1).max(MAX_CHAIN).describe(`a list of 1 to ${MAX_CHAIN} programs`),
  })
  .describe('a program chain, a map: queues, chain');

export const configSchema = z
  .strictObject({
    queues: z
      .int()
      .min(1)
      .max(MAX_QUEUES)
      .default(CONFIG_DEFAULTS.queues)
      .describe(`the number of RX queues (channels), an integer from 1 to ${MAX_QUEUES}`),
    frameSize: z
      .literal([2048, 4096, 16384])
      .default(CONFIG_DEFAULTS.frameSize)
      .describe('bytes per frame: 2048, 4096, or 16384 for MTU 9000 jumbo frames'),
    poolFrames: z
      .int()
      .min(64)
      .max(1 << 20)
      .default(CONFIG_DEFAULTS.poolFrames)
      .describe("frames in each port's pool, an integer from 64 to 1048576"),
    superFrames: z
      .int()
      .min(0)
      .max(4096)
      .default(0)
      .describe("64 KB super-frames in each pool for GRO towards VMs that take TSO, an integer from 0 (none, no GRO) to 4096"),
    ringSize: z
      .int()
      .min(16)
      .max(1 << 16)
      .refine(powerOfTwo, 'is not a power of two')
      .default(CONFIG_DEFAULTS.ringSize)
      .describe('entries in every ring, a power of two from 16 to 65536'),
    budget: z
      .int()
      .min(1)
      .max(1024)
      .default(CONFIG_DEFAULTS.budget)
      .describe('descriptors a queue worker takes per breath, an integer from 1 to 1024'),
    cpus: z
      .int()
      .min(1)
      .max(1024)
      .optional()
      .describe('threads that may spin: at most this many queue workers run (more queues share them), an integer from 1 to 1024; default: the cores available to the process'),
    busyPoll: z
      .int()
      .min(0)
      .max(1_000_000)
      .optional()
      .describe("microseconds a queue worker keeps polling after its last packet before it sleeps (Linux's net.core.busy_poll), an integer from 0 to 1000000; default 0"),
    steering: z.string().min(1).optional().describe('a flow-steering file of ethtool -N/-X/-L lines, relative to this file'),
    control: z
      .strictObject({
        socket: z.string().min(1).optional().describe('path of the control socket'),
      })
      .optional()
      .describe('the control socket, a map: { socket: PATH }'),
    metrics: z
      .string()
      .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/)
      .optional()
      .describe('a loopback address and port for the Prometheus endpoint, e.g. 127.0.0.1:9101'),
    interval: z
      .number()
      .min(0.1)
      .max(3600)
      .default(1)
      .describe('seconds between lines of the live view, from 0.1 to 3600'),
    ports: z.array(port).min(1).describe('a list of at least one port'),
    programs: z.array(queuePrograms).default([]).describe('a list of program chains'),
  })
  .describe('an xswitch configuration');

export type ConfigInput = z.input<typeof configSchema>;
export type ConfigParsed = z.output<typeof configSchema>;

/** Top-level keys, for "unknown key" messages and documentation. */
export const TOP_KEYS = Object.keys(configSchema.shape);
