import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encryptStream } from '../../backups/crypto/age.js';
import {
  createBackup,
  findSet,
  layout,
  openSiteRepository,
  type SiteRepository,
  siteDatabase,
  siteIdentities,
  verifySet,
} from '../../backups/index.js';
import { type Manifest, sealManifest } from '../../backups/manifest.js';
import { FileStore } from '../../backups/store/file-store.js';
import { openVerification } from '../../backups/verification-record.js';
import { loadConfig } from '../../core/config/load.js';
import { OperationError, UsageError } from '../../core/errors.js';
import { findPgTool } from '../../core/postgres/pg-tools.js';
import { type BackupSite, backupSite } from '../support/backup-site.js';
import { pgInfo, queryDatabase } from '../support/pg.js';

// backup verify in the test process (backups/verify.ts): what it reports for a sound set, for each kind of
// damage, and which set "latest" and an id find. Damage is done to a copy of the repository folder.

let site: BackupSite;
let repo: SiteRepository;
let identities: string[];
let first: Manifest;
let second: Manifest;

beforeAll(async () => {
  site = await backupSite({ cases: 20, blobs: 2 });
  repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
  identities = siteIdentities(repo);
  first = (await createBackup(repo, siteDatabase(repo))).manifest;
  second = (await createBackup(repo, siteDatabase(repo))).manifest;
});

afterAll(async () => {
  await repo?.store.close();
});

/** The repository copied to a new folder, opened like the original, and that folder. */
async function copyOfRepository(): Promise<{ copy: SiteRepository; root: string }> {
  const root = await mkdtemp(join(site.dir, 'copy-'));
  await cp(join(site.dir, 'repository'), root, { recursive: true });
  const store = new FileStore(root);
  return { copy: { ...repo, store, state: store }, root };
}

const objectPath = (root: string, key: string) => join(root, ...key.split('/'));

/** Rewrites a set's manifest, correctly sealed: what only a holder of the integrity key could do. */
async function reseal(copy: SiteRepository, manifest: Manifest, change: (body: Manifest) => void) {
  const { mac: _, ...body } = structuredClone(manifest);
  change(body as Manifest);
  const sealed = sealManifest(body, repo.macKey);
  await copy.store.putBytes(layout.manifest(site.site, manifest.id), JSON.stringify(sealed));
  return sealed;
}

