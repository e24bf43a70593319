import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseZstdSizes } from '../../backups/zstd.js';
import {
  backupSite,
  databaseOf,
  repositoryFiles,
  restoreArgs,
  scratchDatabaseUrl,
  tableDigests,
} from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { queryDatabase } from '../support/pg.js';

// The dump goes through the zstd program (decision 0018). These tests put a misbehaving program in its place
// (TIER4_ZSTD): a backup must never record a set it cannot restore, and a restore must refuse a set whose
// archive is not the one recorded, before the target is touched.

/** A stand-in for zstd: answers --version as zstd does, and runs `body` (sh) for everything else. */
async function fakeZstd(body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tier4-fake-zstd-'));
  const path = join(dir, 'zstd');
  await writeFile(path, `#!/bin/sh\nif [ "$1" = "--version" ]; then exec zstd --version; fi\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

async function backUp(site: Awaited<ReturnType<typeof backupSite>>, zstd?: string) {
  return tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
    env: { ...site.env, ...(zstd ? { TIER4_ZSTD: zstd } : {}) },
  });
}

const manifests = async (site: Awaited<ReturnType<typeof backupSite>>) =>
  (await repositoryFiles(site)).filter((file) => file.endsWith('manifest.json'));

async function databaseExists(url: string): Promise<boolean> {
  const rows = await queryDatabase('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [
    databaseOf(url),
  ]);
  return rows.length === 1;
}

describe('parseZstdSizes: the summary zstd prints at -vv (programs/fileio.c, programs/util.c)', () => {
  test('exact bytes, as 1.4.9 and later print them, and as 1.4.0 to 1.4.8 did', () => {
    expect(
      parseZstdSizes('/*stdin*\\            : 75.37%   (67543861 B => 50906859 B, /*stdout*\\) \n'),
    ).toEqual({
      plainSize: 67543861,
      compressedSize: 50906859,
    });
    expect(
      parseZstdSizes('/*stdin*\\            : 24.71%   (1161234567 => 286912345 bytes, /*stdout*\\) '),
    ).toEqual({ plainSize: 1161234567, compressedSize: 286912345 });
    // An empty input has no percentage.
    expect(parseZstdSizes('/*stdin*\\            :  (     0 B =>     13 B, /*stdout*\\) ')).toEqual({
      plainSize: 0,
      compressedSize: 13,
    });
  });

  test('scaled sizes (no -vv) or no summary at all give nothing, never a guess', () => {
    expect(parseZstdSizes('/*stdin*\\            : 75.37%   (  64.4 MiB =>   48.5 MiB, /*stdout*\\) ')).toBe(
      undefined,
    );
    expect(parseZstdSizes('')).toBe(undefined);
    expect(parseZstdSizes('zstd: error 70 : Write error : cannot write block : Broken pipe')).toBe(undefined);
  });
});

describe('a backup through a zstd that misbehaves records no set', () => {
  test('zstd missing: a clear error before pg_dump starts (exit 2), nothing written', async () => {
    const site = await backupSite({ cases: 5, blobs: 0 });
    const result = await backUp(site, '/nonexistent/zstd');
    expect(result.code).toBe(2);
    const { error } = JSON.parse(result.stdout);
    expect(error.message).toBe('zstd was not found (/nonexistent/zstd).');
    expect(error.hint).toMatch(/apt install zstd/);
    expect(await manifests(site)).toEqual([]);
  });

  test('a zstd that prints no summary: the archive size is unknown, so no set', async () => {
    const site = await backupSite({ cases: 5, blobs: 0 });
    const result = await backUp(site, await fakeZstd('exec zstd "$@" 2>/dev/null'));
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).error.message).toMatch(/did not report the size of the dump/);
    expect(await manifests(site)).toEqual([]);
  });

  test('a zstd whose output is cut short (what it says it wrote is not what tier4 read): no set', async () => {
    const site = await backupSite({ cases: 5, blobs: 0 });
    const result = await backUp(site, await fakeZstd('zstd "$@" | head -c -10'));
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).error.message).toMatch(
      /^zstd reported \d+ compressed bytes but tier4 read \d+; the backup was not completed\.$/,
    );
    expect(await manifests(site)).toEqual([]);
  });

  test('a zstd that fails part-way: its error is reported, no set', async () => {
    const site = await backupSite({ cases: 5, blobs: 0 });
    const result = await backUp(
      site,
      await fakeZstd('head -c 1000 >/dev/null; echo "zstd: out of memory" >&2; exit 3'),
    );
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).error.message).toMatch(
      /zstd failed while compressing the dump \(exit code 3\)/,
    );
    expect(await manifests(site)).toEqual([]);
  });
});

describe('restoring a zstd-compressed set', () => {
  test('without zstd: refused by its prerequisite before the target exists', async () => {
    const site = await backupSite({ cases: 5, blobs: 0 });
    const created = await backUp(site);
    expect(created.code, created.stderr).toBe(0);
    const set = JSON.parse(created.stdout);
    const target = scratchDatabaseUrl();
    const restored = await tier4(['--json', ...restoreArgs(site, set.id, target)], {
      env: { ...site.env, TIER4_ZSTD: '/nonexistent/zstd' },
    });
    expect(restored.code).toBe(2);
    expect(JSON.parse(restored.stdout).error.message).toBe('zstd was not found (/nonexistent/zstd).');
    expect(await databaseExists(target)).toBe(false);
  });

  test('an archive size that differs from the manifest (a zstd that misreported it) is refused when restored by file', async () => {
    const site = await backupSite({ cases: 5, blobs: 0 });
    // The summary line says 12345 plain bytes, whatever zstd read; the compressed bytes are true.
    const lying = await fakeZstd(
      `{ zstd "$@" 2>&1 1>&3 | sed -E 's/\\( *[0-9]+ B =>/(12345 B =>/' 1>&2; } 3>&1`,
    );
    const created = await backUp(site, lying);
    expect(created.code, created.stderr).toBe(0);
    const set = JSON.parse(created.stdout);
    const manifestFile = (await manifests(site))[0]!;
    expect(JSON.parse(await readFile(manifestFile, 'utf8')).database.plainSize).toBe(12345);

    const target = scratchDatabaseUrl();
    const byFile = await tier4(['--json', ...restoreArgs(site, set.id, target, '--jobs', '2')], {
      env: site.env,
    });
    expect(byFile.code).toBe(1);
    expect(JSON.parse(byFile.stdout).error.message).toMatch(
      /decompressed to \d+ bytes, but its manifest records 12345: the set was written wrongly\. Nothing was restored into the target\.$/,
    );
    expect(await databaseExists(target)).toBe(false);
  });

  test('the default set restores by file and streamed, table for table', async () => {
    const site = await backupSite({ cases: 20, blobs: 0 });
    const created = await backUp(site);
    expect(created.code, created.stderr).toBe(0);
    const set = JSON.parse(created.stdout);
    for (const jobs of ['1', '2']) {
      const target = scratchDatabaseUrl();
      const restored = await tier4(['--json', ...restoreArgs(site, set.id, target, '--jobs', jobs)], {
        env: site.env,
      });
      expect(restored.code, restored.stderr).toBe(0);
      expect(await tableDigests(databaseOf(target))).toEqual(await tableDigests(site.db.database));
    }
  });
});
