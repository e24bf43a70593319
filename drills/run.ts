import { randomBytes, randomInt } from 'node:crypto';
import { decryptStream } from '../backups/crypto/age.js';
import { digestOf } from '../backups/crypto/digest.js';
import { compactTime } from '../backups/layout.js';
import { acquireRestoreLock } from '../backups/lock.js';
import { connectDatabase, type DatabaseTarget, withDatabase } from '../backups/postgres/connection.js';
import { readFacts } from '../backups/postgres/snapshot.js';
import type { ProgressListener } from '../backups/progress.js';
import { planRestore, runRestore } from '../backups/restore.js';
import type { SiteRepository } from '../backups/site-repository.js';
import { findSet, verifySet } from '../backups/verify.js';
import { errorMessage, OperationError } from '../core/errors.js';
import { toolVersion } from '../core/package-info.js';
import { REQUIRED_EXTENSIONS } from '../core/primero/tables.js';
import { CHECK_ORDER, type DrillCheck, type DrillReport } from './report.js';

export interface DrillOptions {
  /** Backup set id; default the newest complete set. */
  backupId?: string;
  identities: string[];
  /** The server that receives the scratch database (URL of any database on it, and the password). */
  server: DatabaseTarget;
  /** Attachments to decrypt and check (default 50, all if fewer). */
  sample?: number;
  /** GET <healthUrl>/health of a Primero started on the restored data; skipped when absent. */
  healthUrl?: string;
  jobs?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

/**
 * A restore drill: verify the set, restore it into a new scratch database (never the live one), prove the data
 * is complete and usable, measure how long recovery took, and drop the scratch database, also after a failure
 * or an interruption.
 */
export async function runDrill(repo: SiteRepository, options: DrillOptions): Promise<DrillReport> {
  // A prune must not delete the set while the drill reads it.
  const lock = await acquireRestoreLock(repo.state, repo.site, 'drill');
  try {
    return await drill(repo, options);
  } finally {
    await lock.release();
  }
}

async function drill(repo: SiteRepository, options: DrillOptions): Promise<DrillReport> {
  const started = new Date();
  const id = `${compactTime(started)}-${randomBytes(3).toString('hex')}`;
  const checks: DrillCheck[] = [];
  const steps: DrillReport['steps'] = [];
  const note = (message: string) => options.onProgress?.({ phase: 'note', message });
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    options.signal?.throwIfAborted();
    const at = Date.now();
    note(`drill: ${name}`);
    try {
      return await work();
    } finally {
      steps.push({ step: name, seconds: (Date.now() - at) / 1000 });
    }
  };
  const check = (
    name: string,
    status: DrillCheck['status'],
    evidence: string,
    details?: Record<string, unknown>,
  ) => checks.push({ name, status, evidence, ...(details ? { details } : {}) });
  /** Marks this check and every later one up to the health check as not run. */
  const skipFrom = (first: (typeof CHECK_ORDER)[number], why: string) => {
    for (const name of CHECK_ORDER.slice(CHECK_ORDER.indexOf(first), CHECK_ORDER.indexOf('health')))
      check(name, 'skip', why);
  };

  const entry = await findSet(repo, options.backupId ?? 'latest');
  const manifest = entry.manifest;
  // A tampered newest manifest must not quietly turn the drill into a drill of an older set.
  for (const warning of entry.warnings) note(`warning: ${warning}`);
  if (entry.skippedUntrusted.length > 0)
    check('newest-set', 'fail', entry.warnings[0]!, { untrusted: entry.skippedUntrusted });
  let bytesMoved = 0;

  const verification = await step('verify checksums', () =>
    verifySet(repo, manifest.id, { record: false, ...(options.signal ? { signal: options.signal } : {}) }),
  );
  bytesMoved += verification.bytes;
  check(
    'checksums',
    verification.ok ? 'pass' : 'fail',
    verification.ok
      ? `${verification.objects} objects (${verification.bytes} bytes) match the manifest's SHA-256 and sizes`
      : `${verification.failures.length} of ${verification.objects} objects do not match: ${verification.failures.map((f) => `${f.object} (${f.problem})`).join('; ')}`,
  );
  const damaged = new Set(verification.failures.map((failure) => failure.object));
  const dumpDamaged = damaged.has(manifest.database.object);

