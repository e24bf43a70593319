import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { mapLimit } from '../core/concurrency.js';
import { OperationError, UsageError } from '../core/errors.js';
import type { BlobEndpoint } from './attachments.js';
import { decryptStream } from './crypto/age.js';
import { DigestStream } from './crypto/digest.js';
import type { Manifest } from './manifest.js';
import {
  connectDatabase,
  type DatabaseTarget,
  databaseName,
  describeDatabase,
  pgToolEnv,
  withDatabase,
} from './postgres/connection.js';
import { assertToolCanHandle, findPgTool, toolErrorDetail } from './postgres/pg-tools.js';
import type { ProgressListener } from './progress.js';
import type { SiteRepository } from './site-repository.js';
import { findSet, type VerifyReport, verifySet } from './verify.js';

export type TargetState = 'absent' | 'empty' | 'not-empty';

export interface RestorePlan {
  manifest: Manifest;
  verification: VerifyReport;
  target: DatabaseTarget;
  targetState: TargetState;
  targetServerMajor: number;
}

/**
 * Everything that can be checked before touching the target: the set is complete and authentic, every object
 * matches its checksum, the identity decrypts it, the target server is reachable and new enough, and whether
 * the target database exists and holds anything.
 */
export async function planRestore(
  repo: SiteRepository,
  id: string,
  target: DatabaseTarget,
  identities: string[],
  options: {
    signal?: AbortSignal;
    onProgress?: ProgressListener;
    /** A verification the caller already ran (a drill); then only the database dump must have passed it. */
    verified?: VerifyReport;
  } = {},
): Promise<RestorePlan> {
  const entry = await findSet(repo, id);
  const verification = options.verified ?? (await verifySet(repo, entry.id, { ...options, record: false }));
  const blocking = options.verified
    ? verification.failures.filter((failure) => failure.object === entry.manifest.database.object)
    : verification.failures;
  if (blocking.length > 0) {
    const first = blocking[0]!;
    throw new OperationError(
      `Backup set ${entry.id} failed verification: ${first.object}: ${first.problem}${blocking.length > 1 ? ` (and ${blocking.length - 1} more)` : ''}. Nothing was restored.`,
      'Restore an older set (`tier4 backup list`), and investigate the repository.',
    );
  }
  // Reading the header proves the identity works before anything is written.
  const probe = await decryptStream(
    await repo.store.get(entry.manifest.database.object),
    identities,
    entry.manifest.database.object,
  );
  probe.destroy();

  const admin = await connectDatabase({ ...target, url: withDatabase(target.url, 'postgres') });
  try {
    const server = await admin.query<{ num: string }>("SELECT current_setting('server_version_num') AS num");
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      databaseName(target.url),
    ]);
    let targetState: TargetState = exists.rowCount ? 'empty' : 'absent';
    if (targetState === 'empty') {
      const db = await connectDatabase(target);
      try {
        const { rows } = await db.query(
          "SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')",
        );
        if (rows[0].n > 0) targetState = 'not-empty';
      } finally {
        await db.end();
      }
    }
    return {
      manifest: entry.manifest,
      verification,
      target,
      targetState,
      targetServerMajor: Math.floor(Number(server.rows[0]!.num) / 10_000),
    };
  } finally {
    await admin.end();
  }
}

export interface RestoreOptions {
  identities: string[];
  /** Drop and recreate a target database that holds anything. */
  replace?: boolean;
  /** Parallel pg_restore jobs; above 1 the dump is decrypted to a private temp file first (pg_restore -j needs one). */
  jobs?: number;
  attachmentsTo?: BlobEndpoint;
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  tempDir?: string;
}

export interface RestoreResult {
  id: string;
  database: string;
  restoredTables: number;
  attachments: number;
  attachmentBytes: number;
  seconds: { database: number; attachments: number; total: number };
}

