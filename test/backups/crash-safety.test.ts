import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import {
  createBackup,
  openSiteRepository,
  pruneRepository,
  readCatalog,
  siteDatabase,
  verifySet,
} from '../../backups/index.js';
import { layout } from '../../backups/layout.js';
import { acquireLock } from '../../backups/lock.js';
import { loadConfig } from '../../core/config/load.js';
import { addBlob, backupSite } from '../support/backup-site.js';
import { captureOutput } from '../support/capture.js';
import { REPO_ROOT, tier4 } from '../support/cli.js';

describe('a backup killed with SIGKILL at random points', () => {
  test('leaves the repository consistent, and the next backup succeeds', async () => {
    const site = await backupSite({ cases: 3000, blobs: 200 });
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const run = () =>
      execa(
        process.execPath,
        [join(REPO_ROOT, 'bin/tier4.js'), '-c', site.configPath, 'backup', 'create', '--site', site.site],
        {
          env: { ...process.env, ...site.env },
          reject: false,
        },
      );
    expect((await run()).exitCode).toBe(0);
    // Every run has attachments to upload, as a nightly backup does; the kills are timed from one such run.
    let added = 0;
    const addAttachments = async () => {
      for (let i = 0; i < 40; i += 1) {
        added += 1;
        await addBlob(site, `crashblob${String(added).padStart(19, '0')}`, randomBytes(4000 + i));
      }
    };
    await addAttachments();
    const timed = Date.now();
    const full = await run();
    expect(full.exitCode, full.stderr).toBe(0);
    const duration = Date.now() - timed;

    const trials = 8;
    let killed = 0;
    for (let trial = 0; trial < trials; trial += 1) {
      await addAttachments();
      const child = run();
      const at = Math.round(duration * (0.15 + (0.8 * trial) / trials) * (0.9 + Math.random() * 0.2));
      const timer = setTimeout(() => child.kill('SIGKILL'), at);
      const result = await child;
      clearTimeout(timer);
      captureOutput('cli.log', `${result.stdout}${result.stderr}\n`);
      if (result.signal === 'SIGKILL') killed += 1;
      // After every kill: whatever looks complete is complete and sound. The two runs before the trials
      // and every run not killed made a set; a run killed after writing its manifest may have made one too.
      const catalog = await readCatalog(repo.store, repo.site, repo.macKeys);
      expect(catalog.invalid).toEqual([]);
      expect(catalog.complete.length).toBeGreaterThanOrEqual(2 + (trial + 1 - killed));
      expect(catalog.complete.length).toBeLessThanOrEqual(2 + (trial + 1));
      for (const entry of catalog.complete)
        expect((await verifySet(repo, entry.id, { record: false })).ok, entry.id).toBe(true);
    }
    expect(killed).toBeGreaterThanOrEqual(trials / 2);

    // The killed holders' locks are stale; the next backup takes over and succeeds.
    const next = await run();
    expect(next.exitCode, next.stderr).toBe(0);
    const report = await pruneRepository(repo, { policy: { last: 100, daily: 0, weekly: 0, monthly: 0 } });
    const after = await readCatalog(repo.store, repo.site, repo.macKeys);
    expect(after.incomplete).toEqual([]);
    expect(report.removed).toEqual([]);
    expect(after.complete.length).toBeGreaterThanOrEqual(3 + trials - killed);
    for (const entry of after.complete)
      expect((await verifySet(repo, entry.id, { record: false })).ok).toBe(true);
    await repo.store.close();
  }, 240_000);
});

describe('the repository lock', () => {
  test('stops a second backup while one holds it, and expires when its holder is gone', async () => {
    const site = await backupSite({ blobs: 2 });
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const held = await acquireLock(repo.store, repo.site, 'prune');
    const blocked = await tier4(['-c', site.configPath, 'backup', 'create', '--site', site.site], {
      env: site.env,
    });
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/locked by a prune/);
    await held.release();

    // A lock whose time ran out (its holder died elsewhere) is taken over.
    await repo.store.putBytes(
      layout.lock(repo.site),
      JSON.stringify({
        token: 'x',
        operation: 'backup',
        host: 'elsewhere',
        pid: 1,
        acquiredAt: '2026-01-01T00:00:00Z',
        expiresAt: '2026-01-01T00:15:00Z',
      }),
    );
    const { manifest } = await createBackup(repo, siteDatabase(repo));
    // The backup that took the lock over completed: its set is the one complete set in the catalog.
    const catalog = await readCatalog(repo.store, repo.site, repo.macKeys);
    expect(catalog.complete.map((entry) => entry.id)).toEqual([manifest.id]);
    expect(await repo.store.getBytes(layout.lock(repo.site))).toBeUndefined();
    await repo.store.close();
  });
});
