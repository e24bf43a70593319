import { describe, expect, test } from 'vitest';
import { createBackup, openSiteRepository, siteDatabase } from '../../backups/index.js';
import type { ProgressEvent } from '../../backups/progress.js';
import { loadConfig } from '../../core/config/load.js';
import { toolErrorDetail } from '../../core/postgres/pg-tools.js';
import { backupSite } from '../support/backup-site.js';

describe('backup progress', () => {
  test('the database phase reports bytes and a growing fraction of the tables done, ending at 1', async () => {
    const site = await backupSite({ cases: 25_000, blobs: 3 });
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const events: ProgressEvent[] = [];
    await createBackup(repo, siteDatabase(repo), { onProgress: (event) => events.push(event) });
    await repo.store.close();
    const database = events.filter(
      (event): event is Extract<ProgressEvent, { phase: 'database' }> => event.phase === 'database',
    );
    expect(database.at(-1)).toMatchObject({ fraction: 1 });
    const fractions = database.map((event) => event.fraction).filter((f): f is number => f !== undefined);
    expect(fractions.some((f) => f > 0 && f < 1)).toBe(true);
    for (let i = 1; i < fractions.length; i += 1)
      expect(fractions[i]!).toBeGreaterThanOrEqual(fractions[i - 1]!);
    const bytes = database.map((event) => event.bytes);
    expect(bytes.at(-1)!).toBeGreaterThan(bytes[0]!);
    const attachments = events.filter((event) => event.phase === 'attachments');
    expect(attachments.at(-1)).toMatchObject({ done: 3, total: 3 });
  });

  test('a failing tool reports its error lines, not its verbose chatter, and no password', () => {
    const stderr = [
      'pg_dump: dumping contents of table "public.cases"',
      'pg_dump: error: connection to server failed: FATAL:  password authentication failed for user "primero"',
      'pg_dump: detail: postgres://primero:hunter2secret@db/primero',
      'pg_dump: dumping contents of table "public.users"',
    ].join('\n');
    const detail = toolErrorDetail({ stderr, exitCode: 1 });
    expect(detail).toContain('password authentication failed');
    expect(detail).not.toContain('dumping contents');
    expect(toolErrorDetail({ stderr: '', exitCode: 3 })).toBe('exit code 3');
    expect(
      toolErrorDetail({ stderr: 'pg_dump: error: x postgres://u:hunter2secret@h/d', exitCode: 1 }),
    ).not.toContain('hunter2secret');
  });
});
