import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { openSiteRepository, readCatalog } from '../../backups/index.js';
import { layout } from '../../backups/layout.js';
import { loadConfig } from '../../core/config/load.js';
import {
  addBlob,
  type BackupSite,
  backupSite,
  repositoryFiles,
  restoreArgs,
  scratchDatabaseUrl,
} from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { queryDatabase } from '../support/pg.js';
import { testSecret } from '../support/secrets.js';

/**
 * The repository side of an adversarial trial (issue #12): wrong and rotated keys, damaged and forged objects,
 * concurrent operations. Every test runs the real CLI against real PostgreSQL 15 and a real file:// repository.
 */

async function run(site: BackupSite, ...args: string[]) {
  return tier4(['--json', '-c', site.configPath, ...args, '--site', site.site], { env: site.env });
}

async function create(site: BackupSite) {
  const result = await run(site, 'backup', 'create');
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { id: string; attachments: { uploaded: number; reused: number } };
}

/** Replaces the site's integrity key (by reference, like every secret), as the data-breach runbook does. */
async function replaceIntegrityKey(site: BackupSite): Promise<string> {
  const old = site.env.TIER4_LOCAL_INTEGRITY_KEY!;
  site.env.TIER4_LOCAL_INTEGRITY_KEY = testSecret('rotated-integrity');
  return old;
}

/** Lists an old integrity key under backups.previousIntegrityKeys. */
async function listPreviousKey(site: BackupSite, key: string): Promise<void> {
  const config = parse(await readFile(site.configPath, 'utf8'));
  const backups = config.sites[site.site].backups;
  const name = `TIER4_OLD_INTEGRITY_KEY_${(backups.previousIntegrityKeys ?? []).length}`;
  site.env[name] = key;
  backups.previousIntegrityKeys = [...(backups.previousIntegrityKeys ?? []), { env: name }];
  await writeFile(site.configPath, stringify(config));
}

/** Every file of the repository with its bytes. */
async function snapshotFiles(site: BackupSite): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const path of await repositoryFiles(site)) out.set(path, await readFile(path));
  return out;
}

async function verify(site: BackupSite, id: string) {
  return run(site, 'backup', 'verify', id);
}

/** Alters a field of a set's manifest, keeping it readable: its MAC no longer matches. */
async function tamperWithManifest(site: BackupSite, id: string): Promise<void> {
  const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
  const key = layout.manifest(site.site, id);
  const manifest = JSON.parse((await repo.store.getBytes(key))!.toString('utf8'));
  await repo.store.putBytes(key, JSON.stringify({ ...manifest, finishedAt: new Date().toISOString() }));
  await repo.store.close();
}

/** Retention that keeps one set: any older set is due to go. */
async function keepOnlyNewest(site: BackupSite): Promise<void> {
  const config = parse(await readFile(site.configPath, 'utf8'));
  config.sites[site.site].backups.retention = { last: 1, daily: 1, weekly: 1, monthly: 1 };
  await writeFile(site.configPath, stringify(config));
}

async function blobFiles(site: BackupSite): Promise<string[]> {
  return (await repositoryFiles(site)).filter((path) => path.includes('/blobs/'));
}

