import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '../../backups/manifest.js';
import { openSiteRepository, type SiteRepository } from '../../backups/site-repository.js';
import { FileStore } from '../../backups/store/file-store.js';
import { loadConfig } from '../../core/config/load.js';
import { type BackupSite, backupSite } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { pgInfo, queryDatabase } from '../support/pg.js';

/**
 * A tiny backed-up site built once per test server and reused by every later run of the same test files.
 *
 * Under Stryker each mutant re-runs its covering tests in a fresh test context, but the PostgreSQL server of the
 * global setup lives for the whole Stryker run: a site (its database, blob folder, config and one backup set)
 * recorded in a folder named after that server's port is built by the first run (Stryker's initial run, with
 * no mutant active) and only read afterwards. The set is made by the real CLI (`tier4 backup create` through
 * runCli), and every test works on its own copy of the repository (copyOfRepository), so neither a mutant nor
 * a test that damages a set can change what the next one sees.
 */
export interface CachedSet {
  site: BackupSite;
  manifest: Manifest;
}

export interface CachedSetSpec {
  /** The site's name; also names the cache entry. */
  site: string;
  cases: number;
  blobs: number;
  /** SQL run on the site's database before the backup (e.g. to take something away). */
  prepare?: string[];
  /** The backup is expected to report problems (it exits 1). */
  problems?: boolean;
}

const cacheRoot = () => join(tmpdir(), `tier4-mutation-sets-${pgInfo().port}`);

export async function cachedSet(spec: CachedSetSpec): Promise<CachedSet> {
  const record = join(cacheRoot(), `${spec.site}.json`);
  if (existsSync(record)) {
    const cached = JSON.parse(await readFile(record, 'utf8')) as CachedSet;
    // A later test server may reuse the port: the record counts only if its database is on this server.
    const found = await queryDatabase('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [
      cached.site.db.database,
    ]);
    if (found.length === 1) return cached;
  }
  const site = await backupSite({ site: spec.site, cases: spec.cases, blobs: spec.blobs });
  for (const sql of spec.prepare ?? []) await queryDatabase(site.db.database, sql);
  const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
    env: site.env,
  });
  // Exit 1 with a set: complete, with problems the spec asked for (e.g. an attachment that does not match).
  if (created.code !== 0 && !(created.code === 1 && spec.problems))
    throw new Error(`backup create failed: ${created.stderr}`);
  const { id } = JSON.parse(created.stdout) as { id: string };
  const manifestFile = join(site.dir, 'repository', site.site, 'sets', id, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as Manifest;
  const cached: CachedSet = { site, manifest };
  await mkdir(cacheRoot(), { recursive: true });
  // Written whole, then renamed: a run interrupted here leaves no half record behind.
  await writeFile(`${record}.tmp`, JSON.stringify(cached));
  await rename(`${record}.tmp`, record);
  return cached;
}

/** The site's repository copied to a new folder, opened like the original (same config, keys and site). */
export async function copyOfRepository(
  cached: CachedSet,
): Promise<{ repo: SiteRepository; root: string; objectPath: (key: string) => string }> {
  const root = await mkdtemp(join(cached.site.dir, 'copy-'));
  await cp(join(cached.site.dir, 'repository'), root, { recursive: true });
  const opened = await openSiteRepository(
    loadConfig(cached.site.configPath),
    cached.site.site,
    cached.site.env,
  );
  await opened.store.close();
  const store = new FileStore(root);
  return {
    repo: { ...opened, store, state: store },
    root,
    objectPath: (key: string) => join(root, ...key.split('/')),
  };
}
