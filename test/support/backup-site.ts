import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalRepository, type LocalSite, writeLocalSite } from '../../rehearsal/local-site.js';
import type { PrimeroDbResult } from '../../rehearsal/primero-db.js';
import { connectTestDatabase, pgInfo, primeroDatabase, queryDatabase, uniqueDatabaseName } from './pg.js';
import { testSecret } from './secrets.js';

export type RepositorySpec =
  | { kind: 'file' }
  | { kind: 's3'; endpoint: string; bucket: string }
  | { kind: 'azblob'; endpoint: string; account: string; key: string; container: string };

export interface BackupSite extends LocalSite {
  dir: string;
  db: PrimeroDbResult;
  blobRoot: string;
}

/**
 * A throwaway Primero site for backup tests: a Primero-shaped database in the suite's PostgreSQL, its blobs in
 * a folder (the disk service), an age key pair, an integrity key, and a tier4.yaml naming them by reference.
 */
export async function backupSite(
  options: {
    repository?: RepositorySpec;
    cases?: number;
    blobs?: number;
    sentinel?: string;
    role?: 'production' | 'demo';
    /** The site's name (default production); a drill's scratch databases carry it. */
    site?: string;
    /** Primero's attachment storage when it is not the local folder (its secrets in attachmentsEnv). */
    attachments?: Record<string, unknown>;
    attachmentsEnv?: NodeJS.ProcessEnv;
    /** Initialise the repository, as `tier4 backup init` (default true). */
    init?: boolean;
  } = {},
): Promise<BackupSite> {
  const dir = await mkdtemp(join(tmpdir(), 'tier4-site-'));
  const blobRoot = join(dir, 'storage');
  const db = await primeroDatabase({
    cases: options.cases ?? 300,
    attachments: { root: blobRoot, count: options.blobs ?? 20 },
    ...(options.sentinel ? { sentinel: options.sentinel } : {}),
  });
  const spec = options.repository ?? { kind: 'file' };
  const repository: LocalRepository =
    spec.kind === 'file'
      ? { kind: 'file', path: join(dir, 'repository') }
      : spec.kind === 's3'
        ? { ...spec, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }
        : spec;
  const local = await writeLocalSite({
    dir,
    server: pgInfo(),
    database: db.database,
    blobRoot,
    repository,
    integrityKey: testSecret('integrity'),
    ...(options.init === false ? { init: false } : {}),
    ...(options.role ? { role: options.role } : {}),
    ...(options.site ? { site: options.site } : {}),
    ...(options.attachments
      ? { attachments: options.attachments, attachmentsEnv: options.attachmentsEnv ?? {} }
      : {}),
  });
  return { ...local, dir, db, blobRoot };
}

/** postgres://… of a new database name on the suite's server. */
export function scratchDatabaseUrl(prefix = 'restored'): string {
  const info = pgInfo();
  return `postgres://${info.user}@${info.host}:${info.port}/${uniqueDatabaseName(prefix)}`;
}

/** One digest per table over all its rows: equal digests mean equal contents. */
export async function tableDigests(database: string): Promise<Record<string, string>> {
  const client = await connectTestDatabase(database);
  try {
    const { rows: tables } = await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    const out: Record<string, string> = {};
    for (const { tablename } of tables) {
      const { rows } = await client.query(
        `SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM public."${tablename.replaceAll('"', '""')}" t`,
      );
      out[tablename] = `${rows[0].n}:${rows[0].digest}`;
    }
    return out;
  } finally {
    await client.end();
  }
}

export function databaseOf(url: string): string {
  return new URL(url).pathname.slice(1);
}

/** Every file below a folder (a file:// repository, a blob folder), as absolute paths, sorted. */
export async function listFiles(root: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out.push(full);
    }
  };
  await walk(root);
  return out.sort();
}

/** The files of a site's file:// repository. */
export function repositoryFiles(site: LocalSite): Promise<string[]> {
  return listFiles(site.repository.replace('file://', ''));
}

/** Adds an attachment to a site, as Primero would: the file on the disk service and its active_storage_blobs row. */
export async function addBlob(site: BackupSite, key: string, content: Buffer): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  const { diskBlobPath } = await import('../../core/primero/tables.js');
  const path = join(site.blobRoot, diskBlobPath(key));
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, content);
  await queryDatabase(
    site.db.database,
    "INSERT INTO active_storage_blobs (key, filename, service_name, byte_size, checksum, created_at) VALUES ($1, 'file.pdf', 'local', $2, $3, now())",
    [key, content.length, createHash('md5').update(content).digest('base64')],
  );
}

/** `tier4 restore` of a set into a target, confirmed non-interactively, plus any extra arguments. */
export function restoreArgs(site: LocalSite, setId: string, target: string, ...extra: string[]): string[] {
  return [
    '-c',
    site.configPath,
    'restore',
    setId,
    '--site',
    site.site,
    '--target-database',
    target,
    '--yes',
    '--confirm',
    site.site,
    ...extra,
  ];
}
