import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { backupSite, listFiles } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { promtool, samples } from '../support/promtool.js';

describe('doctor: a backup with problems is not a success', () => {
  test('a set with a missing attachment fails the doctor and sets no success time; the next good set does', async () => {
    const site = await backupSite({ blobs: 3, cases: 20 });
    const c = ['-c', site.configPath];
    // Primero lost one file from its storage: the row is there, the bytes are not.
    const [lost] = await listFiles(site.blobRoot);
    const content = await readFile(lost!);
    await rm(lost!);
    await tier4([...c, 'backup', 'create', '--site', site.site], { env: site.env });

    const bad = await tier4([...c, '--json', 'doctor', '--site', site.site], { env: site.env });
    expect(bad.code).toBe(1);
    const checks = JSON.parse(bad.stdout).checks as Array<{ check: string; status: string; message: string }>;
    const problems = checks.find((check) => check.check === 'backup-problems')!;
    expect(problems.status).toBe('fail');
    expect(problems.message).toMatch(/1 missing or damaged attachment/);
    expect(checks.find((check) => check.check === 'backup-age')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('no backup without problems'),
    });
    const prom = await tier4([...c, 'doctor', '--site', site.site, '--format', 'prometheus'], {
      env: site.env,
    });
    const series = samples(prom.stdout);
    expect(series.some((s) => s.name === 'tier4_backup_last_success_timestamp_seconds')).toBe(false);
    expect(series.find((s) => s.name === 'tier4_backup_last_problems')!.value).toBe(1);
    // The set with problems is still the newest set: its snapshot time, to the second.
    const withProblems = JSON.parse(bad.stdout).sites[site.site].repository.sets;
    expect(withProblems).toHaveLength(1);
    expect(series.find((s) => s.name === 'tier4_backup_last_timestamp_seconds')!.value).toBe(
      Math.floor(new Date(withProblems[0].snapshotAt).getTime() / 1000),
    );

    // The file is back: the next set is a success, and the success time is that set's snapshot.
    await writeFile(lost!, content);
    expect((await tier4([...c, 'backup', 'create', '--site', site.site], { env: site.env })).code).toBe(0);
    const good = await tier4([...c, '--json', 'doctor', '--site', site.site], { env: site.env });
    const after = JSON.parse(good.stdout);
    expect(after.checks.find((check: { check: string }) => check.check === 'backup-problems').status).toBe(
      'ok',
    );
    const newest = after.sites[site.site].repository.sets.at(-1);
    expect(newest.problems).toBe(0);
    const again = samples(
      (await tier4([...c, 'doctor', '--site', site.site, '--format', 'prometheus'], { env: site.env }))
        .stdout,
    );
    expect(again.find((s) => s.name === 'tier4_backup_last_success_timestamp_seconds')!.value).toBe(
      Math.floor(new Date(newest.snapshotAt).getTime() / 1000),
    );
    expect(again.find((s) => s.name === 'tier4_backup_last_problems')!.value).toBe(0);
  });
});

describe('doctor --format prometheus', () => {
  test('every series carries the site, the exposition passes promtool, and non-TTY runs log time-stamped progress', async () => {
    const site = await backupSite({ blobs: 2, cases: 20 });
    const c = ['-c', site.configPath];
    expect((await tier4([...c, 'backup', 'create', '--site', site.site], { env: site.env })).code).toBe(0);
    const prom = await tier4([...c, 'doctor', '--format', 'prometheus'], { env: site.env });
    const series = samples(prom.stdout);
    expect(series.length).toBeGreaterThan(10);
    for (const sample of series) expect(sample.labels.site, sample.name).toBe(site.site);
    const names = new Set(series.map((s) => s.name));
    for (const name of [
      'tier4_doctor_up',
      'tier4_doctor_ok',
      'tier4_doctor_last_run_timestamp_seconds',
      'tier4_repository_up',
      'tier4_backup_last_success_timestamp_seconds',
      'tier4_backup_last_size_bytes',
      'tier4_backup_rpo_seconds',
      'tier4_drill_interval_seconds',
    ])
      expect(names, name).toContain(name);
    const lint = await promtool(['check', 'metrics'], prom.stdout);
    expect(lint.output).toBe('');
    expect(lint.code).toBe(0);

    // Not a terminal (a CronJob's log): one line per step, each with an ISO time stamp.
    const progress = prom.stderr.split('\n').filter((line) => line.includes('checking'));
    expect(progress.length).toBeGreaterThan(0);
    for (const line of progress)
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+: checking /);
  });

  test('a configuration that does not load still gives a valid exposition saying tier4_doctor_up 0', async () => {
    const dir = (await backupSite({ blobs: 0, cases: 1 })).dir;
    const config = join(dir, 'broken.yaml');
    await writeFile(config, 'version: 1\nsites: [not, a, map]\n');
    const result = await tier4(['-c', config, 'doctor', '--site', 'production', '--format', 'prometheus']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/error:/);
    const series = samples(result.stdout);
    expect(series.find((s) => s.name === 'tier4_doctor_up')).toEqual({
      name: 'tier4_doctor_up',
      labels: { site: 'production', reason: 'config' },
      value: 0,
    });
    const lint = await promtool(['check', 'metrics'], result.stdout);
    expect(lint.code, lint.output).toBe(0);
    // A file that does not exist at all: the same.
    const missing = await tier4(['-c', join(dir, 'nope.yaml'), 'doctor', '--format', 'prometheus']);
    expect(missing.code).toBe(2);
    expect(samples(missing.stdout).find((s) => s.name === 'tier4_doctor_up')!.value).toBe(0);
  });
});
