import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { beforeAll, describe, expect, test } from 'vitest';
import { createBackup } from '../../backups/create.js';
import { decryptStream, generateIdentity } from '../../backups/crypto/age.js';
import { layout } from '../../backups/layout.js';
import type { Manifest } from '../../backups/manifest.js';
import type { ProgressEvent } from '../../backups/progress.js';
import { type SiteRepository, siteIdentities } from '../../backups/site-repository.js';
import type { ObjectStore } from '../../backups/store/types.js';
import { verifySet } from '../../backups/verify.js';
import { OperationError } from '../../core/errors.js';
import { toolVersion } from '../../core/package-info.js';
import { diskBlobPath } from '../../core/primero/tables.js';
import { archiveOf } from '../support/archive.js';
import { pgInfo, queryDatabase, uniqueDatabaseName } from '../support/pg.js';
import { type CachedSet, cachedSet, copyOfRepository } from './cached-set.js';

// createBackup in the test process (backups/create.ts), on copies of a tiny cached site: its database copied
// from a template (so a test may change it), its attachment folder and its repository copied, so each test
// starts from the same set and changes nothing another test sees.

let cached: CachedSet;

beforeAll(async () => {
  cached = await cachedSet({ site: 'create-mk', cases: 3, blobs: 3 });
});

interface Copy {
  repo: SiteRepository;
  root: string;
  objectPath: (key: string) => string;
  database: string;
  blobRoot: string;
}

/** The cached site with its own database (a copy), attachment folder and repository. */
async function copyOfSite(): Promise<Copy> {
  const { repo, root, objectPath } = await copyOfRepository(cached);
  const database = uniqueDatabaseName('create_mk');
  await queryDatabase('postgres', `CREATE DATABASE ${database} TEMPLATE ${cached.site.db.database}`);
  const blobRoot = await mkdtemp(join(cached.site.dir, 'blobs-'));
  await cp(cached.site.blobRoot, blobRoot, { recursive: true });
  const url = new URL(repo.siteConfig.database.url);
  url.pathname = `/${database}`;
  const siteConfig = {
    ...repo.siteConfig,
    database: { ...repo.siteConfig.database, url: url.toString() },
    attachments: { type: 'local' as const, path: blobRoot },
  };
  return { repo: { ...repo, siteConfig }, root, objectPath, database, blobRoot };
}

const target = (copy: Copy) => ({
  url: copy.repo.siteConfig.database.url,
  password: pgInfo().password,
});

async function setObjects(repo: SiteRepository, id: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of repo.store.list(layout.setPrefix(repo.site, id))) keys.push(object.key);
  return keys.sort();
}

async function allSets(repo: SiteRepository): Promise<string[]> {
  const keys = new Set<string>();
  for await (const object of repo.store.list(layout.setsPrefix(repo.site)))
    keys.add(object.key.split('/')[2]!);
  return [...keys].sort();
}

async function noLock(repo: SiteRepository): Promise<void> {
  expect(await repo.state.getBytes(layout.lock(repo.site))).toBeUndefined();
}

