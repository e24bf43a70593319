import type { SetSummary } from '../backups/index.js';
import type { CertificateHealth } from '../certs/index.js';
import type { CheckStatus } from '../core/checks.js';
import type { LoadedConfig } from '../core/config/load.js';
import { DEFAULT_DRILL_INTERVAL_SECONDS, type SiteConfig } from '../core/config/schema.js';
import { formatSeconds } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import { checkMessageSecret } from '../core/primero/message-secret.js';
import { resolveSecret } from '../core/secrets.js';
import type { Metric } from './prometheus.js';

/** The doctor speaks the one check vocabulary (core/checks.ts). */
export type DoctorStatus = CheckStatus;

export interface DoctorCheck {
  /** null for checks about the deployment as a whole (configuration drift). */
  site: string | null;
  check: string;
  status: DoctorStatus;
  message: string;
}

/** What the doctor read about a site, for the status page: ids, times, sizes and counts only. */
export interface SiteFindings {
  role: string;
  repository?: {
    location: string;
    readable: boolean;
    sets: SetSummary[];
    untrusted: number;
    incomplete: number;
    rpoSeconds: number;
  };
  drills: Array<{
    startedAt: string;
    setId: string;
    ok: boolean;
    authentic: boolean;
    rtoSeconds: number;
    dataAgeSeconds: number;
    failedChecks: string[];
  }>;
  drillIntervalSeconds: number;
  certificates: CertificateHealth[];
}

export interface DoctorReport {
  ok: boolean;
  generatedAt: string;
  checks: DoctorCheck[];
  metrics: Metric[];
  sites: Record<string, SiteFindings>;
}

