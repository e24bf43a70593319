import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type BackupSite,
  backupSite,
  databaseOf,
  listFiles,
  restoreArgs,
  scratchDatabaseUrl,
  tableDigests,
} from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  type RunningServer,
  startAzurite,
  startS3rver,
} from '../support/storage-servers.js';

async function filesUnder(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const path of await listFiles(root)) out.set(relative(root, path), await readFile(path));
  return out;
}

/** create, verify --deep, then restore into a fresh database reproduces every row and every attachment byte. */
async function roundTrip(site: BackupSite) {
  const c = ['-c', site.configPath];
  const created = await tier4(['--json', ...c, 'backup', 'create', '--site', site.site], { env: site.env });
  expect(created.stderr).not.toMatch(/error/i);
  expect(created.code).toBe(0);
  const set = JSON.parse(created.stdout);
  expect(set.attachments.count).toBe(site.db.blobs.length);
  expect(set.attachments.uploaded).toBe(site.db.blobs.length);
  // Every table's rows are counted, not just cases (#20): the key tables' counts are exactly the fixture's.
  expect(Object.keys(site.db.counts).length).toBeGreaterThan(3);
  expect(set.database.rowCounts).toMatchObject(site.db.counts);

  const verified = await tier4(['--json', ...c, 'backup', 'verify', set.id, '--site', site.site, '--deep'], {
    env: site.env,
  });
  expect(verified.code).toBe(0);
  const report = JSON.parse(verified.stdout);
  expect(report.ok).toBe(true);
  // One TABLE DATA entry per table of the database, empty ones included.
  expect(report.toc.tableData).toBe(Object.keys(await tableDigests(site.db.database)).length);

  const target = scratchDatabaseUrl();
  const restoreTo = join(site.dir, 'restored-storage');
  const restored = await tier4(
    ['--json', ...restoreArgs(site, set.id, target, '--attachments-to', restoreTo)],
    { env: site.env },
  );
  expect(restored.stderr).not.toMatch(/error:/);
  expect(restored.code).toBe(0);
  expect(JSON.parse(restored.stdout).nextSteps.join(' ')).toMatch(/PRIMERO_MESSAGE_SECRET/);

  expect(await tableDigests(databaseOf(target))).toEqual(await tableDigests(site.db.database));
  const original = await filesUnder(site.blobRoot);
  const copy = await filesUnder(restoreTo);
  expect([...copy.keys()].sort()).toEqual([...original.keys()].sort());
  for (const [path, bytes] of original) expect(copy.get(path)!.equals(bytes), path).toBe(true);

  const listed = await tier4(['--json', ...c, 'backup', 'list', '--site', site.site], { env: site.env });
  const listing = JSON.parse(listed.stdout);
  expect(listing.sets.map((s: { id: string }) => s.id)).toEqual([set.id]);
  expect(listing.sets[0].lastVerified).toMatchObject({ ok: true, deep: true });
  return set;
}

describe('backup and restore round trip', () => {
  test('file:// repository', async () => {
    const set = await roundTrip(await backupSite());
    expect(set.database.bytes).toBeLessThan(set.database.plainBytes); // zstd, by default
  });

  // Sets made before decision 0013 (and sets with `method: pg_dump`) carry no `compression` in their manifest:
  // pg_dump compressed the archive. Sets made between 0013 and 0018 are brotli-compressed by tier4. Both verify
  // deeply and restore, by file (--jobs 2) and streamed (--jobs 1).
  test.each([
    ['pg_dump', 6, undefined],
    ['brotli', 1, { method: 'brotli', level: 1 }],
  ])(
    'a set compressed the older way (%s) verifies and restores, both ways',
    async (method, level, recorded) => {
      const site = await backupSite();
      const text = await readFile(site.configPath, 'utf8');
      await writeFile(
        site.configPath,
        text.replace(
          /^(\s+)integrityKey:/m,
          `$1compression:\n$1  method: ${method}\n$1  level: ${level}\n$1integrityKey:`,
        ),
      );
      const set = await roundTrip(site);
      const manifest = JSON.parse(
        await readFile(
          join(site.repository.replace('file://', ''), site.site, 'sets', set.id, 'manifest.json'),
          'utf8',
        ),
      );
      expect(manifest.database.compression).toEqual(recorded);
      const target = scratchDatabaseUrl();
      const streamed = await tier4(['--json', ...restoreArgs(site, set.id, target, '--jobs', '1')], {
        env: site.env,
      });
      expect(streamed.code, streamed.stderr).toBe(0);
      expect(await tableDigests(databaseOf(target))).toEqual(await tableDigests(site.db.database));
    },
  );

  test('a zstd-compressed set (the default) restores streamed into a new database (--jobs 1)', async () => {
    const site = await backupSite({ blobs: 0 });
    const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
      env: site.env,
    });
    expect(created.code, created.stderr).toBe(0);
    const set = JSON.parse(created.stdout);
    const target = scratchDatabaseUrl();
    const streamed = await tier4(['--json', ...restoreArgs(site, set.id, target, '--jobs', '1')], {
      env: site.env,
    });
    expect(streamed.code, streamed.stderr).toBe(0);
    expect(await tableDigests(databaseOf(target))).toEqual(await tableDigests(site.db.database));
  });

  describe('S3-compatible repository (s3rver)', () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startS3rver(['tier4-backups']);
    });
    afterAll(async () => server?.stop());
    test('s3:// repository', async () => {
      await roundTrip(
        await backupSite({ repository: { kind: 's3', endpoint: server.endpoint, bucket: 'tier4-backups' } }),
      );
    });
  });

  describe('Azure Blob repository (Azurite)', () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startAzurite();
      const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
      const service = new BlobServiceClient(
        server.endpoint,
        new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
      );
      await service.getContainerClient('tier4-backups').create();
    });
    afterAll(async () => server?.stop());
    test('azblob:// repository', async () => {
      await roundTrip(
        await backupSite({
          repository: {
            kind: 'azblob',
            endpoint: server.endpoint,
            account: AZURITE_ACCOUNT,
            key: AZURITE_KEY,
            container: 'tier4-backups',
          },
        }),
      );
    });
  });
});