async function decrypted(
  repo: SiteRepository,
  key: string,
  manifest?: Manifest,
  identities = siteIdentities(repo),
): Promise<Buffer> {
  const plain = await decryptStream(await repo.store.get(key), identities, key);
  const chunks: Buffer[] = [];
  for await (const chunk of plain) chunks.push(chunk as Buffer);
  return manifest ? archiveOf(Buffer.concat(chunks), manifest.database.compression) : Buffer.concat(chunks);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('a backup of a site whose attachments an earlier set holds', () => {
  test('records the database exactly, reuses every attachment, and writes the sealed manifest last', async () => {
    const copy = await copyOfSite();
    const { repo } = copy;
    const events: ProgressEvent[] = [];
    const before = Date.now();
    const result = await createBackup(repo, target(copy), { onProgress: (event) => events.push(event) });
    const after = Date.now();
    const { manifest } = result;
    expect(result.problems).toEqual([]);
    expect(result.damaged).toEqual([]);
    expect(result.initialised).toBe('already');

    expect(manifest.format).toBe('tier4-backup-set/1');
    expect(manifest.id).toMatch(/^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}$/);
    expect(manifest.site).toBe('create-mk');
    expect(manifest.tool).toEqual({ name: 'primero-tier4', version: toolVersion() });
    const started = Date.parse(manifest.startedAt);
    const snapshot = Date.parse(manifest.snapshotAt);
    const finished = Date.parse(manifest.finishedAt);
    expect(before).toBeLessThanOrEqual(started);
    expect(started).toBeLessThanOrEqual(snapshot);
    expect(snapshot).toBeLessThanOrEqual(finished);
    expect(finished).toBeLessThanOrEqual(after);
    // The id names the snapshot's time.
    expect(manifest.id.slice(0, 19)).toBe(
      manifest.snapshotAt.replace(/[-:]/g, '').replace(/Z$/, '').slice(0, 19),
    );
    expect(manifest.timings.totalSeconds).toBe(Math.round((finished - started) / 10) / 100);
    expect(manifest.timings.databaseSeconds).toBeGreaterThan(0);
    expect(manifest.timings.databaseSeconds).toBeLessThanOrEqual(manifest.timings.totalSeconds);
    expect(
      Math.abs(
        manifest.timings.databaseSeconds +
          manifest.timings.attachmentsSeconds -
          manifest.timings.totalSeconds,
      ),
    ).toBeLessThanOrEqual(0.011);
    expect(manifest.encryption).toEqual({ scheme: 'age-x25519', recipients: repo.recipients });

    // The dump: its object's size and SHA-256, and the size of the archive it decrypts to.
    const dumpObject = await readFile(copy.objectPath(layout.dump(repo.site, manifest.id)));
    const archive = await decrypted(repo, manifest.database.object, manifest);
    const stored = await decrypted(repo, manifest.database.object); // zstd's output, as encrypted
    expect(manifest.database.compression).toEqual({ method: 'zstd', level: 1 }); // the default
    expect(stored.length).toBeLessThan(archive.length / 2);
    const extensions = await queryDatabase<{ name: string; version: string }>(
      copy.database,
      'SELECT extname AS name, extversion AS version FROM pg_extension ORDER BY extname',
    );
    // The tables a restore loads over every job (decision 0019): the largest, and those at least half its size.
    const sizes = await queryDatabase<{ schema: string; table: string; bytes: string; index: string | null }>(
      copy.database,
      `SELECT n.nspname AS schema, c.relname AS table, pg_table_size(c.oid) AS bytes,
              (SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid
                ORDER BY pg_relation_size(i.oid) DESC, i.relname LIMIT 1) AS index FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'
        ORDER BY pg_table_size(c.oid) DESC, n.nspname COLLATE "C", c.relname COLLATE "C"`,
    );
    const largest = Number(sizes[0]!.bytes);
    const bulk = sizes.filter((t) => Number(t.bytes) * 2 >= largest).slice(0, 3);
    expect(bulk.length).toBeGreaterThan(0);
    expect(manifest.database).toEqual({
      object: layout.dump(repo.site, manifest.id),
      bulkTables: bulk.map(({ schema, table, index }) => ({
        schema,
        table,
        ...(index ? { largestIndex: index } : {}),
      })),
      size: dumpObject.length,
      sha256: sha256(dumpObject),
      plainSize: archive.length,
      format: 'pg_dump-custom',
      compression: cached.manifest.database.compression,
      name: copy.database,
      serverVersion: cached.manifest.database.serverVersion,
      serverMajor: 15,
      pgDumpVersion: cached.manifest.database.pgDumpVersion,
      extensions,
      rowCounts: cached.site.db.counts,
      latestMigration: cached.site.db.latestMigration,
      primeroVersion: cached.manifest.database.primeroVersion,
    });
    expect(archive.subarray(0, 5).toString()).toBe('PGDMP');
    expect(cached.manifest.database.compression).toBeDefined();

    // Attachments: each one the earlier set stored, reused as it is.
    const earlier = cached.manifest.attachments.blobs;
    expect(manifest.attachments).toEqual({
      count: 3,
      plainBytes: earlier.reduce((sum, blob) => sum + blob.plainSize, 0),
      storedBytes: earlier.reduce((sum, blob) => sum + blob.size, 0),
      uploaded: 0,
      uploadedBytes: 0,
      reused: 3,
      problems: [],
      blobs: expect.arrayContaining(earlier),
    });
    expect(manifest.attachments.blobs).toHaveLength(3);

    // The manifest in the repository is the one returned, as indented JSON with a final newline.
    expect(await readFile(copy.objectPath(layout.manifest(repo.site, manifest.id)), 'utf8')).toBe(
      `${JSON.stringify(manifest, null, 2)}\n`,
    );
    expect(await setObjects(repo, manifest.id)).toEqual(
      [layout.dump(repo.site, manifest.id), layout.manifest(repo.site, manifest.id)].sort(),
    );
    expect((await verifySet(repo, manifest.id, { record: false })).ok).toBe(true);
    await noLock(repo);

    // Progress: the database phase ends at the size stored (compressed, before encryption), fraction 1; then
    // one event per attachment.
    const database = events.filter((event) => event.phase === 'database');
    expect(database.at(-1)).toEqual({ phase: 'database', bytes: stored.length, fraction: 1 });
    expect(database.length).toBeGreaterThanOrEqual(2);
    expect(database[0]).toMatchObject({ phase: 'database' });
    expect(events.filter((event) => event.phase === 'attachments')).toEqual([
      { phase: 'attachments', done: 1, total: 3, bytes: 0 },
      { phase: 'attachments', done: 2, total: 3, bytes: 0 },
      { phase: 'attachments', done: 3, total: 3, bytes: 0 },
    ]);
  });

  test('fresh: every attachment is uploaded again under a new object name, for every recipient; the old objects stay', async () => {
    const copy = await copyOfSite();
    // A second recipient, last: the recovery key, the one most likely to be dropped.
    const recovery = await generateIdentity();
    const repo = { ...copy.repo, recipients: [...copy.repo.recipients, recovery.recipient] };
    const events: ProgressEvent[] = [];
    const created = await createBackup(repo, target(copy), {
      fresh: true,
      concurrency: 1,
      onProgress: (event) => events.push(event),
    });
    // Every attachment matches its row's checksum: no problem is reported.
    expect(created.problems).toEqual([]);
    const { manifest } = created;
    expect(manifest.attachments.problems).toEqual([]);
    const earlier = new Map(cached.manifest.attachments.blobs.map((blob) => [blob.key, blob]));
    expect(manifest.attachments.uploaded).toBe(3);
    expect(manifest.attachments.reused).toBe(0);
    expect(manifest.attachments.count).toBe(3);
    const sizes = manifest.attachments.blobs.map((blob) => blob.size);
    expect(manifest.attachments.uploadedBytes).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(manifest.attachments.storedBytes).toBe(manifest.attachments.uploadedBytes);
    for (const blob of manifest.attachments.blobs) {
      const old = earlier.get(blob.key)!;
      // Never over an object that is there: a new name beside it.
      expect(blob.object).toMatch(
        new RegExp(`^create-mk/blobs/${blob.key.slice(0, 2)}/${blob.key}\\.[0-9a-f]{8}\\.age$`),
      );
      expect(blob.plainSize).toBe(old.plainSize);
      expect(blob.checksum).toBe(old.checksum);
      const stored = await readFile(copy.objectPath(blob.object));
      expect([blob.size, blob.sha256]).toEqual([stored.length, sha256(stored)]);
      expect(await readFile(copy.objectPath(old.object))).toBeDefined();
      const plain = await decrypted(repo, blob.object);
      expect(plain.equals(await readFile(join(copy.blobRoot, diskBlobPath(blob.key))))).toBe(true);
      expect((await decrypted(repo, blob.object, undefined, [recovery.identity])).equals(plain)).toBe(true);
    }
    expect(manifest.encryption.recipients).toEqual(repo.recipients);
    const dump = await decrypted(repo, manifest.database.object, manifest, [recovery.identity]);
    expect(dump.subarray(0, 5).toString()).toBe('PGDMP');
    // One at a time: the bytes uploaded grow with each attachment.
    const expected = manifest.attachments.blobs.map((_, index) => ({
      phase: 'attachments',
      done: index + 1,
      total: 3,
      bytes: sizes.slice(0, index + 1).reduce((a, b) => a + b, 0),
    }));
    expect(events.filter((event) => event.phase === 'attachments')).toEqual(expected);
  });
});

