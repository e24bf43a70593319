import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { generateIdentity } from '../../backups/crypto/age.js';
import {
  createBackup,
  findSet,
  layout,
  openBlobTarget,
  openSiteRepository,
  planRestore,
  readCatalog,
  runRestore,
  type SiteRepository,
  siteDatabase,
  siteIdentities,
  verifySet,
} from '../../backups/index.js';
import { loadConfig } from '../../core/config/load.js';
import { diskBlobPath } from '../../core/primero/tables.js';
import { type BackupSite, backupSite, scratchDatabaseUrl } from '../support/backup-site.js';
import { pgInfo } from '../support/pg.js';

/**
 * What a backup set promises, checked in-process (so mutation testing sees it): every recipient can decrypt,
 * a manifest belongs to its own set, a reused attachment still exists, and a restore never writes an
 * attachment whose plaintext does not match its checksum.
 */

async function open(site: BackupSite): Promise<SiteRepository> {
  return openSiteRepository(loadConfig(site.configPath), site.site, site.env);
}

async function backUp(site: BackupSite) {
  const repo = await open(site);
  try {
    return await createBackup(repo, siteDatabase(repo));
  } finally {
    await repo.store.close();
  }
}

describe('recipients', () => {
  test('every configured recipient can decrypt the whole set: the recovery key is never dropped', async () => {
    const site = await backupSite({ blobs: 3, cases: 20 });
    const recovery = await generateIdentity();
    const config = parse(await readFile(site.configPath, 'utf8'));
    const encryption = config.sites[site.site].backups.encryption;
    // The operator's recipient first, the recovery key second: the one most likely to be dropped.
    encryption.recipients = [...encryption.recipients, recovery.recipient];
    await writeFile(site.configPath, stringify(config));

    const { manifest } = await backUp(site);
    expect(manifest.encryption.recipients).toEqual(encryption.recipients);
    expect(manifest.attachments.blobs).toHaveLength(3);
    const repo = await open(site);
    try {
      for (const identities of [siteIdentities(repo), [recovery.identity]]) {
        const report = await verifySet(repo, manifest.id, { deep: true, identities, record: false });
        expect(report.failures).toEqual([]);
        expect(report.ok).toBe(true);
      }
    } finally {
      await repo.store.close();
    }
  });
});

describe('the manifest records what the set holds', () => {
  test("every key table's row count, exactly as the database has it (not just cases)", async () => {
    const site = await backupSite({ blobs: 1, cases: 37 });
    const { manifest } = await backUp(site);
    // The fixture counts its own tables with its own queries; cases, incidents and users differ in size.
    expect(site.db.counts).toMatchObject({ cases: 37 });
    expect(Object.keys(site.db.counts)).toEqual(
      expect.arrayContaining(['cases', 'incidents', 'tracing_requests', 'users', 'active_storage_blobs']),
    );
    expect(manifest.database.rowCounts).toEqual(site.db.counts);
  });
});

describe('a manifest belongs to its own set', () => {
  test("a set whose manifest is another set's (authentic) manifest is not trusted, and cannot be verified", async () => {
    const site = await backupSite({ blobs: 2, cases: 20 });
    const first = (await backUp(site)).manifest;
    const second = (await backUp(site)).manifest;
    const repo = await open(site);
    try {
      // Replay: the first set's sealed manifest put in the second set's place (its MAC is genuine).
      const bytes = await repo.store.getBytes(layout.manifest(site.site, first.id));
      await repo.store.putBytes(layout.manifest(site.site, second.id), bytes!);

      const catalog = await readCatalog(repo.store, repo.site, repo.macKeys);
      expect(catalog.complete.map((entry) => entry.id)).toEqual([first.id]);
      expect(catalog.invalid.map((entry) => [entry.id, entry.problem])).toEqual([
        [second.id, `manifest names set ${first.id}, not ${second.id}`],
      ]);
      await expect(findSet(repo, second.id)).rejects.toThrow(`Backup set ${second.id} cannot be trusted`);
      // "latest" is the first set, named as what it is, and the replayed set is reported.
      const latest = await findSet(repo, 'latest');
      expect(latest.manifest.id).toBe(first.id);
      expect(latest.skippedUntrusted.map((skipped) => skipped.id)).toEqual([second.id]);
    } finally {
      await repo.store.close();
    }
  });
});

describe('reuse of a stored attachment', () => {
  test('an object that vanished from the repository is stored again, not reused, and reported', async () => {
    const site = await backupSite({ blobs: 4, cases: 20 });
    const first = (await backUp(site)).manifest;
    const gone = first.attachments.blobs[1]!;
    const repo = await open(site);
    await repo.store.delete(gone.object);
    await repo.store.close();

    const second = await backUp(site);
    expect(second.manifest.attachments).toMatchObject({ count: 4, uploaded: 1, reused: 3 });
    const again = second.manifest.attachments.blobs.find((blob) => blob.key === gone.key)!;
    // Stored again, so the new set restores; the earlier set that recorded it no longer verifies: say so.
    expect(second.damaged).toEqual([{ object: gone.object, problem: 'no longer in the repository' }]);
    const reopened = await open(site);
    try {
      expect(await reopened.store.head(again.object)).toBeDefined();
      const report = await verifySet(reopened, second.manifest.id, { record: false });
      expect(report.failures).toEqual([]);
      expect(report.objects).toBe(5);
      const old = await verifySet(reopened, first.id, { record: false });
      expect(old.failures.map((failure) => failure.object)).toEqual([gone.object]);
    } finally {
      await reopened.store.close();
    }
  });
});

describe('restore checks every attachment after decryption', () => {
  test('a blob whose plaintext does not match its MD5 checksum is not written under its key', async () => {
    const site = await backupSite({ blobs: 3, cases: 20 });
    const [bad] = site.db.blobs;
    // Bit rot on Primero's disk before the backup: same size, one byte different, checksum row unchanged.
    const path = bad!.path;
    const content = await readFile(path);
    content[0] = content[0]! ^ 0xff;
    await writeFile(path, content);
    const created = await backUp(site);
    expect(created.problems).toEqual([{ key: bad!.key, problem: 'checksum-mismatch' }]);

    const repo = await open(site);
    const restoreTo = join(site.dir, 'restored-storage');
    const attachmentsTo = await openBlobTarget(restoreTo, repo.siteConfig.attachments, repo.env);
    try {
      const identities = siteIdentities(repo);
      const target = { url: scratchDatabaseUrl(), password: pgInfo().password ?? '' };
      const plan = await planRestore(repo, created.manifest.id, target, identities);
      await expect(runRestore(repo, plan, { identities, attachmentsTo, concurrency: 1 })).rejects.toThrow(
        `Attachment ${bad!.key} does not match its checksum (active_storage_blobs.checksum) after decryption`,
      );
      await expect(stat(join(restoreTo, diskBlobPath(bad!.key)))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await attachmentsTo.close();
      await repo.store.close();
      await rm(restoreTo, { recursive: true, force: true });
    }
  });
});
