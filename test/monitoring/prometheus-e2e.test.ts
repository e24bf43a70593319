import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { alertRules } from '../../charts/primero/monitoring-rules.js';
import { diskBlobPath } from '../../core/primero/tables.js';
import { addBlob, backupSite } from '../support/backup-site.js';
import { REPO_ROOT, tier4 } from '../support/cli.js';
import { PROMETHEUS, promtool } from '../support/promtool.js';

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls until `check` returns a value (not undefined), or fails after `ms` with what it last saw. */
async function waitFor<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `timed out after ${ms / 1000} s waiting for ${what}${last ? ` (last: ${String(last)})` : ''}`,
  );
}

function exited(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error(`pid ${child.pid} still running after ${ms} ms`)), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal ? 128 : null));
    });
  });
}

async function getJson(url: string): Promise<{ data: Record<string, unknown> }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return (await response.json()) as { data: Record<string, unknown> };
}

describe('a real Prometheus scrapes tier4 doctor serve', () => {
  test('an alert fires when the newest backup has a missing attachment, and clears after a good backup', async () => {
    const site = await backupSite({ blobs: 2, cases: 20 });
    const c = ['-c', site.configPath];
    expect((await tier4([...c, 'backup', 'create', '--site', site.site], { env: site.env })).code).toBe(0);
    const dir = await mkdtemp(join(tmpdir(), 'tier4-prometheus-'));

    // The exporter, as the Deployment runs it, on a random port.
    let exporterLog = '';
    const exporter = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'bin', 'tier4.js'),
        ...c,
        'doctor',
        'serve',
        '--site',
        site.site,
        '--listen',
        '127.0.0.1:0',
        '--interval',
        '1s',
      ],
      { env: { ...process.env, ...site.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(exporter);
    exporter.stdout!.on('data', (chunk) => (exporterLog += chunk));
    exporter.stderr!.on('data', (chunk) => (exporterLog += chunk));
    const exporterPort = await waitFor(
      'the exporter to listen',
      30_000,
      async () => /serving http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(exporterLog)?.[1],
    );

    // The site's rendered alert rules, with `for` cut to 0s so the test need not wait minutes.
    const groups = alertRules({
      site: site.site,
      runbookBaseUrl: 'https://example.org/runbooks/',
      intervalSeconds: 1,
    }).map((group) => ({ ...group, rules: group.rules.map((rule) => ({ ...rule, for: '0s' })) }));
    await writeFile(join(dir, 'rules.yaml'), stringify({ groups }));
    expect((await promtool(['check', 'rules', join(dir, 'rules.yaml')])).code).toBe(0);
    await writeFile(
      join(dir, 'prometheus.yaml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '1s' },
        rule_files: [join(dir, 'rules.yaml')],
        scrape_configs: [{ job_name: 'tier4', static_configs: [{ targets: [`127.0.0.1:${exporterPort}`] }] }],
      }),
    );
    const promPort = await freePort();
    let prometheusLog = '';
    const prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yaml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(prometheus);
    prometheus.stdout!.on('data', (chunk) => (prometheusLog += chunk));
    prometheus.stderr!.on('data', (chunk) => (prometheusLog += chunk));
    const api = `http://127.0.0.1:${promPort}`;
    try {
      await waitFor('Prometheus to be ready', 30_000, async () =>
        (await fetch(`${api}/-/ready`, { signal: AbortSignal.timeout(2_000) })).ok ? true : undefined,
      );
      const query = async (expr: string) =>
        ((await getJson(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`)).data.result as Array<{
          metric: Record<string, string>;
          value: [number, string];
        }>) ?? [];
      const alert = async (name: string) =>
        (
          (await getJson(`${api}/api/v1/alerts`)).data.alerts as Array<{
            labels: Record<string, string>;
            annotations: Record<string, string>;
            state: string;
          }>
        ).find((candidate) => candidate.labels.alertname === name);

      // Scraped: the doctor is up and the newest backup has no problems; the alert is not firing.
      await waitFor('tier4_backup_last_problems 0 in Prometheus', 60_000, async () => {
        const [sample] = await query(`tier4_backup_last_problems{site="${site.site}"}`);
        return sample?.value[1] === '0' ? true : undefined;
      });
      expect((await query('tier4_doctor_up'))[0]?.value[1]).toBe('1');
      expect(await alert('Tier4BackupHasProblems')).toBeUndefined();
      // The exporter also serves the status page at /, under a policy that allows no script.
      const page = await fetch(`http://127.0.0.1:${exporterPort}/`, { signal: AbortSignal.timeout(5_000) });
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
      const html = await page.text();
      expect(html).toMatch(/^<!doctype html>/);
      expect(html).toContain('Restore drills');

      // Primero loses an attachment's file; the next backup records it as missing.
      const key = 'e2emissingattachment00000001';
      const content = Buffer.from('a scanned consent form');
      await addBlob(site, key, content);
      await rm(join(site.blobRoot, diskBlobPath(key)));
      await tier4([...c, 'backup', 'create', '--site', site.site], { env: site.env });
      const firing = await waitFor('Tier4BackupHasProblems to fire', 60_000, async () => {
        const found = await alert('Tier4BackupHasProblems');
        return found?.state === 'firing' ? found : undefined;
      });
      expect(firing.labels).toMatchObject({ site: site.site, severity: 'warning', job: 'tier4' });
      expect(firing.annotations.summary).toBe(`${site.site}: the newest backup has 1 problem(s)`);
      expect(firing.annotations.runbook_url).toBe('https://example.org/runbooks/backups.md');

      // The file is back and a good backup runs: the alert clears.
      await writeFile(join(site.blobRoot, diskBlobPath(key)), content);
      expect((await tier4([...c, 'backup', 'create', '--site', site.site], { env: site.env })).code).toBe(0);
      await waitFor('Tier4BackupHasProblems to clear', 60_000, async () =>
        (await alert('Tier4BackupHasProblems')) === undefined ? true : undefined,
      );
    } catch (error) {
      throw new Error(
        `${String(error)}\n--- exporter log ---\n${exporterLog.slice(-3000)}\n--- prometheus log ---\n${prometheusLog.slice(-3000)}`,
      );
    } finally {
      prometheus.kill('SIGTERM');
      exporter.kill('SIGTERM');
      await exited(prometheus, 15_000);
      // SIGTERM: the exporter finishes open requests, stops its run and leaves within its grace period.
      await exited(exporter, 15_000);
      await rm(dir, { recursive: true, force: true });
    }
    expect(exporterLog).toMatch(/stopping: finishing open requests/);
    expect(exporterLog).toMatch(/\dZ stopped/);
  });
});
