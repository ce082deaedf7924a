/**
 * The daemon: what `xswitch run` is.
 *
 *   load config ─▶ Switch.start ─▶ control socket ─▶ live view / metrics ─▶ wait
 *     SIGINT/SIGTERM or --duration ─▶ stop view ─▶ sw.stop() (stop ingress, drain rings,
 *       flush captures) ─▶ exit summary ─▶ close control socket ─▶ exit 0
 *     SIGHUP or `reload` ─▶ load config again ─▶ invalid, or a key that needs a restart
 *       changed: keep the old one, report ─▶ valid: apply the difference (programs,
 *       steering, interval) between two breaths, whole or not at all (reload-plan.ts)
 *
 * Everything here runs in the main thread, off the data path: the view and the control
 * socket read counters from shared memory and never wait on a worker.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { stringify } from 'yaml';
import { ConfigError, loadConfig, parseConfig, type LoadedConfig } from './config/index.js';
import { chainOf, type ProgramRef, type QueuePrograms } from '../switch/config-types.js';
import { ControlServer, type Handler } from './control/server.js';
import { makeHandlers, type DaemonApi } from './control/handlers.js';
import { ControlError } from './control/protocol.js';
import { defaultSocketPath } from './control/socket-path.js';
import { LiveView } from './view/live.js';
import { accountingLines, exitSummary } from './view/summary.js';
import { rates } from './view/rates.js';
import { MetricsServer } from './metrics.js';
import { buildControls, steererModule, steeringHandlers, type Controls } from './control/steering.js';
import { mapHandlers } from './control/maps.js';
import { CaptureControl } from './control/capture.js';
import { traceHandlers } from './control/trace.js';
import { defaultStart, type LogLevel, type StartSwitch, type SteeringMap, type SwitchLike } from './running-switch.js';
import type { StopSummary } from '../switch/switch.js';
import { Rollback, restartKeys, restartMessage } from './reload-plan.js';

export type { SwitchLike, StartSwitch } from './running-switch.js';

export interface DaemonOptions {
  configFile: string;
  /** Control socket path; overrides the file's `control.socket`. */
  socket?: string;
  /** Stop after this many seconds (0 or absent: run until a signal). */
  duration?: number;
  /** host:port for the Prometheus endpoint; overrides the file's `metrics`. */
  metrics?: string;
  /** Print rate lines and the summary as JSON objects, one a line. */
  json?: boolean;
  /** Seconds between view lines; overrides the file's `interval`. */
  interval?: number;
  /** Live view off (still prints the start line and the summary). */
  quiet?: boolean;
  out?: Writable;
  err?: Writable;
  /** Installs SIGINT/SIGTERM/SIGHUP handlers (off in tests that run several daemons). */
  signals?: boolean;
  /** How to start the switch (tests pass a fake; default: switch/switch.ts's Switch). */
  start?: StartSwitch;
}

export class Daemon implements DaemonApi {
  private sw: SwitchLike | null = null;
  private server: ControlServer | null = null;
  private metrics: MetricsServer | null = null;
  private view: LiveView | null = null;
  private jsonTimer: NodeJS.Timeout | null = null;
  private durationTimer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private reloads = 0;
  private stopping: Promise<number> | null = null;
  private finished!: (code: number) => void;
  /** Resolves with the exit code once the daemon has stopped. */
  readonly done = new Promise<number>((r) => (this.finished = r));
  private readonly out: Writable;
  private readonly err: Writable;
  private readonly extra: Record<string, Handler> = {};
  private readonly signalHandlers: [NodeJS.Signals, () => void][] = [];
  /** Flow steering per port (flows/SteeringControl); what `flow`/`rss`/`channels` change. */
  private controls: Controls = new Map();
  /** The packet capture (xdpdump-like), armed on the queue workers' taps on request. */
  private readonly captures = new CaptureControl(
    () => this.sw,
    () => this.cfg.switch.ports.map((p) => p.name),
    () => this.cfg.switch.queues,
  );
  /** The steering file's text as loaded, to tell on reload whether it changed. */
  private steeringText: string | null = null;
  /** Serialises reloads and program replacements: one change at a time. */
  private changeChain: Promise<unknown> = Promise.resolve();