describe('prune under a wrong or rotated integrity key', () => {
  test('refuses when no set is trusted, and deletes nothing', async () => {
    const site = await backupSite({ cases: 20, blobs: 4 });
    await create(site);
    await create(site);
    const before = await repositoryFiles(site);
    await replaceIntegrityKey(site);

    const pruned = await run(site, 'backup', 'prune');
    expect(pruned.code).toBe(1);
    expect(pruned.stderr).toContain('integrityKey');
    expect(pruned.stderr).toContain('previousIntegrityKeys');
    expect(await repositoryFiles(site)).toEqual(before);
  });

  test('keeps every attachment an untrusted set names, and says so', async () => {
    const site = await backupSite({ cases: 20, blobs: 2 });
    const key = 'onlyinfirstset00000000000001';
    await addBlob(site, key, randomBytes(2000));
    const first = await create(site);
    await queryDatabase(site.db.database, 'DELETE FROM active_storage_blobs WHERE key = $1', [key]);
    await create(site);
    // The first set's manifest is altered (or sealed with a key we were not given): it names the blob.
    await tamperWithManifest(site, first.id);
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);

    const pruned = await run(site, 'backup', 'prune');
    expect(pruned.code, pruned.stderr).toBe(0);
    const report = JSON.parse(pruned.stdout);
    expect(report.untrusted).toEqual([first.id]);
    expect(report.blobsKeptForUntrusted).toBe(1);
    expect(report.blobsRemoved).toBe(0);
    // Still stored, as the first set recorded it (its size, read from the manifest without trusting it).
    const recorded = JSON.parse(
      (await repo.store.getBytes(layout.manifest(site.site, first.id)))!.toString('utf8'),
    ).attachments.blobs.find((blob: { key: string }) => blob.key === key);
    expect(recorded.object).toBe(layout.blob(site.site, key));
    expect(await repo.store.head(recorded.object)).toBe(recorded.size);
    const text = await tier4(['-c', site.configPath, 'backup', 'prune', '--site', site.site], {
      env: site.env,
    });
    expect(text.stdout).toContain('1 attachment(s) they name were kept');
    await repo.store.close();
  });

  test('an untrusted manifest too damaged to read stops the attachment sweep', async () => {
    const site = await backupSite({ cases: 20, blobs: 3 });
    const first = await create(site);
    await create(site);
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    await repo.store.putBytes(layout.manifest(site.site, first.id), '{not json');
    // An attachment no trusted set names: it might be the damaged set's.
    await repo.store.putBytes(layout.blob(site.site, 'orphanblob000000000000000001'), 'x');
    await repo.store.close();

    const pruned = await run(site, 'backup', 'prune');
    expect(pruned.code, pruned.stderr).toBe(0);
    const report = JSON.parse(pruned.stdout);
    expect(report.blobSweepSkipped).toContain(first.id);
    expect(report.blobsRemoved).toBe(0);
    expect((await blobFiles(site)).some((path) => path.includes('orphanblob'))).toBe(true);
  });
});

describe('stored objects are never overwritten', () => {
  test("the data-breach runbook's key replacement, then backups: every older set still verifies", async () => {
    const site = await backupSite({ cases: 20, blobs: 4 });
    const first = await create(site);
    const before = await snapshotFiles(site);
    const oldKey = await replaceIntegrityKey(site);

    // Nothing in the repository can be trusted with the new key alone: the backup refuses, and says how on.
    const refused = await run(site, 'backup', 'create');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('previousIntegrityKeys');
    expect(refused.stderr).toContain('--fresh');
    expect(await snapshotFiles(site)).toEqual(before);

    await listPreviousKey(site, oldKey);
    const second = await create(site);
    expect(second.attachments.reused).toBe(4);
    // A set that depends on nothing the old key sealed: every attachment again, under new names.
    const fresh = await run(site, 'backup', 'create', '--fresh');
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(JSON.parse(fresh.stdout).attachments.uploaded).toBe(4);

    for (const [path, bytes] of before) expect(await readFile(path)).toEqual(bytes);
    for (const id of [first.id, second.id, JSON.parse(fresh.stdout).id]) {
      const verified = await verify(site, id);
      expect(verified.code, verified.stdout).toBe(0);
    }
  });

  test("an object already at an attachment's name that no trusted set records is left as it is", async () => {
    const site = await backupSite({ cases: 20, blobs: 2 });
    await create(site);
    const key = 'plantedblob00000000000000001';
    await addBlob(site, key, randomBytes(3000));
    // Left by a set this key cannot read, or planted: either way, not ours to replace.
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    await repo.store.putBytes(layout.blob(site.site, key), "someone else's object");
    const second = await create(site);
    expect((await repo.store.getBytes(layout.blob(site.site, key)))!.toString()).toBe(
      "someone else's object",
    );
    const catalog = await readCatalog(repo.store, repo.site, repo.macKeys);
    const record = catalog.complete
      .find((entry) => entry.id === second.id)!
      .manifest!.attachments.blobs.find((blob) => blob.key === key)!;
    expect(record.object).not.toBe(layout.blob(site.site, key));
    expect((await verify(site, second.id)).code).toBe(0);
    await repo.store.close();
  });
});

