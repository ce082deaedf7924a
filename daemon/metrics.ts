/**
 * The Prometheus text endpoint (`--metrics 127.0.0.1:9101`): the same counters as
 * `xswitch stats`, read from shared memory at scrape time, nothing kept in between.
 *
 *   rx<q>_<name>      → xswitch_queue_<name>_total{queue="<q>"}
 *   <port>.<name>     → xswitch_port_<name>_total{port="<port>"}
 *   rx_pp_<name>…     → xswitch_<name>_total
 *
 * Bound to loopback only (the loader refuses anything else): counters describe traffic
 * and are not for the network.
 */
import http from 'node:http';
import { splitHostPort } from './config/meaning.js';

export class MetricsServer {
  private server: http.Server | null = null;
  private bound = '';

  constructor(
    private readonly sample: () => Record<string, number>,
    private readonly listenAt: string,
  ) {}

  get address(): string {
    return this.bound;
  }

  async listen(): Promise<void> {
    const { host, port } = splitHostPort(this.listenAt);
    if (!(host === 'localhost' || host === '::1' || /^127\./.test(host))) {
      throw new Error(`metrics: ${host} is not a loopback address (127.0.0.1, [::1] or localhost)`);
    }
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('try /metrics\n');
        return;
      }
      let body: string;
      try {
        body = prometheusText(this.sample());
      } catch (e) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
    });
    server.headersTimeout = 5000;
    server.requestTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const a = server.address();
    if (a && typeof a === 'object') this.bound = `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** Counters in the Prometheus text exposition format, one family per metric name. */
export function prometheusText(counters: Record<string, number>): string {
  const families = new Map<string, string[]>();
  const add = (metric: string, labels: string, v: number) => {
    let f = families.get(metric);
    if (!f) families.set(metric, (f = []));
    f.push(`${metric}${labels} ${Number.isFinite(v) ? v : 0}`);
  };
  for (const [name, v] of Object.entries(counters)) {
    let m = /^rx(\d+)_(.+)$/.exec(name);
    if (m) {
      add(`xswitch_queue_${clean(m[2])}_total`, `{queue="${m[1]}"}`, v);
      continue;
    }
    m = /^([^.]+)\.(.+)$/.exec(name);
    if (m) {
      add(`xswitch_port_${clean(m[2])}_total`, `{port="${m[1].replace(/["\\\n]/g, '_')}"}`, v);
      continue;
    }
    add(`xswitch_${clean(name)}_total`, '', v);
  }
  let out = '';
  for (const [metric, lines] of families) {
    out += `# TYPE ${metric} counter\n${lines.join('\n')}\n`;
  }
  return out;
}

function clean(s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, '_');
}
