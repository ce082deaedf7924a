/**
 * YAML file → SwitchConfig (plus the daemon's own settings), or a ConfigError listing
 * every problem as `file:line:column: what is wrong (what is allowed)`.
 *
 *   text ──parseDocument──▶ YAML syntax errors? ──▶ pass 1: structure (schema.ts)
 *        ──▶ pass 2: meaning (meaning.ts) ──▶ LoadedConfig
 *
 * Two passes because zod skips cross-field checks while structural errors exist; each
 * pass reports all it finds.
 */
import { resolvePortPaths } from '../../switch/ports/index.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, type ConfigIssue } from './errors.js';
import { SourceMap } from './positions.js';
import { checkStructure } from './structure.js';
import { checkMeaning, splitHostPort } from './meaning.js';
import type { SwitchConfig } from '../../switch/config-types.js';
import type { PortConfig } from '../../switch/ports/port.js';

export interface LoadedConfig {
  /** Absolute path of the file. */
  file: string;
  switch: SwitchConfig;
  /** Control socket path from the file, if it names one. */
  controlSocket?: string;
  metrics?: { host: string; port: number };
  /** Seconds between live-view lines. */
  interval: number;
}

export interface LoadOptions {
  /** Import the program modules to check that they load and take their params (default true). */
  loadPrograms?: boolean;
}

/** Largest configuration file read (a configuration is a page, not a data set). */
export const MAX_CONFIG_BYTES = 1 << 20;

export async function loadConfig(file: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    const buf = await readFile(file);
    if (buf.length > MAX_CONFIG_BYTES) {
      throw new ConfigError([{ file, line: 1, column: 1, message: `file is ${buf.length} bytes (at most ${MAX_CONFIG_BYTES})` }]);
    }
    text = buf.toString('utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError([{ file, line: 1, column: 1, message: `cannot read: ${err.code ?? err.message} (a readable YAML file)` }]);
  }
  return parseConfig(text, file, opts);
}

export async function parseConfig(text: string, file: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e): ConfigIssue => {
        const p = lines.linePos(e.pos[0]);
        return { file, line: p.line, column: p.col, message: `YAML: ${yamlMessage(e.message)}` };
      }),
    );
  }
  const map = new SourceMap(doc, lines);
  let data: unknown;
  try {
    // maxAliasCount: a "billion laughs" file of nested aliases is refused, not expanded.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError([{ file, line: 1, column: 1, message: `YAML: ${(e as Error).message} (aliases may expand to at most 100 nodes)` }]);
  }
  if (data === null || data === undefined) {
    throw new ConfigError([{ file, line: 1, column: 1, message: 'the file is empty (a map with at least `ports:`)' }]);
  }
  const s = checkStructure(data, map, file);
  if (!s.value) throw new ConfigError(s.issues);
  const cfg = s.value;
  // File options of ports (a capture to replay or write) are relative to this file, like
  // program modules and the steering file.
  for (const p of cfg.ports) await resolvePortPaths(p as PortConfig, path.dirname(path.resolve(file)));
  const m = await checkMeaning(cfg, map, file, { loadPrograms: opts.loadPrograms ?? true });
  if (m.issues.length > 0) throw new ConfigError(m.issues);

  const sw: SwitchConfig = {
    queues: cfg.queues,
    frameSize: cfg.frameSize,
    poolFrames: cfg.poolFrames,
    superFrames: cfg.superFrames,
    ringSize: cfg.ringSize,
    budget: cfg.budget,
    ...(cfg.cpus !== undefined ? { cpus: cfg.cpus } : {}),
    ...(cfg.busyPoll !== undefined ? { busyPoll: cfg.busyPoll } : {}),
    ports: cfg.ports as PortConfig[],
    programs: cfg.programs.map((c, i) => ({
      queues: m.chainQueues[i],
      chain: c.chain.map((ref, e) => ({
        // Module paths become absolute: the supervisor does not know where the file was.
        name: ref.name.includes('/') || /\.(m?js|ts)$/.test(ref.name) ? m.programFiles[i][e] : ref.name,
        params: ref.params,
        continueOn: ref.continueOn,
      })),
    })),
    steering: m.steeringFile,
    source: path.resolve(file),
  };
  return {
    file: path.resolve(file),
    switch: sw,
    controlSocket: cfg.control?.socket !== undefined ? path.resolve(path.dirname(path.resolve(file)), cfg.control.socket) : undefined,
    metrics: cfg.metrics !== undefined ? splitHostPort(cfg.metrics) : undefined,
    interval: cfg.interval,
  };
}

/** yaml's message without its trailing " at line L, column C:" and source excerpt. */
function yamlMessage(m: string): string {
  return m.replace(/ at line \d+, column \d+:?[\s\S]*$/, '').trim();
}