describe('verifySet on a sound set', () => {
  test('checks every object and records a sealed, passing verification', async () => {
    const report = await verifySet(repo, first.id);
    const objects = [first.database, ...first.attachments.blobs];
    expect(report).toMatchObject({
      id: first.id,
      ok: true,
      deep: false,
      objects: objects.length,
      bytes: objects.reduce((sum, object) => sum + object.size, 0),
      failures: [],
    });
    expect(objects.length).toBe(3);
    expect(report).not.toHaveProperty('toc');
    expect(report.seconds).toBeGreaterThanOrEqual(0);
    const prefix = `${layout.setPrefix(site.site, first.id)}verified/`;
    const records = [];
    for await (const object of repo.state.list(prefix)) records.push(object.key);
    expect(records).toHaveLength(1);
    const opened = openVerification((await repo.state.getBytes(records[0]!))!, repo.macKeys, first.id);
    expect(opened).toMatchObject({ ok: true, verification: { deep: false, ok: true } });
  });

  test('with record: false, nothing is written', async () => {
    const prefix = `${layout.setPrefix(site.site, second.id)}verified/`;
    expect((await verifySet(repo, second.id, { record: false })).ok).toBe(true);
    const records = [];
    for await (const object of repo.state.list(prefix)) records.push(object.key);
    expect(records).toEqual([]);
  });

  test('deep: reads the dump table of contents, one TABLE DATA entry per table, and every attachment', async () => {
    const progress: number[] = [];
    const report = await verifySet(repo, second.id, {
      deep: true,
      identities,
      record: false,
      onProgress: (event) => progress.push('done' in event ? event.done : -1),
    });
    const tables = await queryDatabase<{ n: string }>(
      site.db.database,
      "SELECT count(*) AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    );
    expect(report.ok).toBe(true);
    expect(report.deep).toBe(true);
    expect(report.toc?.tableData).toBe(Number(tables[0]!.n));
    expect(report.toc!.entries).toBeGreaterThan(report.toc!.tableData);
    expect(progress.sort()).toEqual([1, 2, 3]);
  });

  test('deep without the age identity is a usage error', async () => {
    await expect(verifySet(repo, first.id, { deep: true, record: false })).rejects.toThrow(
      new UsageError('Deep verification needs the age identity.'),
    );
  });
});

describe('verifySet reports', () => {
  test('deep: as many table of contents entries as pg_restore lists for a dump of the same database', async () => {
    const info = pgInfo();
    const dump = await execa(
      (await findPgTool('pg_dump', site.env)).path,
      ['-Fc', '-h', info.host, '-p', String(info.port), '-U', info.user, site.db.database],
      { env: { PGPASSWORD: info.password }, encoding: 'buffer', stripFinalNewline: false },
    );
    const listed = await execa((await findPgTool('pg_restore', site.env)).path, ['--list'], {
      input: dump.stdout,
    });
    const entries = String(listed.stdout)
      .split('\n')
      .filter((line) => /^\d+;/.test(line)).length;
    const report = await verifySet(repo, first.id, { deep: true, identities, record: false });
    expect(report.toc?.entries).toBe(entries);
  });

  test('progress names the verify phase, the objects done of the total, and the bytes read so far', async () => {
    const events: unknown[] = [];
    await verifySet(repo, first.id, { record: false, onProgress: (event) => events.push(event) });
    const total = [first.database, ...first.attachments.blobs].reduce((sum, object) => sum + object.size, 0);
    expect(events).toHaveLength(3);
    expect(events.at(-1)).toEqual({ phase: 'verify', done: 3, total: 3, bytes: total });
  });

  test('seconds is the time the verification took, to a tenth', async () => {
    // A slow store (each read answers after 300 ms) makes the time measurable on any machine.
    const slow = Object.assign(Object.create(repo.store), {
      get: async (key: string) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return repo.store.get(key);
      },
    });
    const before = Date.now();
    const report = await verifySet({ ...repo, store: slow }, first.id, { record: false });
    const took = (Date.now() - before) / 1000;
    expect(report.seconds).toBeGreaterThanOrEqual(0.3);
    expect(report.seconds).toBeLessThanOrEqual(took + 0.05);
    expect(Math.round(report.seconds * 10)).toBeCloseTo(report.seconds * 10, 6);
  });
});

