import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  stat,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, test } from 'vitest';
import { openBlobTarget } from '../../backups/attachments.js';
import { decryptStream, encryptStream } from '../../backups/crypto/age.js';
import { layout } from '../../backups/layout.js';
import { type Manifest, sealManifest } from '../../backups/manifest.js';
import type { ProgressEvent } from '../../backups/progress.js';
import {
  nextSteps,
  planRestore,
  type RestorePlan,
  restoreMethod,
  restorePrerequisites,
  runRestore,
} from '../../backups/restore.js';
import { type SiteRepository, siteIdentities } from '../../backups/site-repository.js';
import { OperationError, Tier4Error, UsageError } from '../../core/errors.js';
import { diskBlobPath } from '../../core/primero/tables.js';
import { tableDigests } from '../support/backup-site.js';
import { pgInfo, queryDatabase, uniqueDatabaseName } from '../support/pg.js';
import { type CachedSet, cachedSet, copyOfRepository } from './cached-set.js';

// A restore in the test process (backups/restore.ts), from copies of tiny cached sets into new databases of the
// suite's server: what it restores, what it refuses before changing anything, and what a failure leaves.

let good: CachedSet;
let rot: CachedSet;

beforeAll(async () => {
  good = await cachedSet({ site: 'restore-mk', cases: 3, blobs: 3 });
  // Bit rot on Primero's disk before the backup: the row's checksum no longer matches the stored file.
  rot = await cachedSet({
    site: 'restore-rot',
    cases: 1,
    blobs: 1,
    problems: true,
    prepare: ["UPDATE active_storage_blobs SET checksum = 'AAAAAAAAAAAAAAAAAAAAAA=='"],
  });
});

const info = () => pgInfo();
const newTarget = (name = uniqueDatabaseName('restored')) => ({
  url: `postgres://${info().user}@${info().host}:${info().port}/${name}`,
  password: info().password,
});

async function databases(pattern: string): Promise<string[]> {
  const rows = await queryDatabase<{ datname: string }>(
    'postgres',
    'SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname',
    [pattern],
  );
  return rows.map((row) => row.datname);
}

/** Work databases a restore into `target` made and left (their marker names the target). */
async function workDatabasesFor(target: string): Promise<string[]> {
  const rows = await queryDatabase<{ datname: string }>(
    'postgres',
    "SELECT datname FROM pg_database WHERE datname LIKE 'tier4\\_work\\_%' AND shobj_description(oid, 'pg_database') LIKE $1",
    [`%"target":"${target}"%`],
  );
  return rows.map((row) => row.datname);
}

async function comment(database: string): Promise<string | null> {
  const rows = await queryDatabase<{ comment: string | null }>(
    'postgres',
    "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
    [database],
  );
  return rows[0]?.comment ?? null;
}

async function reseal(repo: SiteRepository, manifest: Manifest, change: (body: Manifest) => void) {
  const { mac: _mac, ...body } = structuredClone(manifest);
  change(body as Manifest);
  await repo.store.putBytes(
    layout.manifest(repo.site, manifest.id),
    JSON.stringify(sealManifest(body, repo.macKey)),
  );
}

async function plan(repo: SiteRepository, id: string, target = newTarget()): Promise<RestorePlan> {
  return planRestore(repo, id, target, siteIdentities(repo));
}

const folder = (name: string) => mkdtemp(join(tmpdir(), `tier4-restore-mk-${name}-`));

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('restore methods and next steps (no database)', () => {
  test('the method: jobs at least 1 (default 2), in place only into an empty database, a file when needed', () => {
    expect(restoreMethod({ targetState: 'absent' }, {})).toEqual({
      jobs: 2,
      inPlace: false,
      viaFile: true,
      tempParent: tmpdir(),
    });
    expect(restoreMethod({ targetState: 'not-empty' }, { jobs: 1, tempDir: '/var/tmp/x' })).toEqual({
      jobs: 1,
      inPlace: false,
      viaFile: false,
      tempParent: '/var/tmp/x',
    });
    expect(restoreMethod({ targetState: 'empty' }, { jobs: 0 })).toEqual({
      jobs: 1,
      inPlace: true,
      viaFile: true,
      tempParent: tmpdir(),
    });
    expect(restoreMethod({ targetState: 'absent' }, { jobs: 4 }).jobs).toBe(4);
  });

  test('next steps name the secrets, the restart, Solr when it is on, and the doctor', () => {
    const without = nextSteps('prod', false);
    expect(without).toEqual([
      'Make sure the site runs with the same PRIMERO_MESSAGE_SECRET, PRIMERO_SECRET_KEY_BASE and DEVISE_SECRET_KEY as when the backup was taken; without the same message secret, encrypted columns are lost.',
      'Restart the application and the worker (Kubernetes: kubectl -n <namespace> rollout restart deployment/primero-application deployment/primero-worker).',
      'Check the site: tier4 doctor --site prod',
    ]);
    expect(nextSteps('prod', true)).toEqual([
      without[0],
      without[1],
      'Solr is on: rebuild its index with `bin/rails sunspot:reindex` in the application container.',
      without[2],
    ]);
  });
});

