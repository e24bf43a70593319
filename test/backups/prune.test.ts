import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { openSiteRepository, readCatalog, verifySet } from '../../backups/index.js';
import { layout } from '../../backups/layout.js';
import { loadConfig } from '../../core/config/load.js';
import { backupSite } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { pgInfo } from '../support/pg.js';

describe('tier4 backup prune', () => {
  test('applies retention, keeps the newest verified set, and sweeps only unreferenced attachments', async () => {
    const site = await backupSite({ blobs: 3 });
    const c = ['-c', site.configPath];
    const create = async () =>
      JSON.parse(
        (await tier4(['--json', ...c, 'backup', 'create', '--site', site.site], { env: site.env })).stdout,
      );
    const pause = () => new Promise((resolve) => setTimeout(resolve, 1100)); // set ids have one-second resolution

    const first = await create();
    // An attachment that exists only while the second set is taken.
    const key = 'transientblob000000000000001';
    const content = randomBytes(3000);
    await mkdir(join(site.blobRoot, key.slice(0, 2), key.slice(2, 4)), { recursive: true });
    await writeFile(join(site.blobRoot, key.slice(0, 2), key.slice(2, 4), key), content);
    const db = new pg.Client({ ...pgInfo(), database: site.db.database });
    await db.connect();
    await db.query(
      "INSERT INTO active_storage_blobs (key, filename, service_name, byte_size, checksum, created_at) VALUES ($1, 'f', 'local', $2, $3, now())",
      [key, content.length, createHash('md5').update(content).digest('base64')],
    );
    await pause();
    const second = await create();
    await db.query('DELETE FROM active_storage_blobs WHERE key = $1', [key]);
    await db.end();
    const later = [];
    for (let i = 0; i < 3; i += 1) {
      await pause();
      later.push(await create());
    }
    // Only the oldest set is verified: retention must keep it as the newest verified set.
    expect(
      (await tier4([...c, 'backup', 'verify', first.id, '--site', site.site], { env: site.env })).code,
    ).toBe(0);

    const dry = JSON.parse(
      (await tier4(['--json', ...c, 'backup', 'prune', '--site', site.site, '--dry-run'], { env: site.env }))
        .stdout,
    );
    expect(dry.removed).toEqual([second.id]);
    expect(dry.blobsRemoved).toBe(1);
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    expect((await readCatalog(repo.store, repo.site, repo.macKey)).complete).toHaveLength(5); // dry run removed nothing

    const pruned = await tier4(['--json', ...c, 'backup', 'prune', '--site', site.site], { env: site.env });
    expect(pruned.code).toBe(0);
    const report = JSON.parse(pruned.stdout);
    expect(report.removed).toEqual([second.id]);
    expect(report.kept.find((k: { id: string }) => k.id === first.id).reasons).toContain('newest verified');
    expect(await repo.store.head(layout.blob(site.site, key))).toBeUndefined();

    const catalog = await readCatalog(repo.store, repo.site, repo.macKey);
    expect(catalog.complete.map((e) => e.id)).toEqual([first.id, ...later.map((s) => s.id)]);
    for (const entry of catalog.complete)
      expect((await verifySet(repo, entry.id, { record: false })).ok).toBe(true);
    await repo.store.close();
  });
});
