import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { generateIdentity } from '../backups/index.js';

/** Where a local site keeps its backups. */
export type LocalRepository =
  | { kind: 'file'; path: string }
  | { kind: 's3'; endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string }
  | { kind: 'azblob'; endpoint: string; account: string; key: string; container: string };

export interface LocalSiteOptions {
  /** Folder for the config, the age identity and anything else the site needs. */
  dir: string;
  server: { host: string; port: number; user: string; password: string };
  database: string;
  blobRoot: string;
  repository: LocalRepository;
  site?: string;
  role?: 'production' | 'demo';
  /** Secrets are written to the environment the returned `env` describes, never into the file. */
  integrityKey?: string;
  /** Primero's attachment storage when it is not the local folder blobRoot (its secrets by reference). */
  attachments?: Record<string, unknown>;
  /** Environment variables that `attachments` refers to. */
  attachmentsEnv?: NodeJS.ProcessEnv;
  /**
   * Initialise the repository (`tier4 backup init`), as an operator does once for a new site (default true).
   * Its bucket or container must exist.
   */
  init?: boolean;
}

export interface LocalSite {
  site: string;
  configPath: string;
  /** The environment variables the configuration refers to. */
  env: NodeJS.ProcessEnv;
  identityFile: string;
  recipient: string;
  repository: string;
}

/**
 * Writes a tier4.yaml for one site whose database runs on a local (throwaway) PostgreSQL server, with a fresh
 * age key pair, and initialises its repository. Used by the rehearsal, the benchmarks and the tests.
 */
export async function writeLocalSite(options: LocalSiteOptions): Promise<LocalSite> {
  const site = options.site ?? 'production';
  const { identity, recipient } = await generateIdentity();
  const identityFile = join(options.dir, 'age-identity.txt');
  await writeFile(identityFile, `# tier4 rehearsal identity\n${identity}\n`, { mode: 0o600 });
  const env: NodeJS.ProcessEnv = {
    TIER4_LOCAL_DB_PASSWORD: options.server.password,
    TIER4_LOCAL_INTEGRITY_KEY: options.integrityKey ?? randomBytes(32).toString('base64'),
  };
  const backups: Record<string, unknown> = {
    integrityKey: { env: 'TIER4_LOCAL_INTEGRITY_KEY' },
    encryption: { recipients: [recipient], identity: { file: identityFile } },
    retention: { last: 3, daily: 2, weekly: 1, monthly: 1 },
    rpo: '24h',
  };
  const repo = options.repository;
  let repository: string;
  if (repo.kind === 'file') {
    repository = `file://${repo.path}`;
  } else if (repo.kind === 's3') {
    repository = `s3://${repo.bucket}/sites`;
    env.TIER4_LOCAL_S3_KEY_ID = repo.accessKeyId;
    env.TIER4_LOCAL_S3_SECRET = repo.secretAccessKey;
    backups.s3 = {
      endpoint: repo.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: {
        accessKeyId: { env: 'TIER4_LOCAL_S3_KEY_ID' },
        secretAccessKey: { env: 'TIER4_LOCAL_S3_SECRET' },
      },
    };
  } else {
    repository = `azblob://${repo.account}/${repo.container}/sites`;
    env.TIER4_LOCAL_AZ_KEY = repo.key;
    backups.azure = { key: { env: 'TIER4_LOCAL_AZ_KEY' }, endpoint: repo.endpoint };
  }
  backups.repository = repository;
  Object.assign(env, options.attachmentsEnv);
  const { host, port, user } = options.server;
  const config = {
    version: 1,
    deployment: { name: 'local-rehearsal' },
    sites: {
      [site]: {
        role: options.role ?? 'production',
        platform: 'kubernetes',
        primero: { url: 'https://primero.rehearsal.invalid', version: 'v2.15.2' },
        database: {
          url: `postgres://${user}@${host}:${port}/${options.database}`,
          password: { env: 'TIER4_LOCAL_DB_PASSWORD' },
        },
        attachments: options.attachments ?? { type: 'local', path: options.blobRoot },
        backups,
        drills: { interval: '30d', attachmentSample: 10 },
      },
    },
  };
  const configPath = join(options.dir, 'tier4.yaml');
  await writeFile(configPath, stringify(config));
  if (options.init !== false) await initLocalRepository(configPath, site, env);
  return { site, configPath, env, identityFile, recipient, repository };
}

/** What `tier4 backup init` does, for a site just written. */
async function initLocalRepository(configPath: string, site: string, env: NodeJS.ProcessEnv): Promise<void> {
  const { loadConfig } = await import('../core/config/load.js');
  const { openSiteRepository, closeSiteRepository } = await import('../backups/index.js');
  const { readCatalog } = await import('../backups/index.js');
  const { initRepository } = await import('../backups/index.js');
  const repo = await openSiteRepository(loadConfig(configPath), site, env);
  try {
    await initRepository(repo, await readCatalog(repo.store, repo.site, repo.macKeys, repo.state));
  } finally {
    await closeSiteRepository(repo);
  }
}