export interface DoctorOptions {
  site?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  now?: () => Date;
  /** Each check gives up after this long, so one unreachable service never hangs the doctor. */
  timeoutMs?: number;
  /** Told when each check starts: the CLI logs it (with a time stamp when not on a terminal). */
  progress?: (message: string) => void;
}

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
  const findings: Record<string, SiteFindings> = {};
  const timeout = options.timeoutMs ?? 60_000;
  const guarded = async (site: string | null, check: string, work: () => Promise<void>) => {
    options.progress?.(`${site ?? 'deployment'}: checking ${check}…`);
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
    const found: SiteFindings = {
      role: site.role,
      drills: [],
      drillIntervalSeconds: site.drills?.interval.seconds ?? DEFAULT_DRILL_INTERVAL_SECONDS,
      certificates: [],
    };
    findings[name] = found;

    if (!site.backups) {
      add('backups', site.role === 'production' ? 'fail' : 'skip', 'no backups configured');
    } else {
      await guarded(name, 'backups', () => backupChecks(loaded, name, site, env, now, add, metric, found));
    }
    await guarded(name, 'pg_dump', () => pgDumpCheck(site, env, add));
    if (site.backups?.compression.method === 'zstd') await guarded(name, 'zstd', () => zstdCheck(env, add));
    if (site.primero.messageSecret) {
      const { status, message } = checkMessageSecret(site, env);
      add('message-secret', status, message);
    }
    await guarded(name, 'restores', async () => {
      const { lastRestoreAndDrill, restoreAuditPath } = await import('../backups/index.js');
      const last = lastRestoreAndDrill(restoreAuditPath(loaded), name);
      add('restores', last.status, last.message);
    });
    if (site.tls)
      await guarded(name, 'certificates', () =>
        certificateChecks(loaded, name, env, options.signal, add, metric, found),
      );
  }

  const promotion = loaded.config.promotion;
  if (
    promotion &&
    (options.site === undefined || options.site === promotion.from || options.site === promotion.to)
  ) {
    await guarded(null, 'config-drift', async () => {
      const { configurationDrift } = await import('../promotion/index.js');
      const drift = await configurationDrift(loaded, {
        env,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (!drift) return;
      // Every series carries a site label: drift is about the promotion's target.
      const labels = { site: drift.to, from: drift.from, to: drift.to };
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
      labels: { site: check.site ?? promotion?.to ?? '', check: check.check },
      value: check.status === 'fail' ? 0 : 1,
    });
  }
  const ok = checks.every((check) => check.status !== 'fail');
  for (const [name] of sites) {
    const labels = { site: name };
    const siteOk = checks.every(
      (check) => check.status !== 'fail' || (check.site !== null && check.site !== name),
    );
    metrics.push(
      {
        name: 'tier4_doctor_up',
        help: 'Whether the doctor could run its checks (1), or not (0): a configuration error, a crash, or not run yet.',
        labels,
        value: 1,
      },
      {
        name: 'tier4_doctor_ok',
        help: 'Whether every doctor check of the site passed.',
        labels,
        value: siteOk ? 1 : 0,
      },
      {
        name: 'tier4_doctor_last_run_timestamp_seconds',
        help: 'When the doctor last ran (Unix time).',
        labels,
        value: Math.floor(now.getTime() / 1000),
      },
    );
  }
  return { ok, generatedAt: now.toISOString(), checks, metrics, sites: findings };
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
  found: SiteFindings,
): Promise<void> {
  const backups = site.backups!;
  const { recipientProblem } = await import('../backups/index.js');
  const recipientsWrong = await recipientProblem(name, backups, env);
  add(
    'encryption',
    backups.encryption.recipients.length > 0 && !recipientsWrong ? 'ok' : 'fail',
    recipientsWrong ?? `${backups.encryption.recipients.length} age recipient(s)`,
  );
  const { openSiteRepository, listSets } = await import('../backups/index.js');
  const { drillHistory, lastPassedDrill } = await import('../drills/index.js');
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
      metric('tier4_repository_up', REPOSITORY_UP_HELP, 0);
      found.repository = {
        location: repo.store.location,
        readable: false,
        sets: [],
        untrusted: 0,
        incomplete: 0,
        rpoSeconds: backups.rpo.seconds,
      };
      add('repository', 'fail', `${repo.store.location} cannot be read: ${errorMessage(error)}`);
      return;
    }
    metric('tier4_repository_up', REPOSITORY_UP_HELP, 1);
    found.repository = {
      location: repo.store.location,
      readable: true,
      sets: listing.sets,
      untrusted: listing.untrusted.length,
      incomplete: listing.incomplete.length,
      rpoSeconds: backups.rpo.seconds,
    };
    metric(
      'tier4_backup_sets',
      'Complete backup sets in the repository (manifest MAC verified).',
      listing.sets.length,
    );
    metric(
      'tier4_backup_untrusted_sets',
      'Backup sets whose manifest fails its MAC: altered, or written under another integrity key.',
      listing.untrusted.length,
    );
    metric(
      'tier4_backup_incomplete_sets',
      'Backup sets without a manifest (interrupted).',
      listing.incomplete.length,
    );
    add(
      'repository',
      listing.untrusted.length > 0 ? 'fail' : 'ok',
      `${repo.store.location}: ${listing.sets.length} complete set(s)${listing.untrusted.length ? `, ${listing.untrusted.length} UNTRUSTED (manifest MAC fails)` : ''}`,
    );
    add('repository-marker', ...markerCheck(listing.marker, listing.sets.length, repo.store.location, name));
    const rpo = backups.rpo.seconds;
    metric('tier4_backup_rpo_seconds', 'The recovery point objective configured for the site.', rpo);
    const newest = listing.sets.at(-1);
    if (newest) {
      metric(
        'tier4_backup_last_timestamp_seconds',
        'Snapshot time of the newest complete backup set, with or without problems (Unix time).',
        toUnix(newest.snapshotAt),
      );
      metric(
        'tier4_backup_last_size_bytes',
        'Stored size of the newest complete backup set.',
        newest.totalBytes,
      );
      metric(
        'tier4_backup_last_problems',
        'Problems recorded by the newest backup set (missing or damaged attachments), plus 1 if its last verification failed.',
        setProblems(newest),
      );
      if (setProblems(newest) > 0) {
        add(
          'backup-problems',
          'fail',
          `newest backup ${newest.id} ${describeProblems(newest)}: see \`tier4 backup list --site ${name}\``,
        );
      } else {
        add('backup-problems', 'ok', `newest backup ${newest.id} has no problems`);
      }
    }
    // A set with problems restores incompletely: it is not a successful backup, whatever its age.
    const success = listing.sets.filter((set) => setProblems(set) === 0).at(-1);
    if (!success) {
      add(
        'backup-age',
        'fail',
        newest
          ? `no backup without problems (RPO ${backups.rpo.text}): check the backup job`
          : `no complete backup yet (RPO ${backups.rpo.text})`,
      );
    } else {
      const at = new Date(success.snapshotAt);
      const age = (now.getTime() - at.getTime()) / 1000;
      metric(
        'tier4_backup_last_success_timestamp_seconds',
        'Snapshot time of the newest complete backup set without problems (Unix time).',
        toUnix(success.snapshotAt),
      );
      metric('tier4_backup_last_success_size_bytes', 'Stored size of that set.', success.totalBytes);
      add(
        'backup-age',
        age <= rpo ? 'ok' : 'fail',
        `newest good backup ${success.id} is ${formatSeconds(age)} old (RPO ${backups.rpo.text})${age > rpo ? ': check the backup job' : ''}`,
      );
    }
    const interval = site.drills?.interval.seconds ?? DEFAULT_DRILL_INTERVAL_SECONDS;
    metric('tier4_drill_interval_seconds', 'How often a restore drill must pass.', interval);
    const history = await drillHistory(repo);
    found.drills = history.map((entry) => ({
      startedAt: entry.report.startedAt,
      setId: entry.report.setId,
      ok: entry.report.ok,
      authentic: entry.authentic,
      rtoSeconds: entry.report.measures.rtoSeconds,
      dataAgeSeconds: entry.report.measures.dataAgeSeconds,
      failedChecks: entry.report.failedChecks,
    }));
    const passed = lastPassedDrill(history);
    if (!passed) {
      add('drill', 'fail', `no passed restore drill on record: run \`tier4 drill --site ${name}\``);
    } else {
      const at = new Date(passed.startedAt);
      const age = (now.getTime() - at.getTime()) / 1000;
      metric(
        'tier4_drill_last_success_timestamp_seconds',
        'When the newest passed restore drill ran (Unix time).',
        toUnix(passed.startedAt),
      );
      metric(
        'tier4_drill_rto_seconds',
        'Recovery time measured by the newest passed restore drill.',
        passed.measures.rtoSeconds,
      );
      metric(
        'tier4_drill_data_age_seconds',
        'Age of the restored data at the newest passed drill (the recovery point it achieved).',
        passed.measures.dataAgeSeconds,
      );
      add(
        'drill',
        age <= interval ? 'ok' : 'fail',
        `last passed drill ${formatSeconds(age)} ago (interval ${formatSeconds(interval)}), RTO ${formatSeconds(passed.measures.rtoSeconds)}${age > interval ? ': a drill is overdue' : ''}`,
      );
    }
    const lastDrill = history.at(-1);
    if (lastDrill) {
      const lastOk = lastDrill.authentic && lastDrill.report.ok;
      metric(
        'tier4_drill_last_ok',
        'Whether the newest restore drill passed (1) or failed (0); an altered drill record counts as failed.',
        lastOk ? 1 : 0,
      );
      metric(
        'tier4_drill_last_timestamp_seconds',
        'When the newest restore drill ran, passed or not (Unix time).',
        toUnix(lastDrill.report.startedAt),
      );
      if (!lastOk)
        add(
          'last-drill',
          'warn',
          lastDrill.authentic
            ? `the newest drill failed: ${lastDrill.report.failedChecks.join(', ')}`
            : 'the newest drill record fails its MAC: altered, or written under another integrity key',
        );
    }
  } finally {
    await repo.store.close();
  }
}

