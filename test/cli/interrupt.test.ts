import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { toolErrorDetail } from '../../core/postgres/pg-tools.js';
import { backupSite, repositoryFiles } from '../support/backup-site.js';
import { captureOutput } from '../support/capture.js';
import { REPO_ROOT } from '../support/cli.js';

describe('Ctrl-C', () => {
  test('an interrupted backup exits 130, says what was left, and blames no permission', async () => {
    const site = await backupSite({ cases: 3000, blobs: 200 });
    const lock = join(site.dir, 'repository', site.site, 'lock.json');
    const child = execa(
      process.execPath,
      [join(REPO_ROOT, 'bin/tier4.js'), '-c', site.configPath, 'backup', 'create'],
      { env: { ...process.env, ...site.env, NO_COLOR: '1' }, reject: false },
    );
    // The lock is taken before the snapshot and the dump: the backup is under way.
    for (let i = 0; i < 400 && !existsSync(lock); i += 1) await sleep(10);
    expect(existsSync(lock)).toBe(true);
    child.kill('SIGINT');
    const result = await child;
    captureOutput('cli.log', `${result.stdout}${result.stderr}\n`);
    expect(result.exitCode, result.stderr).toBe(130);
    expect(result.stderr).toContain('Interrupted');
    expect(result.stderr).toContain('No backup set was recorded');
    expect(result.stderr).not.toMatch(/may read every table|permission/i);
    expect(result.stderr).not.toContain('exit code undefined');
    // Nothing half-made stays: no manifest, no lock.
    expect((await repositoryFiles(site)).filter((f) => f.endsWith('manifest.json'))).toEqual([]);
    expect(existsSync(lock)).toBe(false);
  }, 60_000);

  test('a tool stopped by a signal is described as such, never "exit code undefined"', () => {
    expect(toolErrorDetail({ stderr: '', exitCode: undefined, signal: 'SIGTERM' })).toBe(
      'stopped by SIGTERM',
    );
    expect(toolErrorDetail({ stderr: '', exitCode: 3 })).toBe('exit code 3');
  });
});
