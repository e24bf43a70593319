import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../core/errors.js';
import { doctorDownMetrics, EXPOSITION_CONTENT_TYPE, type Metric, prometheusText } from './prometheus.js';

/** What one run of the checks gives the exporter: the metrics and the status page of that moment. */
export interface ExporterSnapshot {
  metrics: Metric[];
  html: string;
  /** The sites the run covered, to label the exporter's own series. */
  sites: string[];
  /** False when the run found a failed check. */
  ok: boolean;
}

export interface ExporterOptions {
  /** Runs the checks once. Throwing is a failed run: exposed as `tier4_doctor_up 0`, never an empty page. */
  run(signal: AbortSignal): Promise<ExporterSnapshot>;
  /** Pause between the end of one run and the start of the next. */
  intervalMs: number;
  host: string;
  port: number;
  /** Sites named before the first run ends, for the "starting" series. */
  sites: string[];
  log?: (message: string) => void;
  now?: () => Date;
}

export interface Exporter {
  /** The bound address (the real port when 0 was asked). */
  address: AddressInfo;
  /** Resolves when the first run has finished (for tests and logs). */
  firstRun: Promise<void>;
  /** Stops scheduling, aborts a run in progress, stops accepting connections and waits (bounded) for them. */
  close(): Promise<void>;
}

/**
 * `tier4 doctor serve`: runs the checks, then again `intervalMs` after each run ends (so never two runs at
 * once, however slow one is), and serves the last result. A scrape never triggers a run: Prometheus scrapes
 * on its own schedule and a slow repository must not pile up runs (prometheus.io "Writing exporters" advises
 * against expensive work per scrape). Paths: /metrics, / (status page), /healthz.
 */
export async function startExporter(options: ExporterOptions): Promise<Exporter> {
  const now = options.now ?? (() => new Date());
  const stop = new AbortController();
  const runs = new Map<string, number>();
  let last: { snapshot: ExporterSnapshot; at: Date; seconds: number } | undefined;
  let lastError: { reason: string; at: Date; seconds: number } | undefined;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();

  const countRun = (result: string) => runs.set(result, (runs.get(result) ?? 0) + 1);
  const runOnce = async () => {
    if (running || stop.signal.aborted) return;
    running = true;
    const started = now();
    options.log?.('doctor run started');
    try {
      const snapshot = await options.run(stop.signal);
      const seconds = (now().getTime() - started.getTime()) / 1000;
      last = { snapshot, at: started, seconds };
      lastError = undefined;
      countRun(snapshot.ok ? 'ok' : 'fail');
      options.log?.(
        `doctor run finished in ${seconds.toFixed(1)} s: ${snapshot.ok ? 'all checks passed' : 'some checks failed'}`,
      );
    } catch (error) {
      const seconds = (now().getTime() - started.getTime()) / 1000;
      lastError = { reason: errorMessage(error), at: started, seconds };
      countRun('error');
      options.log?.(`doctor run could not complete: ${errorMessage(error)}`);
    } finally {
      running = false;
      if (!stop.signal.aborted) {
        timer = setTimeout(() => {
          current = runOnce();
        }, options.intervalMs);
      }
    }
  };

  const metricsText = (): string => {
    const sites = last?.snapshot.sites ?? options.sites;
    const labelled = sites.length > 0 ? sites : [''];
    const own: Metric[] = [];
    for (const site of labelled) {
      for (const [result, count] of runs) {
        own.push({
          name: 'tier4_doctor_runs_total',
          help: 'Doctor runs since the exporter started, by result (ok, fail: a check failed, error: could not run).',
          labels: { site, result },
          value: count,
          type: 'counter',
        });
      }
      own.push({
        name: 'tier4_doctor_running',
        help: 'Whether a doctor run is in progress.',
        labels: { site },
        value: running ? 1 : 0,
      });
      const seconds = lastError?.seconds ?? last?.seconds;
      if (seconds !== undefined)
        own.push({
          name: 'tier4_doctor_last_run_duration_seconds',
          help: 'How long the last doctor run took.',
          labels: { site },
          value: seconds,
        });
    }
    let body: Metric[];
    if (lastError) body = doctorDownMetrics(sites, 'error', lastError.at);
    else if (last) body = last.snapshot.metrics;
    // Before the first run ends: say so, rather than serve nothing (an absent series alerts nobody).
    else body = doctorDownMetrics(sites, 'starting', now());
    return prometheusText([...body, ...own]);
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://exporter').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (path === '/metrics') send(200, EXPOSITION_CONTENT_TYPE, metricsText());
    else if (path === '/healthz') send(200, 'text/plain; charset=utf-8', 'ok\n');
    else if (path === '/') {
      const html =
        last?.snapshot.html ??
        startingPage(
          lastError
            ? 'The last doctor run could not complete; see the exporter log.'
            : 'The first doctor run is in progress.',
        );
      response.setHeader(
        'content-security-policy',
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
      );
      send(200, 'text/html; charset=utf-8', html);
    } else send(404, 'text/plain; charset=utf-8', 'not found: try /metrics or /\n');
  };

  const server: Server = createServer(handle);
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host || undefined, () => {
      server.off('error', reject);
      resolve();
    });
  });
  current = runOnce();
  const firstRun = current;

  return {
    address: server.address() as AddressInfo,
    firstRun,
    async close() {
      stop.abort(new Error('the exporter is stopping'));
      if (timer) clearTimeout(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const bounded = (work: Promise<unknown>, ms: number) =>
        Promise.race([work, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
      await bounded(closed, 5_000);
      server.closeAllConnections();
      await bounded(current, 10_000);
    },
  };
}

function startingPage(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="refresh" content="30"><title>tier4 status</title></head><body><h1>tier4 status</h1><p>${message}</p></body></html>\n`;
}

/** Parses `--listen`: `:9464` (every interface), `127.0.0.1:0`, `[::1]:9464`. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port > 65_535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}