describe('reuse of stored attachments is not blind', () => {
  test('a damaged stored copy is detected by the next backup, stored again and reported', async () => {
    const site = await backupSite({ cases: 20, blobs: 4 });
    const first = await create(site);
    const files = (await blobFiles(site)).sort();
    // One copy cut short, one with a flipped byte (same size: only reading it back finds it).
    const truncated = await readFile(files[0]!);
    await writeFile(files[0]!, truncated.subarray(0, truncated.length - 10));
    const flipped = await readFile(files[1]!);
    flipped[flipped.length - 20]! ^= 0xff;
    await writeFile(files[1]!, flipped);

    const second = await run(site, 'backup', 'create');
    expect(second.code).toBe(1);
    const report = JSON.parse(second.stdout);
    expect(report.damagedInRepository).toHaveLength(2);
    expect(report.attachments.uploaded).toBe(2);
    expect(second.stderr).toContain('damaged');
    expect((await verify(site, report.id)).code).toBe(0);
    expect((await verify(site, first.id)).code).toBe(1);
    // The damaged copies stay as they are: evidence, and never overwritten.
    expect((await readFile(files[1]!)).equals(flipped)).toBe(true);
  });

  test('an attachment that failed its checksum once is read again after its source is repaired', async () => {
    const site = await backupSite({ cases: 20, blobs: 1 });
    const key = 'flakysource00000000000000001';
    const content = randomBytes(5000);
    await addBlob(site, key, content);
    const { diskBlobPath } = await import('../../core/primero/tables.js');
    const sourcePath = join(site.blobRoot, diskBlobPath(key));
    await writeFile(sourcePath, Buffer.concat([content.subarray(0, 100), Buffer.alloc(4900)]));
    const bad = await run(site, 'backup', 'create');
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).problems).toEqual([{ key, problem: 'checksum-mismatch' }]);

    await writeFile(sourcePath, content); // repaired
    const good = await run(site, 'backup', 'create');
    expect(good.code, good.stderr).toBe(0);
    const id = JSON.parse(good.stdout).id;
    const deep = await run(site, 'backup', 'verify', id, '--deep');
    expect(deep.code, deep.stdout).toBe(0);
  });
});

describe('verification records', () => {
  test('a malformed or forged record is ignored with a warning naming it; nothing crashes', async () => {
    const site = await backupSite({ cases: 20, blobs: 2 });
    const first = await create(site);
    expect((await verify(site, first.id)).code).toBe(0);
    const second = await create(site);
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const later = new Date(Date.now() + 60_000);
    const malformed = layout.verification(site.site, first.id, later);
    await repo.store.putBytes(malformed, '{not json');
    // A forged record claims the never-verified second set passed a deep verification.
    const forged = layout.verification(site.site, second.id, later);
    await repo.store.putBytes(forged, JSON.stringify({ at: later.toISOString(), deep: true, ok: true }));
    await repo.store.close();

    const listed = await run(site, 'backup', 'list');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stderr).toContain(malformed);
    expect(listed.stderr).toContain(forged);
    const sets = JSON.parse(listed.stdout).sets as Array<{ id: string; lastVerified: unknown }>;
    expect(sets.find((s) => s.id === first.id)!.lastVerified).toMatchObject({ ok: true }); // the real one
    expect(sets.find((s) => s.id === second.id)!.lastVerified).toBeNull();

    const third = await run(site, 'backup', 'create');
    expect(third.code, third.stderr).toBe(0);
    const pruned = await run(site, 'backup', 'prune', '--dry-run');
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout).warnings.join('\n')).toContain(malformed);
    const restored = await tier4(['--json', ...restoreArgs(site, 'latest', scratchDatabaseUrl('hostile'))], {
      env: site.env,
    });
    expect(restored.code, restored.stderr).toBe(0);
    const drilled = await tier4(
      [
        '--json',
        '-c',
        site.configPath,
        'drill',
        '--site',
        site.site,
        '--report-dir',
        join(site.dir, 'r'),
        '--backup',
        first.id,
      ],
      { env: site.env },
    );
    expect(drilled.code, drilled.stderr).toBe(0);
  });
});

