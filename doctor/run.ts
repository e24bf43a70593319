import type { LoadedConfig } from '../core/config/load.js';
import type { SiteConfig } from '../core/config/schema.js';
import { formatSeconds } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import { resolveSecret } from '../core/secrets.js';
import type { Metric } from './prometheus.js';

export type DoctorStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface DoctorCheck {
  /** null for checks about the deployment as a whole (configuration drift). */
  site: string | null;
  check: string;
  status: DoctorStatus;
  message: string;
}

export interface DoctorReport {
  ok: boolean;
  generatedAt: string;
  checks: DoctorCheck[];
  metrics: Metric[];
}

export interface DoctorOptions {
  site?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  now?: () => Date;
  /** Each check gives up after this long, so one unreachable service never hangs the doctor. */
  timeoutMs?: number;
}

const DEFAULT_DRILL_INTERVAL = 30 * 86_400;

/**
 * One answer to "are our sites safe?": for each site, backups against the RPO, the last passed drill against
 * the drill interval, the repository, the encryption recipients, pg_dump against the server, certificates;
 * and configuration drift between demo and production. Never throws for a broken site: that is a failed check.
 */
export async function runDoctor(loaded: LoadedConfig, options: DoctorOptions = {}): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  const now = (options.now ?? (() => new Date()))();
  const checks: DoctorCheck[] = [];
  const metrics: Metric[] = [];
  const timeout = options.timeoutMs ?? 60_000;
  const guarded = async (site: string | null, check: string, work: () => Promise<void>) => {
    try {
      await withTimeout(work(), timeout, `${check} took longer than ${timeout / 1000} s`);
    } catch (error) {
      checks.push({ site, check, status: 'fail', message: errorMessage(error) });
    }
  };
  const sites = Object.entries(loaded.config.sites).filter(
    ([name]) => options.site === undefined || name === options.site,
  );

  for (const [name, site] of sites) {
    const add = (check: string, status: DoctorStatus, message: string) =>
      checks.push({ site: name, check, status, message });
    const metric = (metricName: string, help: string, value: number, labels: Record<string, string> = {}) =>
      metrics.push({ name: metricName, help, labels: { site: name, ...labels }, value });

    if (!site.backups) {
      add('backups', site.role === 'production' ? 'fail' : 'skip', 'no backups configured');
    } else {
      await guarded(name, 'backups', () => backupChecks(loaded, name, site, env, now, add, metric));
    }
    await guarded(name, 'pg_dump', () => pgDumpCheck(site, env, add));
    if (site.tls)
      await guarded(name, 'certificates', () =>
        certificateChecks(loaded, name, env, options.signal, add, metric),
      );
  }

  const promotion = loaded.config.promotion;
  if (
    promotion &&
    (options.site === undefined || options.site === promotion.from || options.site === promotion.to)
  ) {
    await guarded(null, 'config-drift', async () => {
      const { configurationDrift } = await import('../promotion/drift.js');
      const drift = await configurationDrift(loaded, {
        env,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (!drift) return;
      const labels = { from: drift.from, to: drift.to };
      metrics.push({
        name: 'tier4_config_drift_changes',
        help: 'Configuration differences between demo and production.',
        labels,
        value: drift.changes,
      });
      metrics.push({
        name: 'tier4_config_drift_destructive',
        help: 'Forms, lookups and reports production has and demo lacks.',
        labels,
        value: drift.destructive,
      });
      checks.push({
        site: null,
        check: 'config-drift',
        status: drift.inSync ? 'ok' : 'warn',
        message: drift.inSync
          ? `${drift.to} has ${drift.from}'s configuration`
          : `${drift.changes} difference(s) between ${drift.from} and ${drift.to}${drift.destructive ? `, ${drift.destructive} would be deleted on promotion` : ''}: see \`tier4 promote plan\``,
      });
    });
  }

  for (const check of checks) {
    metrics.push({
      name: 'tier4_check_ok',
      help: 'Whether a doctor check passed (1) or not (0); warnings count as passed.',
      labels: { site: check.site ?? '', check: check.check },
      value: check.status === 'fail' ? 0 : 1,
    });
  }
  const ok = checks.every((check) => check.status !== 'fail');
  metrics.push({
    name: 'tier4_doctor_ok',
    help: 'Whether every doctor check passed.',
    labels: {},
    value: ok ? 1 : 0,
  });
  metrics.push({
    name: 'tier4_doctor_timestamp_seconds',
    help: 'When the doctor ran.',
    labels: {},
    value: Math.floor(now.getTime() / 1000),
  });
  return { ok, generatedAt: now.toISOString(), checks, metrics };
}

type Add = (check: string, status: DoctorStatus, message: string) => void;
type AddMetric = (name: string, help: string, value: number, labels?: Record<string, string>) => void;

async function backupChecks(
  loaded: LoadedConfig,
  name: string,
  site: SiteConfig,
  env: NodeJS.ProcessEnv,
  now: Date,
  add: Add,
  metric: AddMetric,
): Promise<void> {
  const backups = site.backups!;
  add(
    'encryption',
    backups.encryption.recipients.length > 0 ? 'ok' : 'fail',
    `${backups.encryption.recipients.length} age recipient(s)`,
  );
  const { openSiteRepository, listSets } = await import('../backups/index.js');
  const { drillHistory, lastPassedDrill } = await import('../drills/store.js');
  let repo: Awaited<ReturnType<typeof openSiteRepository>>;
  try {
    repo = await openSiteRepository(loaded, name, env);
  } catch (error) {
    add('repository', 'fail', errorMessage(error));
    return;
  }
  try {
    let listing: Awaited<ReturnType<typeof listSets>>;
    try {
      listing = await listSets(repo);
    } catch (error) {
      add('repository', 'fail', `${repo.store.location} cannot be read: ${errorMessage(error)}`);
      return;
    }
    add(
      'repository',
      listing.untrusted.length > 0 ? 'fail' : 'ok',
      `${repo.store.location}: ${listing.sets.length} complete set(s)${listing.untrusted.length ? `, ${listing.untrusted.length} UNTRUSTED (manifest MAC fails)` : ''}`,
    );
    const rpo = backups.rpo.seconds;
    metric('tier4_backup_rpo_seconds', 'The recovery point objective configured for the site.', rpo);
    const newest = listing.sets.at(-1);
    if (!newest) {
      add('backup-age', 'fail', `no complete backup yet (RPO ${backups.rpo.text})`);
    } else {
      const at = new Date(newest.snapshotAt);
      const age = (now.getTime() - at.getTime()) / 1000;
      metric(
        'tier4_backup_last_success_timestamp_seconds',
        'Snapshot time of the newest complete backup set.',
        Math.floor(at.getTime() / 1000),
      );
      metric('tier4_backup_age_seconds', 'Age of the newest complete backup set.', Math.round(age));
      add(
        'backup-age',
        age <= rpo ? 'ok' : 'fail',
        `newest backup ${newest.id} is ${formatSeconds(age)} old (RPO ${backups.rpo.text})${age > rpo ? ': check the backup job' : ''}`,
      );
    }
    const interval = site.drills?.interval.seconds ?? DEFAULT_DRILL_INTERVAL;
    const history = await drillHistory(repo);
    const passed = lastPassedDrill(history);
    if (!passed) {
      add('drill', 'fail', `no passed restore drill on record: run \`tier4 drill --site ${name}\``);
    } else {
      const at = new Date(passed.startedAt);
      const age = (now.getTime() - at.getTime()) / 1000;
      metric(
        'tier4_drill_last_success_timestamp_seconds',
        'When the newest passed restore drill ran.',
        Math.floor(at.getTime() / 1000),
      );
      metric(
        'tier4_drill_rto_seconds',
        'Recovery time measured by the newest passed restore drill.',
        passed.measures.rtoSeconds,
      );
      add(
        'drill',
        age <= interval ? 'ok' : 'fail',
        `last passed drill ${formatSeconds(age)} ago (interval ${formatSeconds(interval)}), RTO ${formatSeconds(passed.measures.rtoSeconds)}${age > interval ? ': a drill is overdue' : ''}`,
      );
    }
    const lastDrill = history.at(-1);
    if (lastDrill && !lastDrill.report.ok)
      add('last-drill', 'warn', `the newest drill failed: ${lastDrill.report.failedChecks.join(', ')}`);
  } finally {
    await repo.store.close();
  }
}

async function pgDumpCheck(site: SiteConfig, env: NodeJS.ProcessEnv, add: Add): Promise<void> {
  const { connectDatabase } = await import('../backups/postgres/connection.js');
  const { findPgTool } = await import('../backups/postgres/pg-tools.js');
  const tool = await findPgTool('pg_dump', env);
  const client = await connectDatabase({
    url: site.database.url,
    password: resolveSecret(site.database.password, env),
  });
  try {
    const { rows } = await client.query<{ num: string }>(
      "SELECT current_setting('server_version_num') AS num",
    );
    const serverMajor = Math.floor(Number(rows[0]!.num) / 10_000);
    add(
      'pg_dump',
      tool.major >= serverMajor ? 'ok' : 'fail',
      `pg_dump ${tool.version} for PostgreSQL ${serverMajor}${tool.major < serverMajor ? `: install postgresql-client-${serverMajor}` : ''}`,
    );
  } finally {
    await client.end();
  }
}

async function certificateChecks(
  loaded: LoadedConfig,
  name: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal | undefined,
  add: Add,
  metric: AddMetric,
): Promise<void> {
  const { certificateHealth } = await import('../certs/status.js');
  const health = await certificateHealth(loaded, name, {
    ...(signal ? { signal } : {}),
    env,
  });
  for (const cert of health) {
    add(`certificate ${cert.certificate} (${cert.where})`, cert.status, cert.message);
    if (cert.daysLeft !== null) {
      metric('tier4_certificate_days_left', 'Days until the certificate expires.', cert.daysLeft, {
        certificate: cert.certificate,
        where: cert.where,
      });
    }
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
