import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { generateIdentity } from '../../backups/crypto/age.js';
import type { PrimeroDbResult } from '../../rehearsal/primero-db.js';
import { pgInfo, primeroDatabase, uniqueDatabaseName } from './pg.js';
import { testSecret } from './secrets.js';

export type RepositorySpec =
  | { kind: 'file' }
  | { kind: 's3'; endpoint: string; bucket: string }
  | { kind: 'azblob'; endpoint: string; account: string; key: string; container: string };

export interface BackupSite {
  dir: string;
  configPath: string;
  env: NodeJS.ProcessEnv;
  site: string;
  db: PrimeroDbResult;
  blobRoot: string;
  identityFile: string;
  recipient: string;
  repository: string;
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
  } = {},
): Promise<BackupSite> {
  const dir = await mkdtemp(join(tmpdir(), 'tier4-site-'));
  const blobRoot = join(dir, 'storage');
  const db = await primeroDatabase({
    cases: options.cases ?? 300,
    attachments: { root: blobRoot, count: options.blobs ?? 20 },
    ...(options.sentinel ? { sentinel: options.sentinel } : {}),
  });
  const { identity, recipient } = await generateIdentity();
  const identityFile = join(dir, 'age-identity.txt');
  await writeFile(identityFile, `${identity}\n`, { mode: 0o600 });
  const info = pgInfo();
  const spec = options.repository ?? { kind: 'file' };
  const env: NodeJS.ProcessEnv = {
    T4_DB_PASSWORD: info.password,
    T4_INTEGRITY_KEY: testSecret('integrity'),
  };
  const backups: Record<string, unknown> = {
    integrityKey: { env: 'T4_INTEGRITY_KEY' },
    encryption: { recipients: [recipient], identity: { file: identityFile } },
    retention: { last: 3, daily: 2, weekly: 1, monthly: 1 },
    rpo: '24h',
  };
  let repository: string;
  if (spec.kind === 'file') {
    repository = `file://${join(dir, 'repository')}`;
  } else if (spec.kind === 's3') {
    repository = `s3://${spec.bucket}/sites`;
    env.T4_S3_KEY_ID = 'S3RVER';
    env.T4_S3_SECRET = 'S3RVER';
    backups.s3 = {
      endpoint: spec.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: { env: 'T4_S3_KEY_ID' }, secretAccessKey: { env: 'T4_S3_SECRET' } },
    };
  } else {
    repository = `azblob://${spec.account}/${spec.container}/sites`;
    env.T4_AZ_KEY = spec.key;
    backups.azure = { key: { env: 'T4_AZ_KEY' }, endpoint: spec.endpoint };
  }
  backups.repository = repository;
  const config = {
    version: 1,
    deployment: { name: 'test-deployment' },
    sites: {
      production: {
        role: options.role ?? 'production',
        platform: 'kubernetes',
        primero: { url: 'https://primero.test.invalid', version: 'v2.15.2' },
        database: {
          url: `postgres://${info.user}@${info.host}:${info.port}/${db.database}`,
          password: { env: 'T4_DB_PASSWORD' },
        },
        attachments: { type: 'local', path: blobRoot },
        backups,
        drills: { interval: '30d', attachmentSample: 10 },
      },
    },
  };
  const configPath = join(dir, 'tier4.yaml');
  await writeFile(configPath, stringify(config));
  return { dir, configPath, env, site: 'production', db, blobRoot, identityFile, recipient, repository };
}

/** postgres://… of a new database name on the suite's server. */
export function scratchDatabaseUrl(prefix = 'restored'): string {
  const info = pgInfo();
  return `postgres://${info.user}@${info.host}:${info.port}/${uniqueDatabaseName(prefix)}`;
}

/** One digest per table over all its rows: equal digests mean equal contents. */
export async function tableDigests(database: string): Promise<Record<string, string>> {
  const info = pgInfo();
  const client = new pg.Client({
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database,
  });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    const out: Record<string, string> = {};
    for (const { tablename } of tables) {
      const { rows } = await client.query(
        `SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM public."${tablename}" t`,
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