  const scratch = `tier4_drill_${repo.site.replaceAll('-', '_')}_${randomBytes(4).toString('hex')}`;
  const target: DatabaseTarget = {
    url: withDatabase(options.server.url, scratch),
    password: options.server.password,
  };
  let verifiedAt = Date.now();
  try {
    if (dumpDamaged) {
      skipFrom('decryption', 'not run: the database dump failed verification');
    } else {
      let plan: Awaited<ReturnType<typeof planRestore>> | undefined;
      try {
        plan = await step('decrypt', () =>
          planRestore(repo, manifest.id, target, options.identities, { verified: verification }),
        );
        check(
          'decryption',
          'pass',
          `the configured identity decrypts the dump (one of ${manifest.encryption.recipients.length} recipient(s))`,
        );
      } catch (error) {
        check('decryption', 'fail', errorMessage(error));
      }
      if (plan) {
        const restored = await step('restore into the scratch database', () =>
          runRestore(repo, plan, {
            identities: options.identities,
            jobs: options.jobs ?? 2,
            ...(options.signal ? { signal: options.signal } : {}),
          }),
        );
        bytesMoved += manifest.database.size;
        check(
          'restore',
          'pass',
          `pg_restore restored ${restored.restoredTables} tables in ${restored.seconds.database.toFixed(1)} s`,
        );
        await step('compare with the manifest', () => compareFacts(target, manifest, check));
        bytesMoved += await step('check a sample of attachments', () =>
          checkAttachments(repo, manifest, target, damaged, options, check),
        );
      } else {
        skipFrom('restore', 'not run: the dump could not be decrypted');
      }
    }
    verifiedAt = Date.now();
    await step('health check', () => healthCheck(options.healthUrl, check));
  } finally {
    await dropScratch(target, scratch);
  }

  const failedChecks = checks.filter((c) => c.status === 'fail').map((c) => c.name);
  return {
    format: 'tier4-drill/1',
    id,
    site: repo.site,
    setId: manifest.id,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    ok: failedChecks.length === 0,
    failedChecks,
    checks,
    measures: {
      rtoSeconds: (verifiedAt - started.getTime()) / 1000,
      dataAgeSeconds: Math.max(0, (started.getTime() - new Date(manifest.snapshotAt).getTime()) / 1000),
      bytesMoved,
    },
    steps,
    scratchDatabase: scratch,
    tool: { name: 'primero-tier4', version: toolVersion() },
  };
}

type CheckFn = (
  name: string,
  status: DrillCheck['status'],
  evidence: string,
  details?: Record<string, unknown>,
) => void;
type Manifest = Awaited<ReturnType<typeof findSet>>['manifest'];

async function compareFacts(target: DatabaseTarget, manifest: Manifest, check: CheckFn): Promise<void> {
  const client = await connectDatabase(target);
  try {
    const facts = await readFacts(client);
    const expected = manifest.database.rowCounts;
    const mismatches = Object.entries(expected).filter(([table, count]) => facts.rowCounts[table] !== count);
    check(
      'row-counts',
      mismatches.length === 0 ? 'pass' : 'fail',
      mismatches.length === 0
        ? `${Object.keys(expected).length} key tables have the manifest's row counts (cases: ${expected.cases ?? 0})`
        : `differ: ${mismatches.map(([table, count]) => `${table} ${facts.rowCounts[table] ?? 'missing'} vs ${count}`).join(', ')}`,
      { expected, restored: facts.rowCounts },
    );
    const same = (a: string | null, b: string | null) => a === b;
    check(
      'schema-migrations',
      same(facts.latestMigration, manifest.database.latestMigration) ? 'pass' : 'fail',
      `newest schema_migrations version ${facts.latestMigration ?? 'none'} (manifest: ${manifest.database.latestMigration ?? 'none'})`,
    );
    check(
      'primero-version',
      same(facts.primeroVersion, manifest.database.primeroVersion) ? 'pass' : 'fail',
      `system_settings.primero_version ${facts.primeroVersion ?? 'none'} (manifest: ${manifest.database.primeroVersion ?? 'none'})`,
    );
    const present = new Set(facts.extensions.map((e) => e.name));
    const missing = REQUIRED_EXTENSIONS.filter((name) => !present.has(name));
    check(
      'extensions',
      missing.length === 0 ? 'pass' : 'fail',
      missing.length === 0 ? `present: ${REQUIRED_EXTENSIONS.join(', ')}` : `missing: ${missing.join(', ')}`,
    );
    const settings = facts.rowCounts.system_settings ?? 0;
    check('system-settings', settings > 0 ? 'pass' : 'fail', `system_settings has ${settings} row(s)`);
  } finally {
    await client.end();
  }
}

