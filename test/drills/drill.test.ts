import { open, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { generateIdentity } from '../../backups/crypto/age.js';
import { type ManifestBody, sealManifest } from '../../backups/manifest.js';
import { openSiteRepository } from '../../backups/site-repository.js';
import { loadConfig } from '../../core/config/load.js';
import { type BackupSite, backupSite, repositoryFiles } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { pgInfo, queryDatabase, uniqueDatabaseName } from '../support/pg.js';

async function backedUpSite(blobs = 8): Promise<BackupSite & { setId: string; snapshotAt: string }> {
  const site = await backupSite({ blobs });
  const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
    env: site.env,
  });
  expect(created.code).toBe(0);
  const { id, snapshotAt } = JSON.parse(created.stdout);
  return { ...site, setId: id, snapshotAt };
}

function drill(site: BackupSite, ...extra: string[]) {
  return tier4(
    [
      '--json',
      '-c',
      site.configPath,
      'drill',
      '--site',
      site.site,
      '--report-dir',
      join(site.dir, 'reports'),
      ...extra,
    ],
    {
      env: site.env,
    },
  );
}

async function repoFile(site: BackupSite, predicate: (path: string) => boolean): Promise<string> {
  return (await repositoryFiles(site)).find(predicate)!;
}

async function scratchDatabases(): Promise<string[]> {
  const rows = await queryDatabase<{ datname: string }>(
    'postgres',
    // This file's site only: other files drill other sites on the same server at the same time.
    "SELECT datname FROM pg_database WHERE datname LIKE 'tier4_drill_production_%'",
  );
  return rows.map((row) => row.datname);
}

const checkStatus = (report: { checks: Array<{ name: string; status: string }> }, name: string) =>
  report.checks.find((check) => check.name === name)?.status;