describe('the plan and the checks before anything changes', () => {
  test('a plan names the set, the target state and server, without warnings; the prerequisites say what they found', async () => {
    const { repo } = await copyOfRepository(good);
    const target = newTarget();
    const absent = await plan(repo, 'latest', target);
    expect(absent.manifest).toEqual(good.manifest);
    expect(absent.target).toEqual(target);
    expect(absent.targetState).toBe('absent');
    expect(absent.targetServerMajor).toBe(15);
    expect(absent.warnings).toEqual([]);
    expect(absent).not.toHaveProperty('targetIncomplete');
    expect(absent.verification.ok).toBe(true);
    const tempDir = await folder('space');
    const method = restoreMethod(absent, { tempDir });
    const outcomes = [];
    for (const prerequisite of restorePrerequisites(repo, absent, method))
      outcomes.push([prerequisite.name, await prerequisite.check()]);
    const needed = (good.manifest.database.plainSize + 16 * 1024 * 1024) / 1024 / 1024;
    expect(outcomes.map(([name]) => name)).toEqual([
      'pg_restore',
      'psql',
      'permissions',
      'extensions',
      'temp space',
      'zstd',
    ]);
    // Two jobs by default: the table data loads through psql, from the same installation as pg_restore.
    expect(outcomes[1]![1]).toEqual({
      status: 'ok',
      detail: expect.stringMatching(/^psql 15\.\d+ \(\/.+\/psql\), loads the table data over 2 connections$/),
    });
    expect(outcomes[5]![1]).toEqual({
      status: 'ok',
      detail: expect.stringMatching(/^zstd 1\.\d+\.\d+ \(zstd\)$/),
    });
    expect(outcomes[0]![1]).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^pg_restore 15\.\d+ \(\/.+\/pg_restore\)$/),
    });
    expect(outcomes[2]![1]).toEqual({ status: 'ok', detail: `role ${info().user}: a superuser` });
    const wanted = good.manifest.database.extensions.map((e) => e.name).filter((n) => n !== 'plpgsql');
    expect(outcomes[3]![1]).toEqual({ status: 'ok', detail: `${wanted.join(', ')} available` });
    expect(outcomes[4]![1]).toEqual({
      status: 'ok',
      detail: expect.stringMatching(
        new RegExp(`^\\d+ MiB free in ${tempDir}; the dump needs ${needed.toFixed(0)} MiB$`),
      ),
    });
    const streamed = restoreMethod(absent, { jobs: 1 });
    expect(await restorePrerequisites(repo, absent, streamed)[4]!.check()).toEqual({
      status: 'skip',
      detail: 'the dump is streamed into pg_restore (--jobs 1, new database)',
    });
    expect(await restorePrerequisites(repo, absent, streamed)[1]!.check()).toEqual({
      status: 'skip',
      detail: 'pg_restore loads the data (--jobs 1)',
    });

    // An empty database that exists, and one that holds something; an unfinished restore is reported.
    const empty = uniqueDatabaseName('empty');
    await queryDatabase('postgres', `CREATE DATABASE ${empty}`);
    expect((await plan(repo, good.manifest.id, newTarget(empty))).targetState).toBe('empty');
    await queryDatabase(empty, 'CREATE TABLE t (x int)');
    const full = await plan(repo, good.manifest.id, newTarget(empty));
    expect(full.targetState).toBe('not-empty');
    const marker = { set: 'x', startedAt: '2026-11-30T00:00:00.000Z', host: 'h', pid: 1, target: empty };
    await queryDatabase(
      'postgres',
      `COMMENT ON DATABASE ${empty} IS 'tier4: restore incomplete ${JSON.stringify(marker)}'`,
    );
    expect((await plan(repo, good.manifest.id, newTarget(empty))).targetIncomplete).toEqual(marker);
    // A sequence alone makes a database not empty.
    const seq = uniqueDatabaseName('seq');
    await queryDatabase('postgres', `CREATE DATABASE ${seq}`);
    await queryDatabase(seq, 'CREATE SEQUENCE s');
    expect((await plan(repo, good.manifest.id, newTarget(seq))).targetState).toBe('not-empty');

    // Not empty, no --replace: refused before anything is changed.
    const error = await runRestore(repo, full, { identities: siteIdentities(repo) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      `The target database ${info().user}@${info().host}:${info().port}/${empty} is not empty; nothing was restored.`,
    );
    expect((error as UsageError).hint).toBe(
      'Restore into a new database, or pass --replace to drop and recreate it.',
    );
    expect(await queryDatabase(empty, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 0 }]);
  });

  test('a role that may not create databases, or does not own the one it would replace, is refused', async () => {
    const { repo } = await copyOfRepository(good);
    const role = uniqueDatabaseName('tier4_r');
    const password = `pw-${uniqueDatabaseName('x')}`;
    await queryDatabase('postgres', `CREATE ROLE ${role} LOGIN NOCREATEDB PASSWORD '${password}'`);
    const as = (name: string) => ({
      url: `postgres://${role}@${info().host}:${info().port}/${name}`,
      password,
    });
    const check = async (p: RestorePlan) => {
      const prerequisite = restorePrerequisites(repo, p, restoreMethod(p, {}))[2]!;
      return prerequisite.check().catch((error: unknown) => error);
    };
    try {
      const absent = await plan(repo, good.manifest.id, as(uniqueDatabaseName('absent')));
      const refused = (await check(absent)) as UsageError;
      expect(refused).toBeInstanceOf(UsageError);
      expect(refused.message).toBe(
        `The role restoring into ${role}@${info().host}:${info().port}/${absent.target.url.split('/').at(-1)} may not create databases; nothing was changed.`,
      );
      expect(refused.hint).toBe(
        'A restore builds the database beside the target and gives it the name at the end: use a role with CREATEDB, or restore into an empty database that exists.',
      );
      const owned = uniqueDatabaseName('owned');
      await queryDatabase('postgres', `CREATE DATABASE ${owned} OWNER ${role}`);
      expect(await check(await plan(repo, good.manifest.id, as(owned)))).toEqual({
        status: 'ok',
        detail: `role ${role}: restores in place`,
      });
      await queryDatabase('postgres', `ALTER ROLE ${role} CREATEDB`);
      const other = uniqueDatabaseName('other');
      await queryDatabase('postgres', `CREATE DATABASE ${other}`);
      await queryDatabase(other, 'CREATE TABLE t (x int)');
      const notOwner = (await check(await plan(repo, good.manifest.id, as(other)))) as UsageError;
      expect(notOwner.message).toBe(
        `The role restoring into ${role}@${info().host}:${info().port}/${other} does not own that database, so it cannot replace it; nothing was changed.`,
      );
      expect(notOwner.hint).toBe("Restore as the database's owner (or a superuser).");
      expect(await check(absent)).toEqual({ status: 'ok', detail: `role ${role}: may create databases` });
      await queryDatabase(owned, 'CREATE TABLE t (x int)');
      expect(await check(await plan(repo, good.manifest.id, as(owned)))).toEqual({
        status: 'ok',
        detail: `role ${role}: may create databases`,
      });
    } finally {
      for (const db of await databases('owned_%')) await queryDatabase('postgres', `DROP DATABASE ${db}`);
      await queryDatabase('postgres', `DROP ROLE IF EXISTS ${role}`);
    }
  });

  test('an extension the server lacks, or no room for the decrypted dump, is refused; a set without extensions needs none', async () => {
    const { repo } = await copyOfRepository(good);
    await reseal(repo, good.manifest, (body) => {
      body.database.extensions = [
        ...body.database.extensions,
        { name: 'no_such_ext', version: '1.0' },
        { name: 'other_missing', version: '1.0' },
      ];
      body.database.plainSize = 1024 ** 5;
    });
    const p = await plan(repo, good.manifest.id);
    const tempDir = await folder('full');
    const [, , , extensions, space] = restorePrerequisites(repo, p, restoreMethod(p, { tempDir }));
    const missing = (await extensions!.check().catch((e: unknown) => e)) as OperationError;
    expect(missing).toBeInstanceOf(OperationError);
    expect(missing.message).toBe(
      `The target server does not have the extension(s) no_such_ext, other_missing that backup set ${good.manifest.id} uses; nothing was changed.`,
    );
    expect(missing.hint).toBe(
      'Install them on the target server (for most, the postgresql-contrib package or an image that has them), then restore.',
    );
    const full = (await space!.check().catch((e: unknown) => e)) as OperationError;
    expect(full).toBeInstanceOf(OperationError);
    expect(full.message).toMatch(
      new RegExp(
        `^The temp folder ${tempDir} has \\d+ MiB free; the decrypted dump needs ${1024 ** 3 + 16} MiB\\. Nothing was changed\\.$`,
      ),
    );
    expect(full.hint).toBe(
      'Pass --temp-dir a folder with more room (it is private and emptied afterwards), or --jobs 1 to stream the dump into a new database.',
    );
    // runRestore checks them first: nothing is created.
    const target = p.target.url.split('/').at(-1)!;
    await expect(runRestore(repo, p, { identities: siteIdentities(repo), tempDir })).rejects.toThrow(
      'does not have the extension(s) no_such_ext',
    );
    expect(await databases(target)).toEqual([]);
    expect(await readdir(tempDir)).toEqual([]);

    await reseal(repo, good.manifest, (body) => {
      body.database.extensions = [{ name: 'plpgsql', version: '1.0' }];
    });
    const none = await plan(repo, good.manifest.id);
    expect(await restorePrerequisites(repo, none, restoreMethod(none, {}))[3]!.check()).toEqual({
      status: 'ok',
      detail: 'the set uses no extension',
    });
  });

  test('an extension only a superuser may create: a warning for another role unless the database restored into has it', async () => {
    const { repo } = await copyOfRepository(good);
    // bloom is not trusted (bloom.control): only a superuser may CREATE EXTENSION it.
    const withBloom = (p: RestorePlan): RestorePlan => ({
      ...p,
      manifest: {
        ...p.manifest,
        database: {
          ...p.manifest.database,
          extensions: [
            { name: 'pg_trgm', version: '1.6' },
            { name: 'bloom', version: '1.0' },
          ],
        },
      },
    });
    const extensions = (p: RestorePlan) =>
      restorePrerequisites(repo, p, restoreMethod(p, {}))[3]!
        .check()
        .catch((e: unknown) => e);
    expect(await extensions(withBloom(await plan(repo, good.manifest.id)))).toEqual({
      status: 'ok',
      detail: 'pg_trgm, bloom available',
    });
    const role = uniqueDatabaseName('tier4_ext');
    const password = `pw-${uniqueDatabaseName('x')}`;
    await queryDatabase('postgres', `CREATE ROLE ${role} LOGIN CREATEDB PASSWORD '${password}'`);
    const as = (name: string) => ({
      url: `postgres://${role}@${info().host}:${info().port}/${name}`,
      password,
    });
    try {
      // A new database is a copy of template1, which does not have bloom.
      expect(
        await extensions(withBloom(await plan(repo, good.manifest.id, as(uniqueDatabaseName('n'))))),
      ).toEqual({
        status: 'warn',
        detail:
          'only a superuser may create bloom, and template1 does not have it: the restore fails unless a superuser installs it there first',
      });
      // Restored in place: the empty database's own extensions count.
      const empty = uniqueDatabaseName('ext_empty');
      await queryDatabase('postgres', `CREATE DATABASE ${empty} OWNER ${role}`);
      expect(await extensions(withBloom(await plan(repo, good.manifest.id, as(empty))))).toEqual({
        status: 'warn',
        detail: `only a superuser may create bloom, and ${empty} does not have it: the restore fails unless a superuser installs it there first`,
      });
      await queryDatabase(empty, 'CREATE EXTENSION bloom');
      expect(await extensions(withBloom(await plan(repo, good.manifest.id, as(empty))))).toEqual({
        status: 'ok',
        detail: 'pg_trgm, bloom available',
      });
      // A dump from a newer server than this pg_restore can read is refused, naming the tool.
      const newer = await plan(repo, good.manifest.id, as(empty));
      newer.manifest = { ...newer.manifest, database: { ...newer.manifest.database, serverMajor: 99 } };
      const tool = (await restorePrerequisites(repo, newer, restoreMethod(newer, {}))[0]!
        .check()
        .catch((e: unknown) => e)) as OperationError;
      expect(tool).toBeInstanceOf(OperationError);
      expect(tool.message).toMatch(
        /^pg_restore 15\.\d+ is older than the database server \(PostgreSQL 99\); it cannot restore into it\.$/,
      );
      await queryDatabase('postgres', `DROP DATABASE ${empty}`);
    } finally {
      await queryDatabase('postgres', `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    }
  });

  test('a set that fails verification, or an identity that cannot decrypt it, is refused with what is wrong', async () => {
    const { repo, objectPath } = await copyOfRepository(good);
    const [blob, other] = good.manifest.attachments.blobs;
    await truncate(objectPath(blob!.object), 10);
    await truncate(objectPath(other!.object), 11);
    const error = (await plan(repo, good.manifest.id).catch((e: unknown) => e)) as OperationError;
    expect(error).toBeInstanceOf(OperationError);
    // Verification checks objects concurrently: the first failure named is whichever finished first.
    const named = (first: typeof blob) =>
      `Backup set ${good.manifest.id} failed verification: ${first!.object}: size ${first === blob ? 10 : 11}, expected ${first!.size} (and 1 more). Nothing was restored.`;
    expect([named(blob), named(other)]).toContain(error.message);
    expect(error.hint).toBe('Restore an older set (`tier4 backup list`), and investigate the repository.');

    const fresh = await copyOfRepository(good);
    await truncate(fresh.objectPath(blob!.object), 10);
    expect(((await plan(fresh.repo, good.manifest.id).catch((e: unknown) => e)) as Error).message).toBe(
      `Backup set ${good.manifest.id} failed verification: ${blob!.object}: size 10, expected ${blob!.size}. Nothing was restored.`,
    );
    const { generateIdentity } = await import('../../backups/crypto/age.js');
    const stranger = await generateIdentity();
    const clean = await copyOfRepository(good);
    await expect(planRestore(clean.repo, good.manifest.id, newTarget(), [stranger.identity])).rejects.toThrow(
      /cannot decrypt/,
    );
  });
});

describe('a restore', () => {
  test('streamed into a new database: tables, attachments and progress exactly as backed up; stale work databases swept', async () => {
    const { repo } = await copyOfRepository(good);
    const name = uniqueDatabaseName('restored');
    // Work databases earlier restores into this target left behind: one whose process is gone (swept),
    // one still running (kept), one for another target (kept).
    const marker = (target: string, pid: number) =>
      `tier4: restore incomplete ${JSON.stringify({ set: 's', startedAt: 't', host: hostname(), pid, target })}`;
    const stale = `tier4_work_${uniqueDatabaseName('a').slice(2)}`;
    const running = `tier4_work_${uniqueDatabaseName('b').slice(2)}`;
    const elsewhere = `tier4_work_${uniqueDatabaseName('c').slice(2)}`;
    for (const [db, text] of [
      [stale, marker(name, 2 ** 22 + 7)],
      [running, marker(name, 1)],
      [elsewhere, marker('another_target', 2 ** 22 + 7)],
    ] as const) {
      await queryDatabase('postgres', `CREATE DATABASE ${db}`);
      await queryDatabase('postgres', `COMMENT ON DATABASE ${db} IS '${text}'`);
    }
    const blobsTo = await folder('blobs');
    const tempDir = await folder('temp');
    const p = await plan(repo, good.manifest.id, newTarget(name));
    const events: ProgressEvent[] = [];
    const result = await runRestore(repo, p, {
      identities: siteIdentities(repo),
      jobs: 1,
      tempDir,
      concurrency: 1,
      attachmentsTo: await openBlobTarget(blobsTo, repo.siteConfig.attachments, repo.env),
      onProgress: (event) => events.push(event),
    });
    const blobs = good.manifest.attachments.blobs;
    const plainBytes = blobs.reduce((sum, blob) => sum + blob.plainSize, 0);
    const tables = await queryDatabase<{ n: number }>(
      good.site.db.database,
      "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'",
    );
    expect(result).toEqual({
      id: good.manifest.id,
      database: `${info().user}@${info().host}:${info().port}/${name}`,
      restoredTables: tables[0]!.n,
      attachments: 3,
      attachmentsRestored: true,
      attachmentBytes: plainBytes,
      problems: [],
      seconds: {
        database: expect.any(Number),
        attachments: expect.any(Number),
        total: expect.any(Number),
      },
    });
    expect(result.seconds.database).toBeGreaterThan(0);
    expect(result.seconds.total).toBeCloseTo(result.seconds.database + result.seconds.attachments, 2);
    expect(result.seconds.total).toBeLessThan(120);
    expect(await tableDigests(name)).toEqual(await tableDigests(good.site.db.database));
    for (const blob of good.site.db.blobs)
      expect((await readFile(join(blobsTo, diskBlobPath(blob.key)))).equals(await readFile(blob.path))).toBe(
        true,
      );
    expect(events[0]).toEqual({ phase: 'restore', step: 'database' });
    const attachmentEvents = events.filter((event) => event.phase === 'attachments');
    expect(attachmentEvents.map((event) => ('done' in event ? [event.done, event.total] : []))).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    expect(attachmentEvents.at(-1)).toMatchObject({ bytes: plainBytes });
    expect(await comment(name)).toMatch(new RegExp(`^tier4: restored \\{"set":"${good.manifest.id}","at":"`));
    expect(await workDatabasesFor(name)).toEqual([running]);
    expect(await databases(elsewhere)).toEqual([elsewhere]);
    expect(await databases(stale)).toEqual([]);
    expect(await readdir(tempDir)).toEqual([]);
    for (const db of [running, elsewhere]) await queryDatabase('postgres', `DROP DATABASE ${db}`);
  });

  test('through a file into the empty database that exists, in place; unsafe keys and paths are reported, the rest written', async () => {
    const { repo } = await copyOfRepository(good);
    const [first, second] = good.manifest.attachments.blobs;
    await reseal(repo, good.manifest, (body) => {
      body.attachments.blobs.push({ ...first!, key: '../../escape' });
    });
    const name = uniqueDatabaseName('inplace');
    await queryDatabase('postgres', `CREATE DATABASE ${name}`);
    const blobsTo = await folder('blobs');
    // The second attachment's folder is a symbolic link leading out of the target folder.
    const outside = await folder('outside');
    await mkdir(join(blobsTo, second!.key.slice(0, 2)), { recursive: true });
    await symlink(outside, join(blobsTo, second!.key.slice(0, 2), second!.key.slice(2, 4)));
    const tempDir = await folder('temp');
    const p = await plan(repo, good.manifest.id, newTarget(name));
    expect(p.targetState).toBe('empty');
    const result = await runRestore(repo, p, {
      identities: siteIdentities(repo),
      jobs: 2,
      tempDir,
      attachmentsTo: await openBlobTarget(blobsTo, repo.siteConfig.attachments, repo.env),
    });
    const sorted = [...result.problems].sort((a, b) => a.problem.localeCompare(b.problem));
    expect(sorted).toEqual([
      { key: '../../escape', problem: 'unsafe-key' },
      {
        key: second!.key,
        problem: 'unsafe-path',
        detail: `${join(blobsTo, second!.key.slice(0, 2), second!.key.slice(2, 4))} is a symbolic link`,
      },
    ]);
    expect(result.attachments).toBe(2);
    const third = good.manifest.attachments.blobs[2]!;
    expect(result.attachmentBytes).toBe(first!.plainSize + third.plainSize);
    expect(await readdir(outside)).toEqual([]);
    expect(await tableDigests(name)).toEqual(await tableDigests(good.site.db.database));
    expect(await comment(name)).toMatch(/^tier4: restored /);
    expect(await readdir(tempDir)).toEqual([]);
  });

  test('replacing a database that holds data: the restored one takes its name, the old one is gone', async () => {
    const { repo } = await copyOfRepository(good);
    const name = uniqueDatabaseName('replace');
    await queryDatabase('postgres', `CREATE DATABASE ${name}`);
    await queryDatabase(name, 'CREATE TABLE old_data (x int)');
    const p = await plan(repo, good.manifest.id, newTarget(name));
    const result = await runRestore(repo, p, { identities: siteIdentities(repo), jobs: 1, replace: true });
    expect(result.attachmentsRestored).toBe(false);
    expect(result.attachments).toBe(0);
    expect(result.attachmentBytes).toBe(0);
    expect(await tableDigests(name)).toEqual(await tableDigests(good.site.db.database));
    expect(await databases('tier4\\_old\\_%')).toEqual([]);
  });
});

describe('a restore that meets a changed repository writes nothing it cannot vouch for', () => {
  async function reencryptedDump(repo: SiteRepository, objectPath: (key: string) => string) {
    // The same plaintext encrypted again: a valid dump, but not the object the manifest names.
    const object = good.manifest.database.object;
    const plain = await bytesOf(
      await decryptStream(await repo.store.get(object), siteIdentities(repo), object),
    );
    const again = await bytesOf(await encryptStream(Readable.from([plain]), repo.recipients));
    await writeFile(objectPath(object), again);
  }

  test('a dump replaced after verification: refused through a file before the target exists, and when streamed', async () => {
    for (const jobs of [2, 1]) {
      const { repo, objectPath } = await copyOfRepository(good);
      const name = uniqueDatabaseName('changed');
      const p = await plan(repo, good.manifest.id, newTarget(name));
      await reencryptedDump(repo, objectPath);
      const error = (await runRestore(repo, p, { identities: siteIdentities(repo), jobs }).catch(
        (e: unknown) => e,
      )) as OperationError;
      expect(error, `jobs ${jobs}`).toBeInstanceOf(OperationError);
      expect(error.message).toBe(
        `The database dump ${good.manifest.database.object} does not match its manifest's SHA-256: it is damaged, or it changed in the repository after it was verified. Nothing was restored into the target.`,
      );
      expect(error.hint).toBe(
        'Restore an older set (`tier4 backup list`); run `tier4 backup check` and find out what is writing to or damaging the repository.',
      );
      expect(await databases(name)).toEqual([]);
      expect(await workDatabasesFor(name)).toEqual([]);
    }
  });

  test('a dump damaged after verification: refused with what failed, before the target exists', async () => {
    const object = good.manifest.database.object;
    const messages: string[] = [];
    const names: string[] = [];
    // One byte flipped (decryption fails), and a valid encryption of bytes that are no compressed dump.
    for (const damage of ['flip', 'garbage'] as const) {
      const { repo, objectPath } = await copyOfRepository(good);
      const name = uniqueDatabaseName('damaged');
      names.push(name);
      const p = await plan(repo, good.manifest.id, newTarget(name));
      const path = objectPath(object);
      if (damage === 'flip') {
        const bytes = await readFile(path);
        bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
        await writeFile(path, bytes);
      } else {
        const garbage = Buffer.alloc(good.manifest.database.plainSize, 'not a dump ');
        await writeFile(path, await bytesOf(await encryptStream(Readable.from([garbage]), repo.recipients)));
      }
      const tempDir = await folder('temp');
      const error = (await runRestore(repo, p, { identities: siteIdentities(repo), jobs: 2, tempDir }).catch(
        (e: unknown) => e,
      )) as OperationError;
      expect(error).toBeInstanceOf(OperationError);
      messages.push(error.message);
      if (damage === 'garbage')
        expect(error.hint).toBe(
          'Restore an older set (`tier4 backup list`); run `tier4 backup check` and find out what is writing to or damaging the repository.',
        );
      expect(await databases(name)).toEqual([]);
      expect(await readdir(tempDir)).toEqual([]);
    }
    expect(messages[0]).toMatch(new RegExp(`^Cannot decrypt ${object}: .+`));
    expect(messages[1]).toMatch(
      new RegExp(
        `^The database dump ${object} could not be decrypted to the end \\(.+\\): it is damaged, or it changed in the repository after it was verified\\. Nothing was restored into the target\\.$`,
      ),
    );
  });

  test('an attachment replaced after verification, or whose plaintext does not match its checksum, is not written', async () => {
    const { repo, objectPath } = await copyOfRepository(good);
    const [first, second, third] = good.manifest.attachments.blobs;
    const name = uniqueDatabaseName('blobs');
    const p = await plan(repo, good.manifest.id, newTarget(name));
    // After verification, the first attachment's object is replaced by the second's (valid, but another).
    await copyFile(objectPath(second!.object), objectPath(first!.object));
    const blobsTo = await folder('blobs');
    const attachmentsTo = await openBlobTarget(blobsTo, repo.siteConfig.attachments, repo.env);
    // One attachment per restore; the third's record promises another checksum than its plaintext has.
    const only = (blob: typeof first): RestorePlan => ({
      ...p,
      manifest: { ...p.manifest, attachments: { ...p.manifest.attachments, blobs: [blob!] } },
    });
    const messages: string[] = [];
    for (const blob of [first!, { ...third!, checksum: 'AAAAAAAAAAAAAAAAAAAAAA==' }]) {
      const error = await runRestore(repo, only(blob), {
        identities: siteIdentities(repo),
        jobs: 1,
        attachmentsTo,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OperationError);
      messages.push((error as Error).message);
    }
    expect(messages).toEqual([
      `Attachment ${first!.key} changed in the repository after it was verified (${first!.object}); it was not written.`,
      `Attachment ${third!.key} does not match its checksum (active_storage_blobs.checksum) after decryption; it was not written.`,
    ]);
    for (const blob of [first!, third!])
      await expect(stat(join(blobsTo, diskBlobPath(blob.key)))).rejects.toMatchObject({ code: 'ENOENT' });
    // The target was not created: the work database was dropped.
    expect(await databases(name)).toEqual([]);
    expect(await workDatabasesFor(name)).toEqual([]);
  });

  test("the restored row's checksum is checked too, when the manifest records none", async () => {
    const { repo } = await copyOfRepository(rot);
    const [blob] = rot.manifest.attachments.blobs;
    expect(blob!.checksum).toBe('AAAAAAAAAAAAAAAAAAAAAA==');
    await reseal(repo, rot.manifest, (body) => {
      body.attachments.blobs[0] = { ...blob!, checksum: null };
    });
    const name = uniqueDatabaseName('rot');
    const p = await plan(repo, rot.manifest.id, newTarget(name));
    const blobsTo = await folder('rot');
    await expect(
      runRestore(repo, p, {
        identities: siteIdentities(repo),
        jobs: 1,
        attachmentsTo: await openBlobTarget(blobsTo, repo.siteConfig.attachments, repo.env),
      }),
    ).rejects.toThrow(
      `Attachment ${blob!.key} does not match its checksum (active_storage_blobs.checksum) after decryption; it was not written.`,
    );
    await expect(stat(join(blobsTo, diskBlobPath(blob!.key)))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('an interrupted restore says what it left: the target unchanged, how many attachments were written', async () => {
    const { repo } = await copyOfRepository(good);
    const name = uniqueDatabaseName('stopped');
    const p = await plan(repo, good.manifest.id, newTarget(name));
    const blobsTo = await folder('stopped');
    const attachmentsTo = await openBlobTarget(blobsTo, repo.siteConfig.attachments, repo.env);
    const controller = new AbortController();
    const error = (await runRestore(repo, p, {
      identities: siteIdentities(repo),
      jobs: 1,
      concurrency: 1,
      attachmentsTo,
      signal: controller.signal,
      onProgress: (event) => {
        if (event.phase === 'attachments') controller.abort(new Error('stop'));
      },
    }).catch((e: unknown) => e)) as Tier4Error;
    expect(error).toBeInstanceOf(Tier4Error);
    expect(error.message).toBe(`The restore of ${good.manifest.id} was stopped.`);
    expect(error.exitCode).toBe(130);
    expect(error.hint).toBe(
      `The database ${info().user}@${info().host}:${info().port}/${name} was not changed (the copy being built beside it was removed). 1 of 3 attachments were written to folder ${blobsTo}, each whole; a new restore writes them all. No decrypted file was left on disk.`,
    );
    expect(await databases(name)).toEqual([]);
    expect(await workDatabasesFor(name)).toEqual([]);
  });
});