describe('"latest" past a newest set that cannot be trusted', () => {
  test('restore and drill say so loudly; the drill fails', async () => {
    const site = await backupSite({ cases: 20, blobs: 2 });
    const older = await create(site);
    const newest = await create(site);
    await tamperWithManifest(site, newest.id);

    const restored = await tier4(['--json', ...restoreArgs(site, 'latest', scratchDatabaseUrl('hostile'))], {
      env: site.env,
    });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toContain(`The newest backup set ${newest.id} cannot be trusted`);
    const result = JSON.parse(restored.stdout);
    expect(result.id).toBe(older.id);
    expect(result.warnings.join('\n')).toContain(newest.id);
    const text = await tier4(restoreArgs(site, 'latest', scratchDatabaseUrl('hostile')), { env: site.env });
    expect(text.stderr).toContain(`using the older set ${older.id}`);

    const drilled = await tier4(
      ['--json', '-c', site.configPath, 'drill', '--site', site.site, '--report-dir', join(site.dir, 'r')],
      { env: site.env },
    );
    expect(drilled.code).toBe(1);
    const report = JSON.parse(drilled.stdout);
    expect(report.setId).toBe(older.id);
    expect(report.failedChecks).toEqual(['newest-set']);
    expect(drilled.stderr).toContain('newest-set');
  });
});

describe('retention and failed verifications', () => {
  test('a newest set that failed verification does not push out the only good one', async () => {
    const site = await backupSite({ cases: 20, blobs: 2 });
    await keepOnlyNewest(site);
    const good = await create(site);
    const bad = await create(site);
    const dump = (await repositoryFiles(site)).find((path) => path.includes(`${bad.id}/database.dump.age`))!;
    const bytes = await readFile(dump);
    bytes[bytes.length - 50]! ^= 0xff;
    await writeFile(dump, bytes);
    expect((await verify(site, bad.id)).code).toBe(1); // recorded: FAILED

    const pruned = await run(site, 'backup', 'prune');
    expect(pruned.code, pruned.stderr).toBe(0);
    const report = JSON.parse(pruned.stdout);
    expect(report.kept.map((k: { id: string }) => k.id)).toEqual([good.id]);
    expect(report.removed).toEqual([bad.id]);
  });
});

describe('restores and prune', () => {
  test('prune refuses while a restore reads the repository; a restore refuses while a prune runs', async () => {
    const site = await backupSite({ cases: 300, blobs: 30 });
    await keepOnlyNewest(site);
    const older = await create(site);
    await create(site); // retention now removes the older set

    // A restore of the older set, and a prune started while it runs.
    const restoring = tier4(
      restoreArgs(
        site,
        older.id,
        scratchDatabaseUrl('hostile'),
        '--attachments-to',
        join(site.dir, 'restored'),
      ),
      { env: site.env },
    );
    const locks = join(site.repository.replace('file://', ''), site.site, 'locks');
    const { readdir } = await import('node:fs/promises');
    while ((await readdir(locks).catch(() => [])).length === 0) await new Promise((r) => setTimeout(r, 20));
    const pruned = await run(site, 'backup', 'prune');
    const restored = await restoring;
    expect(restored.code, restored.stderr).toBe(0);
    expect(pruned.code).toBe(1);
    expect(pruned.stderr).toContain('reading the repository');
    expect(pruned.stderr).toContain('nothing was pruned');

    // Once the restore is over, prune goes ahead.
    const after = await run(site, 'backup', 'prune');
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout).removed).toEqual([older.id]);

    // And while a prune holds the repository, a restore refuses before reading anything.
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const { acquireLock } = await import('../../backups/lock.js');
    const lock = await acquireLock(repo.state, repo.site, 'prune');
    const refused = await tier4(restoreArgs(site, 'latest', scratchDatabaseUrl('hostile')), {
      env: site.env,
    });
    await lock.release();
    await repo.store.close();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('A prune of');
  });
});