describe('tier4 drill', () => {
  test('a good set passes every check, writes all three reports, and leaves no scratch database', async () => {
    const site = await backedUpSite();
    const result = await drill(site);
    expect(result.stderr).not.toContain('error:');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.ok).toBe(true);
    expect(report.setId).toBe(site.setId);
    for (const name of [
      'checksums',
      'decryption',
      'restore',
      'row-counts',
      'schema-migrations',
      'primero-version',
      'extensions',
      'system-settings',
      'attachments',
    ]) {
      expect(checkStatus(report, name), name).toBe('ok');
    }
    expect(checkStatus(report, 'health')).toBe('skip');
    // RTO is in seconds: at least the steps up to the data checks, at most the drill's own duration.
    const drillSeconds = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
    const recoverySteps = report.steps
      // (the health check and the clean-up come after the data was verified)
      .filter((s: { step: string }) => !['health check', 'drop the scratch database'].includes(s.step))
      .reduce((sum: number, s: { seconds: number }) => sum + s.seconds, 0);
    expect(recoverySteps).toBeGreaterThan(0);
    expect(report.measures.rtoSeconds).toBeGreaterThanOrEqual(recoverySteps - 0.01);
    expect(report.measures.rtoSeconds).toBeLessThanOrEqual(drillSeconds);
    // Data age: from the set's snapshot to the drill's start (the set was made seconds ago, never in the future).
    expect(report.measures.dataAgeSeconds).toBeCloseTo(
      (Date.parse(report.startedAt) - Date.parse(site.snapshotAt)) / 1000,
      2,
    );
    expect(report.measures.dataAgeSeconds).toBeGreaterThan(0);
    expect(report.measures.dataAgeSeconds).toBeLessThan(drillSeconds + 120);
    // Bytes read from the repository: every object once to verify it, then the dump to restore it and each
    // sampled attachment (all 8: under the default sample of 50) to check it.
    const manifest = JSON.parse(
      await readFile(await repoFile(site, (p) => p.endsWith('manifest.json')), 'utf8'),
    );
    expect(manifest.attachments.blobs).toHaveLength(8);
    const stored =
      manifest.database.size +
      manifest.attachments.blobs.reduce((sum: number, blob: { size: number }) => sum + blob.size, 0);
    expect(report.measures.bytesMoved).toBe(2 * stored);
    expect(report.steps.map((s: { step: string }) => s.step)).toContain('restore into the scratch database');

    expect(report.reports.markdown.startsWith(join(site.dir, 'reports'))).toBe(true);
    const markdown = await readFile(report.reports.markdown, 'utf8');
    expect(markdown).toContain('PASSED');
    expect(markdown).toMatch(/\| row-counts \| PASS \|/);
    const junit = await readFile(report.reports.junit, 'utf8');
    expect(junit).toContain('<testsuites name="tier4 restore drill" tests="10" failures="0" skipped="1"');
    expect(JSON.parse(await readFile(report.reports.json, 'utf8')).id).toBe(report.id);
    // The reports name the site and its blob keys: owner and group only (#12).
    for (const path of [report.reports.json, report.reports.markdown, report.reports.junit])
      expect((await stat(path)).mode & 0o777, path).toBe(0o640);
    expect(await scratchDatabases()).toEqual([]);

    const history = await tier4(['--json', '-c', site.configPath, 'drill', 'history', '--site', site.site], {
      env: site.env,
    });
    const drills = JSON.parse(history.stdout).drills;
    expect(drills).toHaveLength(1);
    expect(drills[0]).toMatchObject({ ok: true, authentic: true, set: site.setId });
  });

  test('one flipped attachment byte fails the attachment check, naming the blob; evidence is kept', async () => {
    const site = await backedUpSite(4);
    const blob = await repoFile(site, (path) => path.includes('/blobs/'));
    const handle = await open(blob, 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, 200);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, 200);
    await handle.close();
    const key = blob.split('/').at(-1)!.replace('.age', '');

    const result = await drill(site, '--sample', '1');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(checkStatus(report, 'attachments')).toBe('fail');
    expect(report.checks.find((c: { name: string }) => c.name === 'attachments').evidence).toContain(key);
    expect(checkStatus(report, 'row-counts')).toBe('ok'); // the database itself was still restored and checked
    expect(result.stderr).toContain('The drill failed: checksums, attachments');
    expect(await readFile(report.reports.markdown, 'utf8')).toContain('FAILED');
    expect(await scratchDatabases()).toEqual([]);
  });

  test('a truncated dump fails verification, and restore-dependent checks are not run', async () => {
    const site = await backedUpSite(2);
    const dump = await repoFile(site, (path) => path.endsWith('database.dump.age'));
    await truncate(dump, 4000);
    const result = await drill(site);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(checkStatus(report, 'checksums')).toBe('fail');
    expect(report.checks.find((c: { name: string }) => c.name === 'checksums').evidence).toContain(
      'database.dump.age',
    );
    expect(checkStatus(report, 'restore')).toBe('skip');
    expect(report.failedChecks).toEqual(['checksums']);
  });

  test('the wrong identity fails the decryption check', async () => {
    const site = await backedUpSite(2);
    const other = await generateIdentity();
    const file = join(site.dir, 'wrong-identity.txt');
    await writeFile(file, other.identity);
    const result = await drill(site, '--identity', file);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(checkStatus(report, 'decryption')).toBe('fail');
    expect(report.checks.find((c: { name: string }) => c.name === 'decryption').evidence).toContain(
      'cannot decrypt',
    );
    expect(report.failedChecks).toEqual(['decryption']);
    expect(await scratchDatabases()).toEqual([]);
  });
  test('restored row counts that differ from the manifest fail the row-count check, naming the table', async () => {
    const site = await backedUpSite(2);
    // A manifest that promises one case more than the dump holds (as a create that counted wrong would write),
    // sealed with the site's own integrity key so that only the drill's comparison can notice.
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const path = await repoFile(site, (p) => p.endsWith('manifest.json'));
    const { mac: _mac, ...body } = JSON.parse(await readFile(path, 'utf8')) as ManifestBody & { mac: string };
    const cases = body.database.rowCounts.cases!;
    body.database.rowCounts.cases = cases + 1;
    await writeFile(path, JSON.stringify(sealManifest(body, repo.macKey)));
    await repo.store.close();

    const result = await drill(site);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.failedChecks).toEqual(['row-counts']);
    expect(report.checks.find((c: { name: string }) => c.name === 'row-counts').evidence).toBe(
      `differ: cases ${cases} vs ${cases + 1}`,
    );
    expect(await scratchDatabases()).toEqual([]);
  });

  test('a dump without a required extension fails the extensions check, naming it', async () => {
    const site = await backupSite({ blobs: 1 });
    // Primero's schema needs pg_trgm (trigram search indexes); a database that lost it restores without it.
    await queryDatabase(site.db.database, 'DROP EXTENSION pg_trgm CASCADE');
    const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
      env: site.env,
    });
    expect(created.code, created.stderr).toBe(0);

    const result = await drill(site);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.failedChecks).toEqual(['extensions']);
    expect(report.checks.find((c: { name: string }) => c.name === 'extensions').evidence).toBe(
      'missing: pg_trgm',
    );
  });

  describe('a drill whose restore fails still leaves its evidence (#19)', () => {
    /** Points the site's drills at another server (a URL of any database on it) with its password. */
    async function drillServer(site: BackupSite, url: string, password: string): Promise<void> {
      const config = parse(await readFile(site.configPath, 'utf8'));
      config.sites[site.site].drills = {
        ...config.sites[site.site].drills,
        server: url,
        password: { env: 'TIER4_TEST_DRILL_PASSWORD' },
      };
      await writeFile(site.configPath, stringify(config));
      site.env.TIER4_TEST_DRILL_PASSWORD = password;
    }

    async function expectEvidence(site: BackupSite, result: Awaited<ReturnType<typeof drill>>) {
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout);
      expect(report.ok).toBe(false);
      expect(checkStatus(report, 'checksums')).toBe('ok');
      expect(checkStatus(report, 'restore')).toBe('fail');
      for (const name of ['row-counts', 'attachments']) expect(checkStatus(report, name), name).toBe('skip');
      const failed = report.steps.find((s: { outcome: string }) => s.outcome === 'failed');
      expect(failed.step).toBe('restore into the scratch database');
      // The three reports were written, naming the failed step.
      const markdown = await readFile(report.reports.markdown, 'utf8');
      expect(markdown).toContain('FAILED');
      expect(markdown).toMatch(/\| restore into the scratch database \| [0-9.]+ \| FAILED: /);
      // Nothing was restored: no RTO and no "restored into … dropped afterwards" (#17).
      expect(markdown).toContain(
        'Nothing was restored (the step "restore into the scratch database" failed): no RTO was measured.',
      );
      expect(markdown).not.toContain('Recovery time (RTO)');
      expect(markdown).not.toContain('dropped afterwards');
      expect(await readFile(report.reports.junit, 'utf8')).toMatch(
        /<testcase [^>]*name="restore">\s*<failure/,
      );
      expect(JSON.parse(await readFile(report.reports.json, 'utf8')).id).toBe(report.id);
      // The sealed summary is in the repository: drill history (and the doctor, which reads it) sees the failure.
      const history = await tier4(
        ['--json', '-c', site.configPath, 'drill', 'history', '--site', site.site],
        {
          env: site.env,
        },
      );
      expect(JSON.parse(history.stdout).drills).toEqual([
        expect.objectContaining({ drill: report.id, ok: false, authentic: true }),
      ]);
      expect(result.stderr).toContain('The step "restore into the scratch database" failed');
      return { report, failed };
    }

    test('a drill server that refuses to create the scratch database: reports, summary, exit 1', async () => {
      const site = await backedUpSite(2);
      const info = pgInfo();
      const role = uniqueDatabaseName('tier4_nocreatedb');
      const password = `pw-${uniqueDatabaseName('x')}`;
      await queryDatabase('postgres', `CREATE ROLE ${role} LOGIN NOCREATEDB PASSWORD '${password}'`);
      try {
        await drillServer(site, `postgres://${role}@${info.host}:${info.port}/postgres`, password);
        const result = await drill(site);
        const { report, failed } = await expectEvidence(site, result);
        expect(failed.error).toContain('may not create databases');
        // The drop worked (there was nothing to drop): no clean-up failure is reported.
        expect(checkStatus(report, 'cleanup')).toBeUndefined();
        expect(report.failedChecks).toEqual(['restore']);
        expect(result.stdout).not.toContain(password);
      } finally {
        await queryDatabase('postgres', `DROP ROLE IF EXISTS ${role}`);
      }
    });

    test('an unreachable drill server: the failing drop is reported beside the restore error, not instead', async () => {
      const site = await backedUpSite(2);
      // Port 1 on the loopback: nothing listens, every connection is refused.
      await drillServer(site, `postgres://${pgInfo().user}@127.0.0.1:1/postgres`, 'not-used-here');
      const result = await drill(site);
      const { report, failed } = await expectEvidence(site, result);
      expect(failed.error).toMatch(/ECONNREFUSED|connect/i);
      expect(report.failedChecks).toEqual(['restore', 'cleanup']);
      const drop = report.steps.find((s: { step: string }) => s.step === 'drop the scratch database');
      expect(drop.outcome).toBe('failed');
      expect(report.checks.find((c: { name: string }) => c.name === 'cleanup').evidence).toContain(
        `DROP DATABASE "${report.scratchDatabase}"`,
      );
    });
  });
});