describe('verifySet on a damaged set', () => {
  test('a truncated object: its size and the expected size; deep checks are not attempted', async () => {
    const { copy, root } = await copyOfRepository();
    await truncate(objectPath(root, first.database.object), 10);
    const report = await verifySet(copy, first.id, { deep: true, identities, record: false });
    expect(report.ok).toBe(false);
    expect(report.failures).toEqual([
      { object: first.database.object, problem: `size 10, expected ${first.database.size}` },
    ]);
    expect(report).not.toHaveProperty('toc');
  });

  test('an object of the right size with other bytes fails its SHA-256; a missing one cannot be read', async () => {
    const { copy, root } = await copyOfRepository();
    const [blob, other] = first.attachments.blobs;
    await writeFile(objectPath(root, blob!.object), randomBytes(blob!.size));
    await rm(objectPath(root, other!.object));
    const report = await verifySet(copy, first.id, { record: false });
    const problems = Object.fromEntries(report.failures.map((failure) => [failure.object, failure.problem]));
    expect(Object.keys(problems).sort()).toEqual([blob!.object, other!.object].sort());
    expect(problems[blob!.object]).toBe('SHA-256 does not match the manifest');
    expect(problems[other!.object]).toMatch(/^cannot be read: .+/);
  });

  test('objects the caller hashes as it reads them (hashedOnUse) are checked for presence and size only', async () => {
    const { copy, root } = await copyOfRepository();
    const dump = first.database;
    const hashedOnUse = new Set([dump.object]);
    await writeFile(objectPath(root, dump.object), randomBytes(dump.size));
    const events: Array<{ done?: number }> = [];
    const altered = await verifySet(copy, first.id, {
      record: false,
      hashedOnUse,
      onProgress: (event) => events.push(event as { done?: number }),
    });
    expect(altered.failures).toEqual([]);
    // Every object is counted in the progress, the ones checked by size only too.
    expect(events.map((event) => event.done)).toEqual([1, 2, 3]);
    expect(altered.bytes).toBe(first.attachments.blobs.reduce((sum, blob) => sum + blob.size, 0));
    await truncate(objectPath(root, dump.object), 10);
    expect((await verifySet(copy, first.id, { record: false, hashedOnUse })).failures).toEqual([
      { object: dump.object, problem: `size 10, expected ${dump.size}` },
    ]);
    await rm(objectPath(root, dump.object));
    expect((await verifySet(copy, first.id, { record: false, hashedOnUse })).failures).toEqual([
      { object: dump.object, problem: 'missing' },
    ]);
  });

  test('a failed verification is recorded as failed, with its number of failures', async () => {
    const { copy, root } = await copyOfRepository();
    await truncate(objectPath(root, first.database.object), 10);
    await verifySet(copy, first.id);
    const prefix = `${layout.setPrefix(site.site, first.id)}verified/`;
    const keys = [];
    for await (const object of copy.state.list(prefix)) keys.push(object.key);
    const records = await Promise.all(
      keys.map(async (key) => JSON.parse(String(await copy.state.getBytes(key)))),
    );
    expect(records.filter((record) => record.ok === false)).toMatchObject([
      { format: 'tier4-verification/1', set: first.id, deep: false, ok: false, failures: 1 },
    ]);
  });

  test('deep: an attachment whose decrypted content differs from its recorded checksum or size', async () => {
    const { copy } = await copyOfRepository();
    const [blob, other] = first.attachments.blobs;
    await reseal(copy, first, (body) => {
      body.attachments.blobs[0]!.checksum = createHash('md5').update('something else').digest('base64');
      body.attachments.blobs[1]!.checksum = null;
      body.attachments.blobs[1]!.plainSize += 1;
    });
    const report = await verifySet(copy, first.id, { deep: true, identities, record: false });
    const problem = 'decrypted content does not match active_storage_blobs.checksum';
    expect(report.failures.sort((a, b) => (a.object < b.object ? -1 : 1))).toEqual(
      [
        { object: blob!.object, problem },
        { object: other!.object, problem },
      ].sort((a, b) => (a.object < b.object ? -1 : 1)),
    );
  });

  test('deep: an attachment without a recorded checksum passes on its size', async () => {
    const { copy } = await copyOfRepository();
    await reseal(copy, first, (body) => {
      for (const blob of body.attachments.blobs) blob.checksum = null;
    });
    const report = await verifySet(copy, first.id, { deep: true, identities, record: false });
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
  });

  test('deep: a dump pg_restore cannot read is a failure naming pg_restore, with an empty table of contents', async () => {
    const { copy } = await copyOfRepository();
    const encrypted = Buffer.concat(
      await (
        await encryptStream(Readable.from([Buffer.from('not a pg_dump archive\n')]), repo.recipients)
      ).toArray(),
    );
    await copy.store.putBytes(first.database.object, encrypted);
    await reseal(copy, first, (body) => {
      body.database.size = encrypted.length;
      body.database.sha256 = createHash('sha256').update(encrypted).digest('hex');
    });
    const report = await verifySet(copy, first.id, { deep: true, identities, record: false });
    expect(report.toc).toEqual({ entries: 0, tableData: 0 });
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]!.object).toBe(first.database.object);
    expect(report.failures[0]!.problem).toMatch(
      /^pg_restore cannot read the dump: pg_restore: error: \S[^\n]*$/,
    );
  });
});

