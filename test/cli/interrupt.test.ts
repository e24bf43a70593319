import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { parseIncomplete } from '../../backups/postgres/restore-marker.js';
import { toolErrorDetail } from '../../core/postgres/pg-tools.js';
import { type BackupSite, backupSite, repositoryFiles, restoreArgs } from '../support/backup-site.js';
import { captureOutput } from '../support/capture.js';
import { REPO_ROOT, tier4 } from '../support/cli.js';
import { pgInfo, queryDatabase, uniqueDatabaseName } from '../support/pg.js';

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

  /** Restores set `setId` of `site` as a separate process, sends SIGINT once `started()` holds, and waits. */
  async function interruptedRestore(
    site: BackupSite,
    setId: string,
    database: string,
    started: () => Promise<boolean>,
  ) {
    const temp = await mkdtemp(join(tmpdir(), 'tier4-interrupt-temp-'));
    const attachments = await mkdtemp(join(tmpdir(), 'tier4-interrupt-blobs-'));
    const info = pgInfo();
    const args = restoreArgs(site, setId, `postgres://${info.user}@${info.host}:${info.port}/${database}`);
    const child = execa(
      process.execPath,
      [join(REPO_ROOT, 'bin/tier4.js'), ...args, '--temp-dir', temp, '--attachments-to', attachments],
      { env: { ...process.env, ...site.env, NO_COLOR: '1' }, reject: false },
    );
    let seen = false;
    for (let i = 0; i < 600 && !seen && child.exitCode === null; i += 1) {
      seen = await started();
      if (!seen) await sleep(20);
    }
    expect(seen, 'the restore was caught under way').toBe(true);
    child.kill('SIGINT');
    const result = await child;
    captureOutput('cli.log', `${result.stdout}${result.stderr}\n`);
    return { result, temp };
  }

  const databaseComment = async (database: string) =>
    (
      await queryDatabase<{ comment: string | null }>(
        'postgres',
        "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
        [database],
      )
    )[0]?.comment ?? null;

  test('an interrupted restore exits 130, says what was left, leaves no plaintext, and the target as it was', async () => {
    const site = await backupSite({ cases: 3000, blobs: 200 });
    const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create'], { env: site.env });
    const setId = JSON.parse(created.stdout).id as string;

    // A new database: the restore builds a work database beside it (marked for it); stop it then.
    const fresh = uniqueDatabaseName('interrupted');
    const workFor = async (target: string) => {
      const rows = await queryDatabase<{ comment: string | null }>(
        'postgres',
        "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname LIKE 'tier4\\_work\\_%'",
      );
      return rows.filter((row) => parseIncomplete(row.comment)?.target === target).length;
    };
    const first = await interruptedRestore(site, setId, fresh, async () => (await workFor(fresh)) > 0);
    expect(first.result.exitCode, first.result.stderr).toBe(130);
    expect(first.result.stderr).toContain('Interrupted: The restore of');
    expect(first.result.stderr).toContain(`was not changed (the copy being built beside it was removed)`);
    expect(first.result.stderr).toContain('No decrypted file was left on disk.');
    expect(first.result.stderr).not.toContain('exit code undefined');
    expect(await readdir(first.temp)).toEqual([]);
    expect(await workFor(fresh)).toBe(0);
    expect(await queryDatabase('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [fresh])).toEqual(
      [],
    );

    // An empty database that exists is restored in place: stopped, it is clearly marked incomplete.
    const empty = uniqueDatabaseName('inplace');
    await queryDatabase('postgres', `CREATE DATABASE ${empty}`);
    const second = await interruptedRestore(site, setId, empty, async () => {
      return parseIncomplete(await databaseComment(empty)) !== undefined;
    });
    expect(second.result.exitCode, second.result.stderr).toBe(130);
    expect(second.result.stderr).toContain(
      'is partly restored and marked incomplete: restore again with --replace',
    );
    expect(await readdir(second.temp)).toEqual([]);
    expect(parseIncomplete(await databaseComment(empty))?.set).toBe(setId);
    // And the next restore says so.
    const next = await tier4(
      restoreArgs(
        site,
        setId,
        `postgres://${pgInfo().user}@${pgInfo().host}:${pgInfo().port}/${empty}`,
        '--dry-run',
      ),
      { env: site.env },
    );
    expect(next.stdout + next.stderr).toContain('holds an unfinished restore of set');
  }, 120_000);

  test('a tool stopped by a signal is described as such, never "exit code undefined"', () => {
    expect(toolErrorDetail({ stderr: '', exitCode: undefined, signal: 'SIGTERM' })).toBe(
      'stopped by SIGTERM',
    );
    expect(toolErrorDetail({ stderr: '', exitCode: 3 })).toBe('exit code 3');
  });
});