export async function runRestore(
  repo: SiteRepository,
  plan: RestorePlan,
  options: RestoreOptions,
): Promise<RestoreResult> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => {});
  const { manifest, target } = plan;
  if (plan.targetState === 'not-empty' && !options.replace) {
    throw new UsageError(
      `The target database ${describeDatabase(target.url)} is not empty; nothing was restored.`,
      'Restore into a new database, or pass --replace to drop and recreate it.',
    );
  }
  const pgRestore = await findPgTool('pg_restore', repo.env);
  assertToolCanHandle(
    pgRestore,
    Math.max(manifest.database.serverMajor, plan.targetServerMajor),
    'pg_restore',
  );

  const jobs = Math.max(1, options.jobs ?? 2);
  // A database that existed before the restore (e.g. set up by CloudNativePG) may have its extensions owned by
  // another role; restoring their comments would then fail, so they are left out through a TOC list.
  const skipExtensionComments = plan.targetState === 'empty';
  const streaming = jobs === 1 && !skipExtensionComments;
  // The plaintext dump touches local disk only when pg_restore needs a file, in a folder only we can read,
  // made before the target is touched (so a bad --temp-dir changes nothing) and removed in `finally`.
  const workDir = streaming ? undefined : await mkdtemp(join(options.tempDir ?? tmpdir(), 'tier4-restore-'));
  try {
    await prepareTargetDatabase(target, plan.targetState);
    progress({ phase: 'restore', step: 'database' });
    const args = ['--no-owner', '--no-acl', '--exit-on-error', '--no-password', `--dbname=${target.url}`];
    const decrypted = await decryptStream(
      await repo.store.get(manifest.database.object),
      options.identities,
      manifest.database.object,
    );
    let result: Awaited<ReturnType<typeof execa>>;
    if (streaming) {
      const child = execa(pgRestore.path, args, {
        env: pgToolEnv(target),
        stdin: 'pipe',
        reject: false,
        ...(options.signal ? { cancelSignal: options.signal } : {}),
      });
      decrypted.pipe(child.stdin!);
      child.stdin!.on('error', () => {});
      result = await child;
    } else {
      const file = join(workDir!, 'database.dump');
      await pipeline(decrypted, createWriteStream(file, { mode: 0o600 }));
      const useList = skipExtensionComments
        ? [`--use-list=${await tocWithoutExtensionComments(pgRestore.path, file)}`]
        : [];
      result = await execa(pgRestore.path, [...args, ...useList, `--jobs=${jobs}`, file], {
        env: pgToolEnv(target),
        reject: false,
        ...(options.signal ? { cancelSignal: options.signal } : {}),
      });
    }
    if (result.exitCode !== 0) {
      throw new OperationError(
        `pg_restore into ${describeDatabase(target.url)} failed: ${toolErrorDetail(result)}`,
        'The target database is partly restored: restore again with --replace once the cause is fixed.',
      );
    }
  } finally {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }
  const databaseDone = Date.now();

  let attachmentBytes = 0;
  if (options.attachmentsTo) {
    const to = options.attachmentsTo;
    let done = 0;
    await mapLimit(
      manifest.attachments.blobs,
      options.concurrency ?? 4,
      async (blob) => {
        const plain = await decryptStream(await repo.store.get(blob.object), options.identities, blob.object);
        const md5 = new DigestStream('md5');
        await to.write(blob.key, plain.pipe(md5));
        if (blob.checksum && md5.digest('base64') !== blob.checksum) {
          throw new OperationError(`Attachment ${blob.key} does not match its checksum after decryption.`);
        }
        attachmentBytes += md5.bytes;
        done += 1;
        progress({
          phase: 'attachments',
          done,
          total: manifest.attachments.blobs.length,
          bytes: attachmentBytes,
        });
      },
      options.signal,
    );
  }
  const finished = Date.now();
  const restoredTables = await countTables(target);
  return {
    id: manifest.id,
    database: describeDatabase(target.url),
    restoredTables,
    attachments: options.attachmentsTo ? manifest.attachments.blobs.length : 0,
    attachmentBytes,
    seconds: {
      database: (databaseDone - started) / 1000,
      attachments: (finished - databaseDone) / 1000,
      total: (finished - started) / 1000,
    },
  };
}

/** Writes the dump's table of contents without COMMENT ON EXTENSION entries, beside the dump; returns its path. */
async function tocWithoutExtensionComments(pgRestorePath: string, dump: string): Promise<string> {
  const { stdout } = await execa(pgRestorePath, ['--list', dump]);
  const kept = stdout.split('\n').filter((line) => !/^\d+; \d+ \d+ COMMENT - EXTENSION /.test(line));
  const list = `${dump}.list`;
  await writeFile(list, `${kept.join('\n')}\n`, { mode: 0o600 });
  return list;
}

async function prepareTargetDatabase(target: DatabaseTarget, state: TargetState): Promise<void> {
  const name = databaseName(target.url);
  const quoted = `"${name.replaceAll('"', '""')}"`;
  const admin = await connectDatabase({ ...target, url: withDatabase(target.url, 'postgres') });
  try {
    if (state === 'not-empty') await admin.query(`DROP DATABASE ${quoted} WITH (FORCE)`);
    if (state !== 'empty') await admin.query(`CREATE DATABASE ${quoted}`);
  } finally {
    await admin.end();
  }
}

async function countTables(target: DatabaseTarget): Promise<number> {
  const db = await connectDatabase(target);
  try {
    const { rows } = await db.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
    return rows[0].n;
  } finally {
    await db.end();
  }
}

/** What an operator must do after a restore; Primero caches settings per process. */
export function nextSteps(siteName: string, solr: boolean): string[] {
  const steps = [
    `Make sure the site runs with the same PRIMERO_MESSAGE_SECRET, PRIMERO_SECRET_KEY_BASE and DEVISE_SECRET_KEY as when the backup was taken; without the same message secret, encrypted columns are lost.`,
    `Restart the application and the worker (Kubernetes: kubectl -n <namespace> rollout restart deployment/primero-application deployment/primero-worker).`,
  ];
  if (solr)
    steps.push(
      'Solr is on: rebuild its index with `bin/rails sunspot:reindex` in the application container.',
    );
  steps.push(`Check the site: tier4 doctor --site ${siteName}`);
  return steps;
}
