import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../core/config/load.js';
import { runDoctor } from '../../doctor/run.js';
import { backupSite } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';

const DAY = 86_400_000;

describe('tier4 doctor', () => {
  test('reports all well after a backup and a passed drill, and says so for monitoring', async () => {
    const site = await backupSite({ blobs: 3 });
    const c = ['-c', site.configPath];
    expect((await tier4([...c, 'backup', 'create', '--site', site.site], { env: site.env })).code).toBe(0);
    const before = await tier4(['--json', ...c, 'doctor'], { env: site.env });
    expect(before.code).toBe(1);
    const drillCheck = JSON.parse(before.stdout).checks.find(
      (check: { check: string }) => check.check === 'drill',
    );
    expect(drillCheck).toMatchObject({ status: 'fail' });
    expect(drillCheck.message).toContain('no passed restore drill');

    expect(
      (
        await tier4([...c, 'drill', '--site', site.site, '--report-dir', `${site.dir}/reports`], {
          env: site.env,
        })
      ).code,
    ).toBe(0);
    const after = await tier4(['--json', ...c, 'doctor', '--site', site.site], { env: site.env });
    expect(after.code, after.stdout).toBe(0);
    const report = JSON.parse(after.stdout);
    expect(report.ok).toBe(true);
    const byName = Object.fromEntries(
      report.checks.map((check: { check: string; status: string }) => [check.check, check.status]),
    );
    expect(byName).toMatchObject({
      encryption: 'ok',
      repository: 'ok',
      'repository-marker': 'ok',
      'backup-age': 'ok',
      drill: 'ok',
      pg_dump: 'ok',
    });

    const prom = await tier4([...c, 'doctor', '--format', 'prometheus'], { env: site.env });
    expect(prom.code).toBe(0);
    expect(prom.stdout).toMatch(/^# TYPE tier4_backup_last_success_timestamp_seconds gauge$/m);
    expect(prom.stdout).toMatch(/^tier4_backup_last_success_timestamp_seconds\{site="production"\} \d{10}$/m);
    expect(prom.stdout).toMatch(/^tier4_drill_last_success_timestamp_seconds\{site="production"\} \d{10}$/m);
    expect(prom.stdout).toMatch(/^tier4_drill_rto_seconds\{site="production"\} [\d.]+$/m);
    expect(prom.stdout).toMatch(/^tier4_doctor_ok\{site="production"\} 1$/m);

    // Time passes: the same repository seen two days and then a month later.
    const loaded = loadConfig(site.configPath);
    const stale = await runDoctor(loaded, {
      env: { ...process.env, ...site.env },
      now: () => new Date(Date.now() + 2 * DAY),
    });
    expect(stale.ok).toBe(false);
    const backupAge = stale.checks.find((check) => check.check === 'backup-age')!;
    expect(backupAge.status).toBe('fail');
    expect(backupAge.message).toMatch(/old \(RPO 24h\): check the backup job/);
    expect(stale.checks.find((check) => check.check === 'drill')!.status).toBe('ok');

    const overdue = await runDoctor(loaded, {
      env: { ...process.env, ...site.env },
      now: () => new Date(Date.now() + 31 * DAY),
    });
    const drill = overdue.checks.find((check) => check.check === 'drill')!;
    expect(drill.status).toBe('fail');
    expect(drill.message).toContain('a drill is overdue');
  });

  test('an unreachable repository or database is a failed check, not a crash, and names no secret', async () => {
    const site = await backupSite({ blobs: 1 });
    const result = await tier4(['--json', '-c', site.configPath, 'doctor'], {
      env: { ...site.env, TIER4_LOCAL_DB_PASSWORD: 'wrong-password-123' },
    });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    const pgDump = report.checks.find((check: { check: string }) => check.check === 'pg_dump');
    expect(pgDump.status).toBe('fail');
    expect(pgDump.message).toContain('refused the credentials');
    expect(result.stdout + result.stderr).not.toContain('wrong-password-123');
    const bad = await tier4(['-c', site.configPath, 'doctor', '--format', 'xml'], { env: site.env });
    expect(bad.code).toBe(2);
  });
});