describe('attachments that cannot be backed up as they are', () => {
  test('missing, changed, not a plain key, or behind a symbolic link: each a problem, the rest backed up', async () => {
    const copy = await copyOfSite();
    const { repo } = copy;
    const [missing, changed, linked] = cached.site.db.blobs;
    await rm(join(copy.blobRoot, diskBlobPath(missing!.key)));
    await writeFile(join(copy.blobRoot, diskBlobPath(changed!.key)), 'not what was uploaded');
    const linkedPath = join(copy.blobRoot, diskBlobPath(linked!.key));
    await rm(linkedPath);
    await (await import('node:fs/promises')).symlink('/etc/hostname', linkedPath);
    await queryDatabase(
      copy.database,
      "INSERT INTO active_storage_blobs (key, filename, service_name, byte_size, checksum, created_at) VALUES ('../../etc/passwd', 'x', 'local', 1, 'x', now())",
    );
    const idRows = await queryDatabase<{ id: string }>(
      copy.database,
      "SELECT id::text FROM active_storage_blobs WHERE key IN ('../../etc/passwd', $1) ORDER BY key",
      [linked!.key],
    );
    // fresh: nothing reused, so each attachment is read from the folder.
    const result = await createBackup(repo, target(copy), { fresh: true });
    const problems = [...result.problems].sort((a, b) => a.key.localeCompare(b.key));
    expect(problems).toEqual(
      [
        { key: '../../etc/passwd', problem: 'unsafe-key', blobId: idRows[0]!.id },
        { key: missing!.key, problem: 'missing' },
        { key: changed!.key, problem: 'checksum-mismatch' },
        { key: linked!.key, problem: 'unsafe-path', blobId: idRows[1]!.id },
      ].sort((a, b) => a.key.localeCompare(b.key)),
    );
    expect(result.manifest.attachments.problems).toEqual(result.problems);
    // The changed one is stored as it is now (its record keeps the database's checksum); the others are not.
    expect(result.manifest.attachments.blobs.map((blob) => blob.key)).toEqual([changed!.key]);
    expect(result.manifest.attachments.count).toBe(1);
    expect(result.manifest.attachments.blobs[0]!.checksum).toBe(changed!.checksum);
    expect(result.manifest.attachments.blobs[0]!.plainSize).toBe('not what was uploaded'.length);
  });
});

