import { randomBytes, randomInt } from 'node:crypto';
import type { ProgressListener, SiteRepository } from '../backups/index.js';
import {
  acquireRestoreLock,
  compactTime,
  decryptStream,
  digestOf,
  findSet,
  planRestore,
  readFacts,
  runRestore,
  verifySet,
} from '../backups/index.js';
import { DEFAULT_DRILL_SAMPLE } from '../core/config/schema.js';
import { errorMessage } from '../core/errors.js';
import { toolVersion } from '../core/package-info.js';
import { connectDatabase, type DatabaseTarget, withDatabase } from '../core/postgres/connection.js';
import { REQUIRED_EXTENSIONS } from '../core/primero/tables.js';
import { StepRunner } from '../core/steps.js';
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
  const note = (message: string) => options.onProgress?.({ phase: 'note', message });
  // Every step's outcome is recorded, a failing one included: the report is the evidence whatever happens.
  const steps = new StepRunner({
    ...(options.signal ? { signal: options.signal } : {}),
    onStart: (name) => note(`drill: ${name}`),
  });
  const check = (
    name: string,
    status: DrillCheck['status'],
    evidence: string,
    details?: Record<string, unknown>,
  ) => checks.push({ name, status, evidence, ...(details ? { details } : {}) });
  const recorded = (name: string) => checks.some((c) => c.name === name);
  /** A step that threw: its check fails with the error, unless the step already recorded a verdict. */
  const stepFailed = (name: (typeof CHECK_ORDER)[number], step: string, message: string) => {
    if (!recorded(name)) check(name, 'fail', `${step} failed: ${message}`);
  };

  const entry = await findSet(repo, options.backupId ?? 'latest');
  const manifest = entry.manifest;
  // A tampered newest manifest must not quietly turn the drill into a drill of an older set.
  for (const warning of entry.warnings) note(`warning: ${warning}`);
  if (entry.skippedUntrusted.length > 0)
    check('newest-set', 'fail', entry.warnings[0]!, { untrusted: entry.skippedUntrusted });
  let bytesMoved = 0;

  const scratch = `tier4_drill_${repo.site.replaceAll('-', '_')}_${randomBytes(4).toString('hex')}`;
  const target: DatabaseTarget = {
    url: withDatabase(options.server.url, scratch),
    password: options.server.password,
  };
  let verifiedAt = Date.now();
  try {
    await checkedSteps();
  } finally {
    // A failing drop is recorded beside the original failure, never instead of it.
    const dropped = await steps.cleanup('drop the scratch database', () => dropScratch(target, scratch));
    if (!dropped.ok)
      check(
        'cleanup',
        'fail',
        `the scratch database ${scratch} could not be dropped (${dropped.message}): drop it by hand, DROP DATABASE "${scratch}";`,
      );
  }

  async function checkedSteps(): Promise<void> {
    const verified = await steps.run('verify checksums', () =>
      verifySet(repo, manifest.id, { record: false, ...(options.signal ? { signal: options.signal } : {}) }),
    );
    if (!verified.ok) {
      stepFailed('checksums', 'verify checksums', verified.message);
      return;
    }
    const verification = verified.value;
    bytesMoved += verification.bytes;
    check(
      'checksums',
      verification.ok ? 'ok' : 'fail',
      verification.ok
        ? `${verification.objects} objects (${verification.bytes} bytes) match the manifest's SHA-256 and sizes`
        : `${verification.failures.length} of ${verification.objects} objects do not match: ${verification.failures.map((f) => `${f.object} (${f.problem})`).join('; ')}`,
    );
    const damaged = new Set(verification.failures.map((failure) => failure.object));
    if (damaged.has(manifest.database.object)) {
      skipFrom('decryption', 'not run: the database dump failed verification');
    } else {
      await restoreAndCheck(verification, damaged);
    }
    verifiedAt = Date.now();
    const health = await steps.run('health check', () => healthCheck(options.healthUrl, check));
    if (!health.ok) stepFailed('health', 'health check', health.message);
  }

  /** Restores into the scratch database and checks it; a failing step fails its check and skips the rest. */
  async function restoreAndCheck(
    verification: Awaited<ReturnType<typeof verifySet>>,
    damaged: Set<string>,
  ): Promise<void> {
    // Reading the dump's header proves the identity works; a failure here is the identity's, not the server's.
    const decrypted = await steps.run('decrypt', async () => {
      const object = manifest.database.object;
      (await decryptStream(await repo.store.get(object), options.identities, object)).destroy();
    });
    if (!decrypted.ok) {
      check('decryption', 'fail', decrypted.message);
      skipFrom('restore', 'not run: the dump could not be decrypted');
      return;
    }
    check(
      'decryption',
      'ok',
      `the configured identity decrypts the dump (one of ${manifest.encryption.recipients.length} recipient(s))`,
    );
    const restored = await steps.run('restore into the scratch database', async () => {
      const plan = await planRestore(repo, manifest.id, target, options.identities, {
        verified: verification,
      });
      return runRestore(repo, plan, {
        identities: options.identities,
        jobs: options.jobs ?? 2,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    });
    if (!restored.ok) {
      stepFailed('restore', 'restore into the scratch database', restored.message);
      skipFrom('row-counts', 'not run: the restore into the scratch database failed');
      return;
    }
    bytesMoved += manifest.database.size;
    check(
      'restore',
      'ok',
      `pg_restore restored ${restored.value.restoredTables} tables in ${restored.value.seconds.database.toFixed(1)} s`,
    );
    const compared = await steps.run('compare with the manifest', () =>
      compareFacts(target, manifest, check),
    );
    if (!compared.ok) {
      stepFailed('row-counts', 'compare with the manifest', compared.message);
      skipFrom('schema-migrations', 'not run: the comparison with the manifest failed');
    }
    const sampled = await steps.run('check a sample of attachments', () =>
      checkAttachments(repo, manifest, target, damaged, options, check),
    );
    if (sampled.ok) bytesMoved += sampled.value;
    else stepFailed('attachments', 'check a sample of attachments', sampled.message);
  }

  /** Marks this check and every later one up to the health check as not run (those not decided already). */
  function skipFrom(first: (typeof CHECK_ORDER)[number], why: string): void {
    for (const name of CHECK_ORDER.slice(CHECK_ORDER.indexOf(first), CHECK_ORDER.indexOf('health')))
      if (!recorded(name)) check(name, 'skip', why);
  }

  // A check no step reached (e.g. after the verification itself failed) is shown as not run, never left out.
  for (const name of CHECK_ORDER) if (!recorded(name)) check(name, 'skip', 'not run: an earlier step failed');
  const rank = (name: string) => {
    const at = (CHECK_ORDER as readonly string[]).indexOf(name);
    return name === 'newest-set' ? -1 : at === -1 ? CHECK_ORDER.length : at;
  };
  checks.sort((a, b) => rank(a.name) - rank(b.name));
  const failedChecks = checks.filter((c) => c.status === 'fail').map((c) => c.name);
  return {
    format: 'tier4-drill/2',
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
    steps: steps.records,
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
      mismatches.length === 0 ? 'ok' : 'fail',
      mismatches.length === 0
        ? `${Object.keys(expected).length} key tables have the manifest's row counts (cases: ${expected.cases ?? 0})`
        : `differ: ${mismatches.map(([table, count]) => `${table} ${facts.rowCounts[table] ?? 'missing'} vs ${count}`).join(', ')}`,
      { expected, restored: facts.rowCounts },
    );
    const same = (a: string | null, b: string | null) => a === b;
    check(
      'schema-migrations',
      same(facts.latestMigration, manifest.database.latestMigration) ? 'ok' : 'fail',
      `newest schema_migrations version ${facts.latestMigration ?? 'none'} (manifest: ${manifest.database.latestMigration ?? 'none'})`,
    );
    check(
      'primero-version',
      same(facts.primeroVersion, manifest.database.primeroVersion) ? 'ok' : 'fail',
      `system_settings.primero_version ${facts.primeroVersion ?? 'none'} (manifest: ${manifest.database.primeroVersion ?? 'none'})`,
    );
    const present = new Set(facts.extensions.map((e) => e.name));
    const missing = REQUIRED_EXTENSIONS.filter((name) => !present.has(name));
    check(
      'extensions',
      missing.length === 0 ? 'ok' : 'fail',
      missing.length === 0 ? `present: ${REQUIRED_EXTENSIONS.join(', ')}` : `missing: ${missing.join(', ')}`,
    );
    const settings = facts.rowCounts.system_settings ?? 0;
    check('system-settings', settings > 0 ? 'ok' : 'fail', `system_settings has ${settings} row(s)`);
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
    check('attachments', 'ok', 'the set has no attachments');
    return 0;
  }
  const shuffled = [...blobs];
  for (let i = shuffled.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const sample = shuffled.slice(0, Math.min(blobs.length, options.sample ?? DEFAULT_DRILL_SAMPLE));
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
    problems.length === 0 ? 'ok' : 'fail',
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
      response.status === 204 || response.status === 200 ? 'ok' : 'fail',
      `GET ${endpoint} answered ${response.status}`,
    );
  } catch (error) {
    check('health', 'fail', `GET ${endpoint} failed: ${errorMessage(error)}`);
  }
}

async function dropScratch(target: DatabaseTarget, scratch: string): Promise<void> {
  const admin = await connectDatabase({ ...target, url: withDatabase(target.url, 'postgres') });
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${scratch}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
