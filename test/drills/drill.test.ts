import { open, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { generateIdentity } from '../../backups/crypto/age.js';
import { type BackupSite, backupSite, repositoryFiles } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { queryDatabase } from '../support/pg.js';

async function backedUpSite(blobs = 8): Promise<BackupSite & { setId: string }> {
  const site = await backupSite({ blobs });
  const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
    env: site.env,
  });
  expect(created.code).toBe(0);
  return { ...site, setId: JSON.parse(created.stdout).id };
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
      expect(checkStatus(report, name), name).toBe('pass');
    }
    expect(checkStatus(report, 'health')).toBe('skip');
    expect(report.measures.rtoSeconds).toBeGreaterThan(0);
    expect(report.measures.dataAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(report.measures.bytesMoved).toBeGreaterThan(0);
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
    expect(checkStatus(report, 'row-counts')).toBe('pass'); // the database itself was still restored and checked
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
});
