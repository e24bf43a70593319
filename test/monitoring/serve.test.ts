import { describe, expect, test } from 'vitest';
import type { Metric } from '../../doctor/prometheus.js';
import { type ExporterSnapshot, parseListen, startExporter } from '../../doctor/serve.js';
import { promtool, samples } from '../support/promtool.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const snapshot = (value: number): ExporterSnapshot => ({
  metrics: [
    { name: 'tier4_doctor_up', help: 'up', labels: { site: 'production' }, value: 1 },
    { name: 'tier4_backup_last_size_bytes', help: 'size', labels: { site: 'production' }, value },
  ] satisfies Metric[],
  html: `<!doctype html><title>status ${value}</title>`,
  sites: ['production'],
  ok: true,
});

async function get(base: string, path: string) {
  const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

describe('tier4 doctor serve: the exporter', () => {
  test('says it is starting before the first run ends, then serves the last result; runs never overlap', async () => {
    const runs: Array<ReturnType<typeof deferred<ExporterSnapshot>>> = [];
    let active = 0;
    let maxActive = 0;
    const exporter = await startExporter({
      host: '127.0.0.1',
      port: 0,
      intervalMs: 20,
      sites: ['production'],
      run: async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        const run = deferred<ExporterSnapshot>();
        runs.push(run);
        try {
          return await run.promise;
        } finally {
          active -= 1;
        }
      },
    });
    const base = `http://127.0.0.1:${exporter.address.port}`;
    try {
      const first = await get(base, '/metrics');
      expect(first.status).toBe(200);
      expect(first.type).toBe('text/plain; version=0.0.4; charset=utf-8');
      const starting = samples(first.body);
      expect(starting.find((s) => s.name === 'tier4_doctor_up')).toMatchObject({
        labels: { site: 'production', reason: 'starting' },
        value: 0,
      });
      expect(starting.find((s) => s.name === 'tier4_doctor_running')!.value).toBe(1);
      expect((await promtool(['check', 'metrics'], first.body)).code).toBe(0);
      expect((await get(base, '/')).body).toContain('first doctor run is in progress');

      // Scrapes while a run is slow start no other run.
      await Promise.all([get(base, '/metrics'), get(base, '/metrics'), get(base, '/')]);
      expect(runs).toHaveLength(1);
      runs[0]!.resolve(snapshot(1234));
      await exporter.firstRun;
      const served = samples((await get(base, '/metrics')).body);
      expect(served.find((s) => s.name === 'tier4_backup_last_size_bytes')!.value).toBe(1234);
      expect(served.find((s) => s.name === 'tier4_doctor_up')!.value).toBe(1);
      expect(served.find((s) => s.name === 'tier4_doctor_runs_total')).toMatchObject({
        labels: { site: 'production', result: 'ok' },
        value: 1,
      });
      expect((await get(base, '/')).body).toContain('status 1234');

      // The next run starts only after the interval, and a failing run is tier4_doctor_up 0, not an empty page.
      const deadline = Date.now() + 5_000;
      while (runs.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(runs).toHaveLength(2);
      runs[1]!.reject(new Error('the configuration does not load'));
      const after = Date.now() + 5_000;
      let down: ReturnType<typeof samples> = [];
      while (Date.now() < after) {
        down = samples((await get(base, '/metrics')).body);
        if (down.some((s) => s.name === 'tier4_doctor_up' && s.value === 0)) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(down.find((s) => s.name === 'tier4_doctor_up')).toMatchObject({
        labels: { site: 'production', reason: 'error' },
        value: 0,
      });
      expect(down.some((s) => s.name === 'tier4_backup_last_size_bytes')).toBe(false);
      expect(maxActive).toBe(1);
      expect((await get(base, '/healthz')).body).toBe('ok\n');
      expect((await get(base, '/nope')).status).toBe(404);
    } finally {
      for (const run of runs) run.resolve(snapshot(0));
      const started = Date.now();
      await exporter.close();
      expect(Date.now() - started).toBeLessThan(15_000);
    }
    await expect(fetch(`${base}/metrics`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
  });

  test('--listen forms', () => {
    expect(parseListen(':9464')).toEqual({ host: '', port: 9464 });
    expect(parseListen('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen('9464')).toBeUndefined();
    expect(parseListen(':99999')).toBeUndefined();
    expect(parseListen('a b:1')).toBeUndefined();
  });
});