describe('findSet', () => {
  test('an unknown id is not taken for an untrusted or an incomplete set that is there', async () => {
    const { copy, root } = await copyOfRepository();
    await copy.store.putBytes(
      layout.manifest(site.site, second.id),
      JSON.stringify({ ...second, site: 'x' }),
    );
    await rm(objectPath(root, layout.manifest(site.site, first.id)));
    await expect(findSet(copy, '20260101T000000.000Z-000000')).rejects.toThrow(
      new UsageError(
        `No backup set 20260101T000000.000Z-000000 for site ${site.site}.`,
        'Run `tier4 backup list` to see the sets.',
      ),
    );
  });

  test('"latest" does not mention an older untrusted set', async () => {
    const { copy } = await copyOfRepository();
    await copy.store.putBytes(layout.manifest(site.site, first.id), JSON.stringify({ ...first, site: 'x' }));
    const found = await findSet(copy, 'latest');
    expect(found.id).toBe(second.id);
    expect(found.skippedUntrusted).toEqual([]);
    expect(found.warnings).toEqual([]);
  });

  test('"latest" is the newest complete set, and an id finds its set', async () => {
    expect((await findSet(repo, 'latest')).id).toBe(second.id);
    const found = await findSet(repo, first.id);
    expect(found.id).toBe(first.id);
    expect(found.manifest).toEqual(first);
    expect(found.warnings).toEqual([]);
    expect(found.skippedUntrusted).toEqual([]);
  });

  test('an unknown id, and a site with no complete set, are usage errors that say so', async () => {
    await expect(findSet(repo, '20260101T000000.000Z-000000')).rejects.toThrow(
      new UsageError(
        `No backup set 20260101T000000.000Z-000000 for site ${site.site}.`,
        'Run `tier4 backup list` to see the sets.',
      ),
    );
    const empty = new FileStore(await mkdtemp(join(site.dir, 'empty-')));
    await expect(findSet({ ...repo, store: empty, state: empty }, 'latest')).rejects.toThrow(
      new UsageError(
        `Site ${site.site} has no complete backup set yet.`,
        'Run `tier4 backup list` to see the sets.',
      ),
    );
  });

  test('a set without its manifest is incomplete; one whose manifest was altered cannot be trusted', async () => {
    const { copy, root } = await copyOfRepository();
    await rm(objectPath(root, layout.manifest(site.site, first.id)));
    await expect(findSet(copy, first.id)).rejects.toThrow(
      new UsageError(
        `Backup set ${first.id} is incomplete (it has no manifest) and cannot be used.`,
        'Pick a complete set from `tier4 backup list`.',
      ),
    );
    const altered = { ...second, site: 'elsewhere' };
    await copy.store.putBytes(layout.manifest(site.site, second.id), JSON.stringify(altered));
    const error = await findSet(copy, second.id).catch((caught) => caught);
    expect(error).toBeInstanceOf(OperationError);
    expect(error.message).toBe(
      `Backup set ${second.id} cannot be trusted: manifest MAC does not match: it was altered, or the integrity key is different.`,
    );
    expect(error.hint).toBe(
      'Do not restore it. Check backups.integrityKey, and who has write access to the repository.',
    );
  });

  test('"latest" passes over a newer untrusted set, and says which and why', async () => {
    const { copy } = await copyOfRepository();
    await copy.store.putBytes(
      layout.manifest(site.site, second.id),
      JSON.stringify({ ...second, site: 'x' }),
    );
    const found = await findSet(copy, 'latest');
    expect(found.id).toBe(first.id);
    const problem = 'manifest MAC does not match: it was altered, or the integrity key is different';
    expect(found.skippedUntrusted).toEqual([{ id: second.id, problem }]);
    expect(found.warnings).toEqual([
      `The newest backup set ${second.id} cannot be trusted (${problem}); using the older set ${first.id} instead. Find out who or what changed the repository.`,
    ]);
    // Asked for by id, the older set does not mention the newer one.
    expect((await findSet(copy, first.id)).warnings).toEqual([]);
  });
});
