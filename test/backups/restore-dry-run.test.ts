import { existsSync } from 'node:fs';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { layout } from '../../backups/layout.js';
import { type Manifest, sealManifest } from '../../backups/manifest.js';
import { parseIncomplete } from '../../backups/postgres/restore-marker.js';
import { openSiteRepository } from '../../backups/site-repository.js';
import { loadConfig } from '../../core/config/load.js';
import { type BackupSite, backupSite, listFiles, tableDigests } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { pgInfo, queryDatabase, uniqueDatabaseName } from '../support/pg.js';
import { testSecret } from '../support/secrets.js';

interface Check {
  name: string;
  status: string;
  detail: string;
  hint?: string;
}

async function backedUpSite(): Promise<{ site: BackupSite; setId: string }> {
  const site = await backupSite({ cases: 20, blobs: 3 });
  const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create'], { env: site.env });
  expect(created.code, created.stderr).toBe(0);
  return { site, setId: JSON.parse(created.stdout).id };
}

/** `restore latest --dry-run` with --json, or as text. */
function dryRun(
  site: BackupSite,
  target: string,
  extra: string[] = [],
  options: { text?: boolean; env?: NodeJS.ProcessEnv } = {},
) {
  const format = options.text ? [] : ['--json'];
  return tier4(
    [
      ...format,
      '-c',
      site.configPath,
      'restore',
      'latest',
      '--target-database',
      target,
      '--dry-run',
      ...extra,
    ],
    { env: { ...site.env, ...options.env } },
  );
}

function databaseUrl(database: string, user = pgInfo().user): string {
  const info = pgInfo();
  return `postgres://${user}@${info.host}:${info.port}/${database}`;
}

/** What a dry run must leave as it was: the tables and their rows, the database's comment, its work databases. */
async function databaseState(database: string) {
  const databases = await queryDatabase<{ datname: string; comment: string | null }>(
    'postgres',
    "SELECT datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database",
  );
  return {
    tables: await tableDigests(database),
    exists: databases.some((row) => row.datname === database),
    comment: databases.find((row) => row.datname === database)?.comment ?? null,
    // A work database a restore makes for this target carries a marker naming it.
    workDatabases: databases.filter((row) => parseIncomplete(row.comment)?.target === database).length,
  };
}