const REPOSITORY_UP_HELP = 'Whether the backup repository could be listed (1) or not (0).';

type ListedSet = Awaited<ReturnType<typeof import('../backups/index.js').listSets>>['sets'][number];

/** Problems of a set: what its backup recorded, plus a failed verification. */
/**
 * The repository marker (backups/repository-marker.ts): backup create refuses a new repository that was not
 * initialised by hand, and one initialised under another integrity key, so the scheduled job would fail.
 */
function markerCheck(
  marker: 'initialised' | 'uninitialised' | 'foreign',
  sets: number,
  location: string,
  site: string,
): [DoctorStatus, string] {
  if (marker === 'initialised') return ['ok', `${location} is initialised under a configured integrity key`];
  if (marker === 'foreign')
    return [
      'fail',
      `${location} was initialised under a different integrity key, so backups are refused: check backups.integrityKey / previousIntegrityKeys and backups.repository`,
    ];
  if (sets > 0)
    return [
      'warn',
      `${location} was written before repository markers; the next backup adopts it, or now: \`tier4 backup init --site ${site}\``,
    ];
  return [
    'fail',
    `${location} is not initialised (no repository marker), so scheduled backups are refused: if backups.repository is right, once by hand: \`tier4 backup init --site ${site}\``,
  ];
}