/**
 * Decrypts a random sample of attachments (plus any whose stored object failed its checksum) and compares each
 * with active_storage_blobs.checksum as read from the restored database.
 */
async function checkAttachments(
  repo: SiteRepository,
  manifest: Manifest,
  target: DatabaseTarget,
  damaged: Set<string>,
  options: DrillOptions,
  check: CheckFn,
): Promise<number> {
  const blobs = manifest.attachments.blobs;
  if (blobs.length === 0) {
    check('attachments', 'pass', 'the set has no attachments');
    return 0;
  }
  const shuffled = [...blobs];
  for (let i = shuffled.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const sample = shuffled.slice(0, Math.min(blobs.length, options.sample ?? 50));
  for (const blob of blobs) if (damaged.has(blob.object) && !sample.includes(blob)) sample.push(blob);
  const chosen = new Map(sample.map((blob) => [blob.key, blob]));
  const client = await connectDatabase(target);
  let restoredChecksums: Map<string, string | null>;
  try {
    const { rows } = await client.query<{ key: string; checksum: string | null }>(
      'SELECT key, checksum FROM active_storage_blobs WHERE key = ANY($1::varchar[])',
      [[...chosen.keys()]],
    );
    restoredChecksums = new Map(rows.map((row) => [row.key, row.checksum]));
  } finally {
    await client.end();
  }
  const problems: string[] = [];
  let bytes = 0;
  for (const blob of chosen.values()) {
    options.signal?.throwIfAborted();
    const expected = restoredChecksums.get(blob.key);
    if (expected === undefined) {
      problems.push(`${blob.key}: not in the restored active_storage_blobs`);
      continue;
    }
    try {
      const plain = await decryptStream(await repo.store.get(blob.object), options.identities, blob.object);
      const { bytes: size, digest } = await digestOf(plain, 'md5', 'base64');
      bytes += blob.size;
      if (expected !== null && digest !== expected)
        problems.push(`${blob.key}: MD5 does not match active_storage_blobs.checksum`);
      else if (size !== blob.plainSize)
        problems.push(`${blob.key}: ${size} bytes, expected ${blob.plainSize}`);
    } catch (error) {
      problems.push(`${blob.key}: ${errorMessage(error)}`);
    }
  }
  check(
    'attachments',
    problems.length === 0 ? 'pass' : 'fail',
    problems.length === 0
      ? `${chosen.size} of ${blobs.length} attachments decrypted and matched active_storage_blobs.checksum`
      : `${problems.length} of ${chosen.size} sampled attachments failed: ${problems.join('; ')}`,
  );
  return bytes;
}

async function healthCheck(url: string | undefined, check: CheckFn): Promise<void> {
  if (!url) {
    check('health', 'skip', 'no drills.healthUrl configured: no Primero was started on the restored data');
    return;
  }
  const endpoint = new URL('/health', url).toString();
  try {
    const response = await fetch(endpoint, { signal: AbortSignal.timeout(15_000) });
    check(
      'health',
      response.status === 204 || response.status === 200 ? 'pass' : 'fail',
      `GET ${endpoint} answered ${response.status}`,
    );
  } catch (error) {
    check('health', 'fail', `GET ${endpoint} failed: ${errorMessage(error)}`);
  }
}

async function dropScratch(target: DatabaseTarget, scratch: string): Promise<void> {
  try {
    const admin = await connectDatabase({ ...target, url: withDatabase(target.url, 'postgres') });
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${scratch}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  } catch (error) {
    throw new OperationError(
      `The drill could not drop its scratch database ${scratch}: ${errorMessage(error)}`,
      `Drop it by hand: DROP DATABASE "${scratch}";`,
    );
  }
}
