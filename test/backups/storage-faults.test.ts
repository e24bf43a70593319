import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createBackup, listSets, openSiteRepository, siteDatabase, verifySet } from '../../backups/index.js';
import { loadConfig } from '../../core/config/load.js';
import { backupSite } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { type RunningServer, startS3rver } from '../support/storage-servers.js';

describe('storage errors during upload (s3rver behind a fault-injecting proxy)', () => {
  let s3: RunningServer;
  let proxy: FaultProxy;
  beforeAll(async () => {
    // One bucket per test: each test's site has its own integrity key, and a backup refuses a repository
    // whose sets it cannot trust.
    s3 = await startS3rver(['faulty', 'failing']);
    proxy = await startFaultProxy(s3.endpoint, {});
  });
  afterAll(async () => {
    await proxy?.stop();
    await s3?.stop();
  });

  test('503s, connection resets and slow answers are retried, and the set is complete and sound', async () => {
    const site = await backupSite({
      blobs: 25,
      repository: { kind: 's3', endpoint: proxy.endpoint, bucket: 'faulty' },
    });
    proxy.plan = { failEvery: 4, resetEvery: 7, delayMs: 30 };
    proxy.injected = 0;
    const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
      env: site.env,
    });
    expect(created.stderr).not.toContain('error:');
    expect(created.code).toBe(0);
    expect(proxy.injected).toBeGreaterThan(5);
    proxy.plan = {};
    const set = JSON.parse(created.stdout);
    const verified = await tier4(
      ['--json', '-c', site.configPath, 'backup', 'verify', set.id, '--site', site.site, '--deep'],
      {
        env: site.env,
      },
    );
    expect(JSON.parse(verified.stdout).ok).toBe(true);
  });

  test('a store that keeps failing: a clear failure, no complete-looking set, and the next backup succeeds', async () => {
    const site = await backupSite({
      blobs: 10,
      repository: { kind: 's3', endpoint: proxy.endpoint, bucket: 'failing' },
    });
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    proxy.writes = 0;
    proxy.plan = { failAllAfter: 6 };
    await expect(createBackup(repo, siteDatabase(repo))).rejects.toThrow(/failed|SlowDown|503|injected/i);
    proxy.plan = {};
    expect((await listSets(repo)).sets).toEqual([]);
    const { manifest } = await createBackup(repo, siteDatabase(repo));
    expect((await verifySet(repo, manifest.id)).ok).toBe(true);
    expect((await listSets(repo)).sets.map((s) => s.id)).toEqual([manifest.id]);
    await repo.store.close();
  });
});