function setProblems(set: ListedSet): number {
  return set.problems + (set.lastVerified && !set.lastVerified.ok ? 1 : 0);
}

function describeProblems(set: ListedSet): string {
  const parts = [];
  if (set.problems > 0) parts.push(`has ${set.problems} missing or damaged attachment(s)`);
  if (set.lastVerified && !set.lastVerified.ok) parts.push(`failed verification at ${set.lastVerified.at}`);
  return parts.join(' and ');
}

function toUnix(iso: string): number {
  return Math.floor(new Date(iso).getTime() / 1000);
}

/** The dump is compressed by the zstd program (decision 0018): a backup without it cannot start. */
async function zstdCheck(env: NodeJS.ProcessEnv, add: Add): Promise<void> {
  const { findZstd, ZSTD_HINT } = await import('../backups/index.js');
  try {
    const tool = await findZstd(env);
    add('zstd', 'ok', `zstd ${tool.version} compresses the dump`);
  } catch (error) {
    add('zstd', 'fail', `${errorMessage(error)} ${ZSTD_HINT}`);
  }
}

async function pgDumpCheck(site: SiteConfig, env: NodeJS.ProcessEnv, add: Add): Promise<void> {
  const { connectDatabase } = await import('../core/postgres/connection.js');
  const { findPgTool } = await import('../core/postgres/pg-tools.js');
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
    // A restore that never finished leaves its marker on the database (backups/postgres/restore-marker.ts).
    const { databaseName } = await import('../core/postgres/connection.js');
    const { describeIncomplete, readIncomplete } = await import('../backups/index.js');
    const name = databaseName(site.database.url);
    const incomplete = await readIncomplete(client, name);
    if (incomplete)
      add('restore', 'fail', `the ${describeIncomplete(name, incomplete)}: restore it again with --replace`);
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
  found: SiteFindings,
): Promise<void> {
  const { certificateHealth } = await import('../certs/index.js');
  const health = await certificateHealth(loaded, name, {
    ...(signal ? { signal } : {}),
    env,
  });
  found.certificates = health;
  for (const cert of health) {
    add(`certificate ${cert.certificate} (${cert.where})`, cert.status, cert.message);
    const labels = { certificate: cert.certificate, where: cert.where };
    if (cert.notAfter !== null) {
      metric(
        'tier4_certificate_expiry_timestamp_seconds',
        'When the certificate expires (Unix time).',
        toUnix(cert.notAfter),
        labels,
      );
    }
    metric(
      'tier4_certificate_ok',
      'Whether the certificate check passed (1) or failed (0).',
      cert.status === 'fail' ? 0 : 1,
      labels,
    );
    if (cert.servedMatchesStored !== undefined) {
      metric(
        'tier4_certificate_served_matches_stored',
        'Whether the served certificate is the stored one (0: the server was not reloaded after a renewal).',
        cert.servedMatchesStored ? 1 : 0,
        { certificate: cert.certificate },
      );
    }
  }
  const tls = loaded.config.sites[name]?.tls;
  if (tls) {
    metric(
      'tier4_certificate_warn_seconds',
      'Warn when a certificate expires sooner than this (tls.warnDays).',
      tls.warnDays * 86_400,
    );
    metric(
      'tier4_certificate_fail_seconds',
      'Fail when a certificate expires sooner than this (tls.failDays).',
      tls.failDays * 86_400,
    );
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