describe('a backup that fails leaves no set behind', () => {
  test('an attachment upload that fails: an error naming it, the set removed, the lock released', async () => {
    const copy = await copyOfSite();
    const failing: ObjectStore = Object.assign(Object.create(copy.repo.store), {
      put: async (key: string, body: Readable) => {
        if (key.includes('/blobs/')) {
          body.resume();
          throw new Error('disk full');
        }
        return copy.repo.store.put(key, body);
      },
    });
    const repo = { ...copy.repo, store: failing };
    const before = await allSets(copy.repo);
    const error = await createBackup(repo, target(copy), { fresh: true, concurrency: 1 }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(OperationError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^Uploading attachment [a-z0-9]{28} to ${copy.repo.store.location.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} failed: disk full$`,
      ),
    );
    expect((error as OperationError).hint).toBe(
      'The backup was not completed; nothing that looks complete was left. Check the repository and run it again.',
    );
    expect(await allSets(copy.repo)).toEqual(before);
    await noLock(copy.repo);
  });

  test('an interrupted dump: pg_dump is stopped, the set removed, the lock released', async () => {
    const copy = await copyOfSite();
    const controller = new AbortController();
    const before = await allSets(copy.repo);
    const error = await createBackup(copy.repo, target(copy), {
      signal: controller.signal,
      onProgress: (event) => {
        if (event.phase === 'database') controller.abort(new Error('interrupted'));
      },
    }).catch((caught: unknown) => caught);
    expect((error as Error).message).toBe('pg_dump was stopped: the backup was interrupted');
    expect((error as OperationError).hint).toBeUndefined();
    expect(await allSets(copy.repo)).toEqual(before);
    await noLock(copy.repo);
  });

  test('a database that cannot be read: pg_dump fails, naming the cause; nothing is left', async () => {
    const copy = await copyOfSite();
    const role = uniqueDatabaseName('tier4_noread');
    const password = `pw-${uniqueDatabaseName('x')}`;
    await queryDatabase('postgres', `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    try {
      const url = new URL(copy.repo.siteConfig.database.url);
      url.username = role;
      const before = await allSets(copy.repo);
      const error = await createBackup(copy.repo, { url: url.toString(), password }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(OperationError);
      expect((error as Error).message).toMatch(/^pg_dump failed: pg_dump: error: .+/);
      expect((error as OperationError).hint).toBe(
        'Check the database connection and that the backup user may read every table.',
      );
      expect(await allSets(copy.repo)).toEqual(before);
      await noLock(copy.repo);
    } finally {
      await queryDatabase('postgres', `DROP OWNED BY ${role}`).catch(() => undefined);
      await queryDatabase('postgres', `DROP ROLE IF EXISTS ${role}`);
    }
  });
});