describe('a repository in immutable (WORM) storage', () => {
  async function wormRepository(site: BackupSite, stateApart: boolean) {
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const { FileStore } = await import('../../backups/store/file-store.js');
    const { ImmutableStore } = await import('../support/immutable-store.js');
    repo.store = new ImmutableStore(repo.store);
    repo.state = stateApart ? new FileStore(join(site.dir, 'state')) : repo.store;
    return repo;
  }

  test('two backups, verify and prune work with the lock and verification records kept apart', async () => {
    const site = await backupSite({ cases: 20, blobs: 3 });
    await keepOnlyNewest(site);
    const repo = await wormRepository(site, true);
    const { createBackup, siteDatabase, verifySet, pruneRepository } = await import('../../backups/index.js');
    const first = await createBackup(repo, siteDatabase(repo));
    const second = await createBackup(repo, siteDatabase(repo));
    expect(second.manifest.attachments.reused).toBe(3);
    expect((await verifySet(repo, first.manifest.id)).ok).toBe(true);
    expect((await verifySet(repo, second.manifest.id)).ok).toBe(true);
    const listed = await readCatalog(repo.store, repo.site, repo.macKeys, repo.state);
    expect(listed.complete.map((e) => e.lastVerified?.ok)).toEqual([true, true]);
    const report = await pruneRepository(repo);
    // The older set is due to go, but the policy protects it: reported, not an error, and left whole.
    expect(report.errors).toEqual([]);
    expect(report.protected).toEqual([layout.manifest(site.site, first.manifest.id)]);
    expect((await verifySet(repo, first.manifest.id, { record: false })).ok).toBe(true);
    await repo.store.close();
  });

  test('with the lock in the immutable container, a stale lock is a clear error, not a crash', async () => {
    const site = await backupSite({ cases: 20, blobs: 1 });
    const repo = await wormRepository(site, false);
    const { acquireLock } = await import('../../backups/lock.js');
    const held = await acquireLock(repo.state, repo.site, 'backup');
    await held.release(); // refused by the policy: the lock stays
    const tomorrow = () => new Date(Date.now() + 86_400_000);
    const error = await acquireLock(repo.state, repo.site, 'backup', { now: tomorrow }).catch((e) => e);
    expect(error.name).toBe('OperationError');
    expect(error.message).toContain('cannot be removed');
    expect(error.hint).toContain('backups.stateRepository');
    await repo.store.close();
  });

  test('backups.stateRepository takes the verification records and locks out of the repository', async () => {
    const site = await backupSite({ cases: 20, blobs: 1 });
    const config = parse(await readFile(site.configPath, 'utf8'));
    config.sites[site.site].backups.stateRepository = `file://${join(site.dir, 'state')}`;
    await writeFile(site.configPath, stringify(config));
    const set = await create(site);
    expect((await verify(site, set.id)).code).toBe(0);
    const { listFiles } = await import('../support/backup-site.js');
    expect((await repositoryFiles(site)).filter((path) => path.includes('/verified/'))).toEqual([]);
    expect(
      (await listFiles(join(site.dir, 'state'))).some((path) => path.includes(`${set.id}/verified/`)),
    ).toBe(true);
    const listed = JSON.parse((await run(site, 'backup', 'list')).stdout);
    expect(listed.sets[0].lastVerified.ok).toBe(true);
  });
});