async function databaseExists(database: string): Promise<boolean> {
  const rows = await queryDatabase('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  return rows.length > 0;
}

const byName = (checks: Check[], name: string) => checks.find((c) => c.name === name);

describe('restore --dry-run', () => {
  test('checks everything up to the first change, reports the plan, and leaves the database, repository and disk as they were', async () => {
    const { site, setId } = await backedUpSite();
    const temp = await mkdtemp(join(tmpdir(), 'tier4-dry-temp-'));
    const attachments = join(site.dir, 'restored-storage');
    const before = await databaseState(site.db.database);
    const repositoryBefore = await listFiles(join(site.dir, 'repository'));

    // The site's own production database, replaced: the most destructive restore there is. No --yes needed.
    const result = await dryRun(site, databaseUrl(site.db.database), [
      '--replace',
      '--temp-dir',
      temp,
      '--attachments-to',
      attachments,
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      ok: true,
      dryRun: true,
      site: site.site,
      set: { id: setId, attachments: { count: 3 } },
      target: { kind: 'production', state: 'not-empty', action: 'replace' },
      confirmationNeeded: true,
    });
    expect(report.set.database.rowCounts.cases).toBe(20);
    expect(report.set.database.extensions).toEqual(expect.arrayContaining(['ltree', 'pg_trgm', 'pgcrypto']));
    expect(report.attachmentsTo).toBe(`folder ${attachments}`);
    const checks = report.checks as Check[];
    expect(checks.map((c) => c.name)).toEqual([
      'temp folder',
      'target password',
      'data separation',
      'identity',
      'attachments target',
      'backup set',
      'repository lock',
      'target database',
      'pg_restore',
      'psql',
      'permissions',
      'extensions',
      'temp space',
      'zstd',
      'audit log',
    ]);
    expect(checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(byName(checks, 'backup set')?.detail).toContain(`${setId}: manifest authentic, 4 objects`);

    // Nothing changed: the database byte for byte, no work database, no lock or verification record in the
    // repository, no temp file, no attachments folder, no audit line.
    expect(await databaseState(site.db.database)).toEqual(before);
    expect(before.workDatabases).toBe(0);
    expect(await listFiles(join(site.dir, 'repository'))).toEqual(repositoryBefore);
    expect(await readdir(temp)).toEqual([]);
    expect(existsSync(attachments)).toBe(false);
    expect(existsSync(join(site.dir, '.tier4', 'restores.jsonl'))).toBe(false);

    // The same as text, for people.
    const text = await dryRun(site, databaseUrl(site.db.database), ['--replace'], { text: true });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('Dry run: the restore would proceed. Nothing was changed.');
    expect(text.stdout).toContain(`${setId} of ${site.site}`);
    expect(text.stdout).toContain('build a new copy beside it, then swap it in');
    expect(text.stdout).toContain('attachments  3 (');
    expect(text.stdout).toContain('not restored (no --attachments-to)');
    expect(await databaseState(site.db.database)).toEqual(before);
  }, 60_000);

  test('a failing prerequisite is reported with its hint, the other checks still run, exit 1, nothing created', async () => {
    const { site } = await backedUpSite();
    // A role that may log in but not create databases, restoring into a new database: a restore would refuse.
    const role = uniqueDatabaseName('nocreate');
    const password = testSecret('nocreate-role');
    await queryDatabase('postgres', `CREATE ROLE ${role} LOGIN NOCREATEDB PASSWORD '${password}'`);
    const database = uniqueDatabaseName('never');
    const asRole = ['--target-password-env', 'T4_NOCREATE_PASSWORD'];
    const env = { T4_NOCREATE_PASSWORD: password };
    const result = await dryRun(site, databaseUrl(database, role), asRole, { env });
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.ok).toBe(false);
    expect(report.target).toMatchObject({ state: 'absent', action: 'create' });
    const checks = report.checks as Check[];
    expect(byName(checks, 'permissions')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('may not create databases'),
      hint: expect.stringContaining('CREATEDB'),
    });
    expect(byName(checks, 'backup set')?.status).toBe('ok');
    expect(byName(checks, 'extensions')?.status).toBe('ok');
    expect(await databaseExists(database)).toBe(false);

    // The same failure as text: marked FAIL with its hint.
    const text = await dryRun(site, databaseUrl(database, role), asRole, { env, text: true });
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('would NOT proceed');
    expect(text.stdout).toMatch(/FAIL {2}permissions: .*may not create databases/);
  }, 60_000);

  test('a database that holds data is a failure without --replace, and is left as it was', async () => {
    const { site } = await backedUpSite();
    const before = await databaseState(site.db.database);
    const result = await dryRun(site, databaseUrl(site.db.database));
    expect(result.code).toBe(1);
    const checks = JSON.parse(result.stdout).checks as Check[];
    expect(byName(checks, 'target database')).toMatchObject({
      status: 'fail',
      hint: expect.stringContaining('--replace'),
    });
    expect(await databaseState(site.db.database)).toEqual(before);
  }, 60_000);

  test('an extension the target server lacks is refused before anything is changed', async () => {
    const { site, setId } = await backedUpSite();
    // As a set from a server with an extension this one does not have (sealed with the integrity key).
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const path = layout.manifest(repo.site, setId);
    const { mac: _mac, ...body } = JSON.parse(
      (await repo.store.getBytes(path))!.toString('utf8'),
    ) as Manifest;
    body.database.extensions.push({ name: 'tier4_no_such_extension', version: '1.0' });
    await writeFile(join(site.dir, 'repository', path), JSON.stringify(sealManifest(body, repo.macKey)));
    await repo.store.close();

    const database = uniqueDatabaseName('noext');
    const result = await dryRun(site, databaseUrl(database));
    expect(result.code).toBe(1);
    const checks = JSON.parse(result.stdout).checks as Check[];
    expect(byName(checks, 'extensions')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('tier4_no_such_extension'),
    });
    expect(byName(checks, 'backup set')?.status).toBe('ok');
    // The real restore refuses it the same way, before creating anything.
    const real = await tier4(
      [
        '-c',
        site.configPath,
        'restore',
        'latest',
        '--target-database',
        databaseUrl(database),
        '--yes',
        '--confirm',
        site.site,
      ],
      { env: site.env },
    );
    expect(real.code).toBe(1);
    expect(real.stderr).toContain('does not have the extension(s) tier4_no_such_extension');
    expect(await databaseExists(database)).toBe(false);
  }, 60_000);
});