  private constructor(
    private cfg: LoadedConfig,
    private readonly opts: DaemonOptions,
  ) {
    this.out = opts.out ?? process.stdout;
    this.err = opts.err ?? process.stderr;
  }

  /** Loads, starts and serves; throws ConfigError / start errors before anything runs. */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    const cfg = await loadConfig(opts.configFile);
    const d = new Daemon(cfg, opts);
    await d.boot();
    return d;
  }

  get socketPath(): string {
    return this.opts.socket ?? this.cfg.controlSocket ?? defaultSocketPath();
  }

  get config(): LoadedConfig {
    return this.cfg;
  }

  /** Adds control methods (flows, maps, capture) from subsystems that have them. */
  addHandlers(h: Record<string, Handler>): void {
    Object.assign(this.extra, h);
  }

  private async boot(): Promise<void> {
    const start = this.opts.start ?? defaultStart;
    const c = this.cfg.switch;
    this.controls = buildControls(c.steering, c.ports.map((p) => p.name), c.queues);
    this.steeringText = c.steering ? readFileSync(c.steering, 'utf8') : null;
    this.addHandlers(steeringHandlers(() => this.controls));
    this.addHandlers(mapHandlers(() => this.sw?.loadedPrograms() ?? []));
    this.addHandlers(this.captures.handlers());
    this.addHandlers(
      traceHandlers({
        controls: () => this.controls,
        ports: () => this.cfg.switch.ports.map((p) => p.name),
        queues: () => this.cfg.switch.queues,
        chainOf: (q) => this.programs()[q].chain,
        load: async (chain) => {
          if (!this.sw) throw new ControlError('shutting_down', 'the switch is not running');
          return (await this.sw.loadChain(chain)).chain;
        },
      }),
    );
    this.sw = await start(c, (m, level) => this.log(m, level), this.steeringMap(this.controls));
    this.fixReceivedOnQueues(this.controls);
    this.startedAt = performance.now();
    try {
      this.server = new ControlServer(makeHandlers(this), {
        path: this.socketPath,
        log: (m) => this.log(m, 'warn'),
        // Loading programs (and their maps) can take a while; the rest answers in microseconds.
        slowMethods: { reload: 120_000, 'prog.replace': 120_000, 'prog.attach': 120_000, 'capture.start': 30_000, trace: 30_000 },
      });
      await this.server.listen();
      const metricsAt = this.opts.metrics ?? (this.cfg.metrics ? `${this.cfg.metrics.host}:${this.cfg.metrics.port}` : undefined);
      if (metricsAt) {
        this.metrics = new MetricsServer(() => this.stats(), metricsAt);
        await this.metrics.listen();
      }
    } catch (e) {
      // The switch is up but cannot be controlled: stop it rather than leave it orphaned.
      await this.server?.close();
      await this.sw.stop();
      throw e;
    }
    this.printStart();
    this.startView();
    if (this.opts.signals !== false) this.installSignals();
    if (this.opts.duration && this.opts.duration > 0) {
      this.durationTimer = setTimeout(() => void this.stop(), this.opts.duration * 1000);
    }
  }

  private steeringMap(controls: Controls): SteeringMap {
    const module = steererModule();
    return new Map([...controls].map(([port, c]) => [port, { module, shared: c.shared, rules: !c.state.isDefault() }]));
  }

  /**
   * A port whose RX queues the queue workers receive themselves (run to completion: no rule
   * for it at start) has no device thread to steer by rules: its steering is fixed, and
   * `flow add`/`rss set`/`channels set` say so, as ethtool does for `ntuple-filters: off [fixed]`.
   */
  private fixReceivedOnQueues(controls: Controls): void {
    for (const [port, c] of controls) {
      if (!this.sw!.receivesOnQueues(port)) continue;
      c.fixed =
        `port ${port} runs to completion: its queue workers receive its RX queues themselves, so no thread ` +
        `steers by rules; ${this.hasThreadOption(port) ? 'set `thread: device` on the port, or ' : ''}give it its rules in the steering file, and restart` +
        (this.hasThreadOption(port) ? '' : ' (a VM port: its guest\'s TX rings then stay on its device thread, which steers)');
    }
  }

  /** Whether the port's type has a `thread` option (gen, afpacket, …; not the VM ports). */
  private hasThreadOption(port: string): boolean {
    const p = this.cfg.switch.ports.find((x) => x.name === port);
    return p === undefined || (p.type !== 'virtio' && p.type !== 'vhost-user');
  }

  private printStart(): void {
    const c = this.cfg.switch;
    const ports = c.ports.map((p) => `${p.name} (${p.type}, ifindex ${c.ports.indexOf(p) + 1})`).join(', ');
    const progs = c.programs.map((p) => `${p.chain.map((r) => path.basename(r.name)).join('→')} on queue${p.queues.length > 1 ? 's' : ''} ${p.queues.join(',')}`).join('; ') || 'pass on every queue';
    const line = `Switching on ${c.queues} queue${c.queues > 1 ? 's' : ''}: ports ${ports}; programs ${progs}`;
    if (this.opts.json) {
      this.out.write(JSON.stringify({ event: 'start', config: this.cfg.file, socket: this.socketPath, metrics: this.metrics?.address ?? null, queues: c.queues, ports: c.ports.map((p) => p.name) }) + '\n');
    } else {
      this.out.write(line + '\n');
      this.log(`control socket ${this.socketPath}${this.metrics ? `; metrics http://${this.metrics.address}/metrics` : ''}`);
    }
  }

  private startView(): void {
    const intervalMs = Math.round((this.opts.interval ?? this.cfg.interval) * 1000);
    if (this.opts.json) {
      let prev = this.stats();
      let at = performance.now();
      this.jsonTimer = setInterval(() => {
        const now = performance.now();
        const cur = this.stats();
        const r = rates(prev, cur, (now - at) / 1000);
        prev = cur;
        at = now;
        this.out.write(JSON.stringify({ event: 'rates', elapsed: (now - this.startedAt) / 1000, total: r.total, queues: r.queues }) + '\n');
      }, intervalMs);
      return;
    }
    if (this.opts.quiet) return;
    const tty = Boolean((this.out as { isTTY?: boolean }).isTTY);
    this.view = new LiveView(() => this.stats(), {
      out: this.out,
      tty,
      intervalMs,
      title: `Switch (${this.cfg.switch.queues} queues) ${path.relative(process.cwd(), this.cfg.file) || this.cfg.file}`,
    });
    this.view.start();
  }

  /** The view again, at the running configuration's interval (after a reload changed it). */
  private restartView(): void {
    if (this.jsonTimer) clearInterval(this.jsonTimer);
    this.jsonTimer = null;
    this.view?.stop();
    this.view = null;
    this.startView();
  }

  private installSignals(): void {
    const on = (sig: NodeJS.Signals, f: () => void) => {
      process.on(sig, f);
      this.signalHandlers.push([sig, f]);
    };
    let interrupts = 0;
    const stop = (sig: NodeJS.Signals) => () => {
      interrupts++;
      if (interrupts > 1) {
        // A second Ctrl-C while draining: the user wants out now.
        this.log(`${sig} again: exiting without a clean stop`, 'warn');
        process.exit(130);
      }
      void this.stop();
    };
    on('SIGINT', stop('SIGINT'));
    on('SIGTERM', stop('SIGTERM'));
    on('SIGHUP', () => {
      this.reload().then(
        (r) => this.log(`reloaded ${this.cfg.file}: ${r.changes.join('; ') || 'no change'}`),
        (e: Error) => this.log(`reload rejected, the running configuration stays:\n${e.message}`, 'error'),
      );
    });
  }

  /** Structured with --json ({event, time, level, message}), one readable line otherwise. */
  log(message: string, level: LogLevel = 'info'): void {
    if (this.opts.json) this.err.write(JSON.stringify({ event: 'log', time: new Date().toISOString(), level, message }) + '\n');
    else this.err.write(`xswitch: ${level === 'info' ? '' : level + ': '}${message}\n`);
  }

  // ---- DaemonApi (what the control socket calls) ----

  stats(): Record<string, number> {
    if (!this.sw) throw new ControlError('shutting_down', 'the switch is not running');
    return this.sw.flatStats();
  }

  async status(): Promise<Record<string, unknown>> {
    const c = this.cfg.switch;
    // Each port's own figures (a replay's progress, a peer's address), asked of its device
    // thread; a port that does not answer within a second is shown without them.
    const portStatus = await Promise.all(
      c.ports.map((p) =>
        this.sw ? Promise.race([this.sw.portStatus(p.name).catch((e: Error) => ({ error: e.message })), new Promise((r) => setTimeout(() => r(null), 1000).unref())]) : null,
      ),
    );
    return {
      pid: process.pid,
      config: this.cfg.file,
      socket: this.socketPath,
      metrics: this.metrics?.address ?? null,
      uptime: (performance.now() - this.startedAt) / 1000,
      reloads: this.reloads,
      stopping: this.stopping !== null,
      queues: c.queues,
      frameSize: c.frameSize,
      poolFrames: c.poolFrames,
      ringSize: c.ringSize,
      budget: c.budget,
      ports: c.ports.map((p, i) => ({ name: p.name, type: p.type, ifindex: i + 1, status: portStatus[i] ?? null })),
      programs: c.programs,
      steering: c.steering ?? 'none (RSS over every queue)',
      programsPerQueue: this.programs(),
      control: this.server?.counts ?? null,
    };
  }

  /** The chain on every queue (a queue without one runs DEFAULT_CHAIN). */
  programs(): { queue: number; chain: ProgramRef[] }[] {
    const c = this.cfg.switch;
    return Array.from({ length: c.queues }, (_, q) => ({ queue: q, chain: chainOf(c.programs, q) }));
  }

  /**
   * Sets the chain of some queues (`prog replace`), or appends one program to their chains
   * (`prog attach`, as libxdp adds a program to the dispatcher); other queues keep theirs.
   */
  async setChains(queues: number[], edit: (old: ProgramRef[]) => ProgramRef[]): Promise<{ changes: string[] }> {
    const n = this.cfg.switch.queues;
    for (const q of queues) {
      if (!Number.isInteger(q) || q < 0 || q >= n) throw new ControlError('bad_params', `queue ${q} does not exist (queues 0 to ${n - 1})`);
    }
    const per = this.programs();
    for (const q of queues) per[q].chain = edit(per[q].chain);
    // Back to the file's shape: queues that share a chain share an entry.
    const groups = new Map<string, QueuePrograms>();
    for (const { queue, chain } of per) {
      const key = JSON.stringify(chain);
      const g = groups.get(key) ?? { queues: [], chain };
      g.queues.push(queue);
      groups.set(key, g);
    }
    return this.replacePrograms([...groups.values()].map((g) => ({ queues: g.queues, chain: g.chain })));
  }

  async portControl(port: string, msg: unknown): Promise<unknown> {
    if (!this.cfg.switch.ports.some((p) => p.name === port)) {
      throw new ControlError('bad_params', `no port named '${port}' (ports: ${this.cfg.switch.ports.map((p) => p.name).join(', ')})`);
    }
    if (!this.sw) throw new ControlError('shutting_down', 'the switch is not running');
    return this.sw.portControl(port, msg);
  }

  /** Re-reads the file; applies what can change live; on any problem keeps what runs. */
  reload(): Promise<{ changes: string[] }> {
    const run = async () => {
      let next: LoadedConfig;
      try {
        next = await loadConfig(this.cfg.file);
      } catch (e) {
        throw new ControlError('bad_params', (e as Error).message);
      }
      const changes = await this.apply(next);
      this.reloads++;
      return { changes };
    };
    const p = this.changeChain.then(run, run);
    this.changeChain = p.catch(() => {});
    return p;
  }

  /** Replaces the program chains (the `programs:` list of the file) without a reload. */
  replacePrograms(chains: unknown): Promise<{ changes: string[] }> {
    const run = async () => {
      if (!Array.isArray(chains)) throw new ControlError('bad_params', 'prog.replace: programs must be a list of { queues, chain }');
      // Validate exactly as the file would be: the current file with a new programs list.
      const doc = { ...this.rawForReplace(), programs: chains };
      let next: LoadedConfig;
      try {
        // Checked as the file would be, relative to its folder; positions would point into
        // this generated text, so only the messages (which name the path) are passed on.
        next = await parseConfig(stringify(doc), this.cfg.file);
      } catch (e) {
        if (e instanceof ConfigError) throw new ControlError('bad_params', e.issues.map((i) => i.message).join('\n'));
        throw new ControlError('bad_params', (e as Error).message);
      }
      // Only the programs change: everything else stays as it runs.
      next = { ...next, switch: { ...next.switch, steering: this.cfg.switch.steering }, interval: this.cfg.interval, controlSocket: this.cfg.controlSocket, metrics: this.cfg.metrics };
      return { changes: await this.apply(next, false) };
    };
    const p = this.changeChain.then(run, run);
    this.changeChain = p.catch(() => {});
    return p;
  }

  /** The running configuration as a YAML-able object (module paths already absolute). */
  private rawForReplace(): Record<string, unknown> {
    const c = this.cfg.switch;
    return { queues: c.queues, frameSize: c.frameSize, poolFrames: c.poolFrames, superFrames: c.superFrames ?? 0, ringSize: c.ringSize, budget: c.budget, cpus: c.cpus, busyPoll: c.busyPoll, ports: c.ports };
  }

  /**
   * The difference between the running configuration and `next`, applied whole or not at
   * all. Everything that can be checked or built is, before anything changes: keys that need
   * a restart (refused, naming them), the new steering rules, the means to apply. Then the
   * steps run, each with its undo registered first; if one fails, the switch is put back to
   * what ran before (programs, each port's steering) and the running configuration stays.
   */
  private async apply(next: LoadedConfig, steering = true): Promise<string[]> {
    const a = this.cfg.switch;
    const b = next.switch;
    const restart = restartKeys(this.cfg, next, { socket: this.opts.socket !== undefined, metrics: this.opts.metrics !== undefined });
    if (restart.length > 0) throw new ControlError('bad_params', restartMessage(restart));

    // Prepare.
    let text = this.steeringText;
    let controls: Controls | null = null;
    try {
      if (steering) text = b.steering ? readFileSync(b.steering, 'utf8') : null;
      if (steering && (a.steering !== b.steering || text !== this.steeringText)) controls = buildControls(b.steering, b.ports.map((p) => p.name), b.queues);
    } catch (e) {
      throw new ControlError('bad_params', (e as Error).message);
    }
    if (controls && this.sw) {
      // A port received on its queue workers cannot take rules without a restart (see fixReceivedOnQueues).
      const ruled = [...controls].filter(([port, c]) => this.sw!.receivesOnQueues(port) && !c.state.isDefault()).map(([port]) => port);
      if (ruled.length > 0) {
        throw new ControlError('bad_params', `the new steering gives rules to ${ruled.join(', ')}, which run${ruled.length === 1 ? 's' : ''} to completion (received by the queue workers, no thread steers by rules): set \`thread: device\` on ${ruled.length === 1 ? 'that port' : 'those ports'}, or restart the switch with the new steering file`);
      }
    }
    const programsChanged = !isDeepStrictEqual(a.programs, b.programs);
    if ((controls || programsChanged) && !this.sw) throw new ControlError('shutting_down', 'the switch is not running');
    const intervalChanged = this.opts.interval === undefined && next.interval !== this.cfg.interval;

    // Apply, or put back what ran.
    const sw = this.sw!;
    const rollback = new Rollback();
    const changes: string[] = [];
    try {
      if (programsChanged) {
        // Loads every program before swapping any queue; a queue swaps between two breaths.
        await rollback.step('programs', () => sw.configurePrograms(a.programs), () => sw.configurePrograms(b.programs));
        changes.push(`programs replaced (${b.programs.map((p) => `${p.chain.map((r) => path.basename(r.name)).join('→')} on ${p.queues.join(',')}`).join('; ') || 'pass everywhere'})`);
      }
      if (controls) {
        // A new flow file replaces the live rules wholesale: each port's device thread swaps
        // to the new steering state between two batches.
        const old = this.steeringMap(this.controls);
        for (const [port, sm] of this.steeringMap(controls)) {
          const was = old.get(port)!;
          await rollback.step(`steering of ${port}`, () => sw.setSteering(port, was.module, was.shared), () => sw.setSteering(port, sm.module, sm.shared));
        }
        changes.push(b.steering ? `steering reloaded from ${b.steering}` : 'steering rules removed (RSS over every queue)');
      }
    } catch (e) {
      const notUndone = await rollback.undo();
      const back = notUndone.length === 0 ? 'the running configuration was put back' : `putting the running configuration back failed too (${notUndone.join('; ')})`;
      this.log(`reload failed while applying: ${(e as Error).message}; ${back}`, 'error');
      throw new ControlError('failed', `applying the new configuration failed: ${(e as Error).message}; ${back}, nothing changed${notUndone.length ? ' except what could not be undone' : ''}`);
    }

    // Commit.
    if (controls) {
      this.fixReceivedOnQueues(controls);
      this.controls = controls;
      this.steeringText = text;
    }
    this.cfg = next;
    if (intervalChanged) {
      this.restartView();
      changes.push(`interval ${next.interval}s`);
    }
    return changes;
  }

  requestStop(): void {
    // After the answer is written: the client gets { stopping: true } before the socket closes.
    setTimeout(() => void this.stop(), 10);
  }

  extraHandlers(): Record<string, Handler> {
    return this.extra;
  }

  /** Clean stop; resolves with the exit code (0). Safe to call more than once. */
  stop(): Promise<number> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      if (this.durationTimer) clearTimeout(this.durationTimer);
      if (this.jsonTimer) clearInterval(this.jsonTimer);
      this.view?.stop();
      const seconds = (performance.now() - this.startedAt) / 1000;
      // Captures first: their taps live in the queue workers, and their files must be complete.
      await this.captures.stop().catch((e: Error) => this.log(`capture: ${e.message}`, 'error'));
      const sw = this.sw;
      let code = 0;
      let summary: StopSummary | null = null;
      try {
        summary = (await sw?.stop()) ?? null;
      } catch (e) {
        this.log(`stop failed: ${(e as Error).message}`, 'error');
        code = 1;
      }
      // Read after the stop: the counter blocks outlive the threads, so these are the final ones.
      const final = safeStats(sw);
      const accounting = summary ? accountingLines(summary) : {};
      this.sw = null;
      await this.server?.close();
      await this.metrics?.close();
      for (const [sig, f] of this.signalHandlers) process.off(sig, f);
      if (this.opts.json) {
        this.out.write(JSON.stringify({ event: 'summary', duration: seconds, counters: final, accounting }) + '\n');
      } else {
        if (this.view) this.out.write('\n');
        this.out.write(exitSummary(final, seconds, accounting) + '\n');
      }
      this.finished(code);
      return code;
    })();
    return this.stopping;
  }
}

function safeStats(sw: SwitchLike | null): Record<string, number> {
  try {
    return sw?.flatStats() ?? {};
  } catch {
    return {};
  }
}