describe('backup list for a new user', () => {
  test('shows a problems column, and a wrong key does not look like an empty repository', async () => {
    const site = await backupSite({ cases: 20, blobs: 1 });
    const key = 'missingsource000000000000001';
    await addBlob(site, key, randomBytes(100));
    const { diskBlobPath } = await import('../../core/primero/tables.js');
    const { rm } = await import('node:fs/promises');
    await rm(join(site.blobRoot, diskBlobPath(key)));
    expect((await run(site, 'backup', 'create')).code).toBe(1); // one attachment missing
    const listed = await tier4(['-c', site.configPath, 'backup', 'list', '--site', site.site], {
      env: site.env,
    });
    expect(listed.stdout).toMatch(/problems/);
    expect(listed.stdout).toContain('1 attachment(s) missing or damaged');

    await replaceIntegrityKey(site);
    const wrong = await tier4(['-c', site.configPath, 'backup', 'list', '--site', site.site], {
      env: site.env,
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('1 set(s) present');
    expect(wrong.stdout).toContain('none trusted: check backups.integrityKey');
  });
});

describe('backup check and unlock', () => {
  test('check verifies every set and names the damaged one; unlock removes a stale lock after confirmation', async () => {
    const site = await backupSite({ cases: 20, blobs: 2 });
    const first = await create(site);
    const second = await create(site);
    const ok = await run(site, 'backup', 'check', '--deep');
    expect(ok.code, ok.stdout).toBe(0);
    expect(JSON.parse(ok.stdout).sets.map((s: { id: string }) => s.id)).toEqual([first.id, second.id]);
    const dump = (await repositoryFiles(site)).find((path) =>
      path.includes(`${first.id}/database.dump.age`),
    )!;
    await writeFile(dump, 'damaged');
    const bad = await tier4(['-c', site.configPath, 'backup', 'check', '--site', site.site], {
      env: site.env,
    });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`${first.id} FAILED`);

    // A lock left by a backup that died long ago.
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const stale = {
      token: 'x',
      operation: 'backup',
      host: 'gone-host',
      pid: 1,
      acquiredAt: '2026-01-01T00:00:00Z',
    };
    await repo.store.putBytes(
      layout.lock(site.site),
      JSON.stringify({ ...stale, expiresAt: '2026-01-01T00:15:00Z' }),
    );
    const unconfirmed = await run(site, 'backup', 'unlock');
    expect(unconfirmed.code).toBe(2);
    expect(await repo.store.head(layout.lock(site.site))).toBeDefined();
    const unlocked = await run(site, 'backup', 'unlock', '--yes', '--confirm', site.site);
    expect(unlocked.code, unlocked.stderr).toBe(0);
    expect(await repo.store.head(layout.lock(site.site))).toBeUndefined();
    // A live lock is not removed without --force.
    const live = new Date(Date.now() + 600_000).toISOString();
    await repo.store.putBytes(layout.lock(site.site), JSON.stringify({ ...stale, expiresAt: live }));
    const refused = await run(site, 'backup', 'unlock', '--yes', '--confirm', site.site);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('has not expired');
    await repo.store.close();
  });
});

describe('leftovers and strangers in a file:// repository', () => {
  test('prune sweeps old .tmp-* files; odd set folders and symlinked manifests are reported and left alone', async () => {
    const site = await backupSite({ cases: 20, blobs: 1 });
    const set = await create(site);
    const root = join(site.repository.replace('file://', ''), site.site);
    const { mkdir, symlink, utimes, readdir } = await import('node:fs/promises');
    const blobDir = join(root, 'blobs', (await readdir(join(root, 'blobs')))[0]!);
    const leftover = join(blobDir, '.tmp-0123456789ab-killed.age');
    await writeFile(leftover, 'half an upload');
    const old = new Date(Date.now() - 3 * 3600_000);
    await utimes(leftover, old, old);
    await mkdir(join(root, 'sets', 'not-a-set'), { recursive: true });
    await writeFile(join(root, 'sets', 'not-a-set', 'manifest.json'), '{}');
    const linkedId = '20200101T000000.000Z-abcdef';
    await mkdir(join(root, 'sets', linkedId), { recursive: true });
    await symlink(join(root, 'sets', set.id, 'manifest.json'), join(root, 'sets', linkedId, 'manifest.json'));

    const pruned = await run(site, 'backup', 'prune');
    expect(pruned.code, pruned.stderr).toBe(0);
    const report = JSON.parse(pruned.stdout);
    expect(report.temporaryRemoved).toBe(1);
    expect(pruned.stderr).toContain('not-a-set is not a backup set');
    expect(pruned.stderr).toContain('symbolic link');
    expect(report.untrusted).toContain(linkedId);
    expect(report.incompleteRemoved).not.toContain(linkedId);
    const files = await repositoryFiles(site);
    expect(files.some((path) => path.includes('.tmp-'))).toBe(false);
    expect(files.some((path) => path.includes('not-a-set'))).toBe(true);
    expect(files.some((path) => path.includes(linkedId))).toBe(true);
  });
});

describe('an unreachable repository endpoint', () => {
  test('is a clear error naming the endpoint, not an unexpected failure', async () => {
    const site = await backupSite({ cases: 5, blobs: 0 });
    const config = parse(await readFile(site.configPath, 'utf8'));
    const backups = config.sites[site.site].backups;
    backups.repository = 's3://tier4-backups/sites';
    backups.s3 = {
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: {
        accessKeyId: { env: 'T4_UNREACHABLE_ID' },
        secretAccessKey: { env: 'T4_UNREACHABLE_KEY' },
      },
    };
    await writeFile(site.configPath, stringify(config));
    const listed = await tier4(['-c', site.configPath, 'backup', 'list', '--site', site.site], {
      env: { ...site.env, T4_UNREACHABLE_ID: 'x', T4_UNREACHABLE_KEY: testSecret('s3') },
    });
    expect(listed.code).toBe(1);
    expect(listed.stderr).not.toContain('unexpected failure');
    expect(listed.stderr).toContain('http://127.0.0.1:9');
    expect(listed.stderr).toContain('ECONNREFUSED');
    // Meanwhile each retry of the SDK is told, naming the endpoint (Azure's take about 45 s in all).
    expect(listed.stderr).toContain('still trying http://127.0.0.1:9 (attempt 2 of 5, after ECONNREFUSED)…');
  });

  test("Azure's silent retries are told at each try, naming the endpoint; the end names it too", async () => {
    const { AzureStore } = await import('../../backups/store/azure-store.js');
    const { unreachableRepository } = await import('../../backups/store/unreachable.js');
    const endpoint = 'http://127.0.0.1:9/devstoreaccount1';
    // Three tries 50 ms apart instead of five 4 s apart (StorageRetryPolicy's retryDelayInMs): the same path.
    const tries: number[] = [];
    const store = await AzureStore.open({
      account: 'devstoreaccount1',
      container: 'backups',
      prefix: 'sites',
      endpoint,
      accountKey: randomBytes(64).toString('base64'),
      retry: { attempts: 3, baseDelayMs: 50, onRetry: ({ attempt }) => tries.push(attempt) },
    });
    const error = await store.head('production/repository/x.json').catch((e: unknown) => e);
    expect(tries).toEqual([2, 3]);
    const clear = unreachableRepository(error, { azure: { endpoint } } as never, store.location) as Error;
    expect(clear.message).toBe(
      `The backup repository azblob://devstoreaccount1/backups/sites cannot be reached at ${endpoint} (ECONNREFUSED).`,
    );
  });
});

describe('the repository marker (tier4 backup init)', () => {
  /** Points the site at another folder, as a mistyped file:// path would. */
  async function pointAt(site: BackupSite, path: string): Promise<void> {
    const config = parse(await readFile(site.configPath, 'utf8'));
    config.sites[site.site].backups.repository = `file://${path}`;
    await writeFile(site.configPath, stringify(config));
  }

  test('a mistyped file:// path does not start a new repository: create refuses, touching nothing', async () => {
    const site = await backupSite({ cases: 5, blobs: 1 });
    const typo = join(site.dir, 'repositroy');
    await pointAt(site, typo);
    const refused = await tier4(['-c', site.configPath, 'backup', 'create'], { env: site.env });
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain(`file://${typo} of production is not initialised`);
    expect(refused.stderr).toContain('`tier4 backup init --site production` (once), or pass --init');
    const { existsSync } = await import('node:fs');
    expect(existsSync(typo)).toBe(false);
    // The hint works as written; then backups go on without --init.
    const init = await tier4(['-c', site.configPath, 'backup', 'init', '--site', 'production'], {
      env: site.env,
    });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('initialised as a new backup repository');
    const again = await run(site, 'backup', 'init');
    expect(JSON.parse(again.stdout).outcome).toBe('already');
    await create(site);
    // Doctor fails an uninitialised repository with the same hint (the scheduled job never passes --init).
    await pointAt(site, join(site.dir, 'elsewhere'));
    const doctor = await run(site, 'doctor');
    const check = JSON.parse(doctor.stdout).checks.find(
      (c: { check: string }) => c.check === 'repository-marker',
    );
    expect(check.status).toBe('fail');
    expect(check.message).toContain('`tier4 backup init --site production`');
    const listed = await tier4(['-c', site.configPath, 'backup', 'list'], { env: site.env });
    expect(listed.stdout).toContain('is not a backup repository yet (no repository marker)');
    const created = await run(site, 'backup', 'create', '--init');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain('initialised as a new backup repository');
  });

  test('a wrong integrity key is told apart from an empty repository', async () => {
    const site = await backupSite({ cases: 5, blobs: 0 });
    await replaceIntegrityKey(site);
    const refused = await run(site, 'backup', 'create', '--init');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('was initialised under a different integrity key; no backup was taken');
    expect(refused.stderr).toContain('backups.previousIntegrityKeys');
    expect(await repositoryFiles(site)).toHaveLength(1); // the marker alone
    const listed = await tier4(['-c', site.configPath, 'backup', 'list'], { env: site.env });
    expect(listed.code).toBe(1);
    expect(listed.stdout).toContain('was initialised under a different integrity key');
    const init = await run(site, 'backup', 'init');
    expect(init.code).toBe(1);
    expect(init.stderr).toContain('nothing was changed');
    const checked = await tier4(['-c', site.configPath, 'backup', 'check'], { env: site.env });
    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain('initialised under a different integrity key');
    const doctor = JSON.parse((await run(site, 'doctor')).stdout);
    expect(doctor.checks.find((c: { check: string }) => c.check === 'repository-marker').status).toBe('fail');
  });

  test('sets written before markers are adopted only when they verify under the configured keys', async () => {
    const site = await backupSite({ cases: 5, blobs: 1 });
    const first = await create(site);
    const { rm } = await import('node:fs/promises');
    const markers = join(site.repository.replace('file://', ''), site.site, 'repository');
    await rm(markers, { recursive: true });
    // A wrong key: not adopted (that would seal the wrong key in), and not mistaken for a new repository.
    const right = await replaceIntegrityKey(site);
    const refused = await run(site, 'backup', 'init');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('none of which verifies under the configured integrity key');
    site.env.TIER4_LOCAL_INTEGRITY_KEY = right;
    const doctor = JSON.parse((await run(site, 'doctor')).stdout);
    expect(doctor.checks.find((c: { check: string }) => c.check === 'repository-marker')).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('the next backup adopts it'),
    });
    // The scheduled backup (no --init) adopts it and goes on.
    const second = await run(site, 'backup', 'create');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('adopted: written before repository markers');
    expect(JSON.parse(second.stdout).attachments.reused).toBe(1);
    expect((await verify(site, first.id)).code).toBe(0);
  });

  test('after a key rotation the next backup adds a marker under the new key; the old key can then go', async () => {
    const site = await backupSite({ cases: 5, blobs: 0 });
    await create(site);
    const oldKey = await replaceIntegrityKey(site);
    await listPreviousKey(site, oldKey);
    await create(site);
    const markers = (await repositoryFiles(site)).filter((path) =>
      path.includes(`/${site.site}/repository/`),
    );
    expect(markers).toHaveLength(2);
    const config = parse(await readFile(site.configPath, 'utf8'));
    delete config.sites[site.site].backups.previousIntegrityKeys;
    await writeFile(site.configPath, stringify(config));
    const listed = JSON.parse((await run(site, 'backup', 'list')).stdout);
    expect(listed.marker).toBe('initialised');
    expect(listed.sets).toHaveLength(1); // the set sealed with the old key is untrusted now
    // The key lost for good: initialised again under the configured key, then a fresh backup.
    site.env.TIER4_LOCAL_INTEGRITY_KEY = testSecret('third-integrity');
    expect((await run(site, 'backup', 'create', '--fresh')).code).toBe(1);
    const rekeyed = await run(site, 'backup', 'init', '--new-integrity-key');
    expect(rekeyed.code, rekeyed.stderr).toBe(0);
    expect(JSON.parse(rekeyed.stdout).outcome).toBe('rekeyed');
    expect((await run(site, 'backup', 'create', '--fresh')).code).toBe(0);
  });

  test('the marker is written once, so immutable (WORM) storage takes it', async () => {
    const site = await backupSite({ cases: 5, blobs: 0, init: false });
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const { ImmutableStore } = await import('../support/immutable-store.js');
    repo.store = new ImmutableStore(repo.store);
    const { initRepository, readRepositoryState } = await import('../../backups/repository-marker.js');
    const empty = { complete: [], invalid: [] };
    expect((await initRepository(repo, empty)).outcome).toBe('created');
    expect((await initRepository(repo, empty)).outcome).toBe('already');
    expect(await readRepositoryState(repo)).toMatchObject({ status: 'initialised', underCurrentKey: true });
    await repo.store.close();
  });
});
