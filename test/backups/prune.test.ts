import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { openSiteRepository, readCatalog, verifySet } from '../../backups/index.js';
import { layout } from '../../backups/layout.js';
import { loadConfig } from '../../core/config/load.js';
import { addBlob, backupSite } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { queryDatabase } from '../support/pg.js';

describe('tier4 backup prune', () => {
  test('applies retention, keeps the newest verified set, and sweeps only unreferenced attachments', async () => {
    const site = await backupSite({ blobs: 3 });
    const c = ['-c', site.configPath];
    const create = async () =>
      JSON.parse(
        (await tier4(['--json', ...c, 'backup', 'create', '--site', site.site], { env: site.env })).stdout,
      );

    const first = await create();
    // An attachment that exists only while the second set is taken.
    const key = 'transientblob000000000000001';
    await addBlob(site, key, randomBytes(3000));
    const second = await create();
    await queryDatabase(site.db.database, 'DELETE FROM active_storage_blobs WHERE key = $1', [key]);
    const later = [];
    for (let i = 0; i < 3; i += 1) {
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
    expect((await readCatalog(repo.store, repo.site, repo.macKeys)).complete).toHaveLength(5); // dry run removed nothing

    const pruned = await tier4(['--json', ...c, 'backup', 'prune', '--site', site.site], { env: site.env });
    expect(pruned.code).toBe(0);
    const report = JSON.parse(pruned.stdout);
    expect(report.removed).toEqual([second.id]);
    expect(report.kept.find((k: { id: string }) => k.id === first.id).reasons).toContain('newest verified');
    expect(await repo.store.head(layout.blob(site.site, key))).toBeUndefined();

    const catalog = await readCatalog(repo.store, repo.site, repo.macKeys);
    expect(catalog.complete.map((e) => e.id)).toEqual([first.id, ...later.map((s) => s.id)]);
    for (const entry of catalog.complete)
      expect((await verifySet(repo, entry.id, { record: false })).ok).toBe(true);
    await repo.store.close();
  });
});
