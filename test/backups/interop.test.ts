import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { backupSite, repositoryFiles } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { pgInfo } from '../support/pg.js';

/**
 * If tier4 itself cannot run, a set can still be restored with the standard tools: the objects are plain age v1
 * files, the dump a pg_dump custom archive, the manifest plain JSON with every object's SHA-256.
 * (runbooks/disaster-recovery.md, "If tier4 itself cannot run")
 */
describe('a backup set restored with age and pg_restore alone', () => {
  test("backups.compression method pg_dump: pg_dump's own gzip at the level set, no brotli step", async () => {
    const site = await backupSite({ blobs: 0 });
    const text = await readFile(site.configPath, 'utf8');
    await writeFile(
      site.configPath,
      text.replace(
        /^(\s+)integrityKey:/m,
        '$1compression:\n$1  method: pg_dump\n$1  level: 0\n$1integrityKey:',
      ),
    );
    const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
      env: site.env,
    });
    expect(created.code, created.stderr).toBe(0);
    const files = await repositoryFiles(site);
    const manifest = JSON.parse(await readFile(files.find((f) => f.endsWith('manifest.json'))!, 'utf8'));
    expect(manifest.database).not.toHaveProperty('compression');
    const dumpFile = join(site.dir, 'level0.dump');
    const root = site.repository.replace('file://', '');
    await execa('age', ['-d', '-i', site.identityFile, '-o', dumpFile, join(root, manifest.database.object)]);
    const { stdout } = await execa(join(pgInfo().binDir, 'pg_restore'), ['--list', dumpFile]);
    expect(stdout).toMatch(/^; +Compression: 0$/m);
  });

  // The default (zstd, decision 0018) and the default of sets written before it (brotli, decision 0013), each
  // with the command runbooks/disaster-recovery.md gives.
  test.each([
    [
      'zstd',
      undefined,
      (compressed: string, dumpFile: string) => execa('zstd', ['-d', '-q', '-o', dumpFile, compressed]),
    ],
    [
      'brotli',
      'brotli',
      (compressed: string, dumpFile: string) => execa('brotli', ['-d', '-o', dumpFile, compressed]),
    ],
  ] as const)(
    '%s: the age CLI decrypts every object; pg_restore reads the dump; attachments match their checksums',
    async (method, configured, decompress) => {
      const site = await backupSite({ blobs: 3 });
      if (configured) {
        const text = await readFile(site.configPath, 'utf8');
        await writeFile(
          site.configPath,
          text.replace(/^(\s+)integrityKey:/m, `$1compression:\n$1  method: ${configured}\n$1integrityKey:`),
        );
      }
      const created = await tier4(
        ['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site],
        {
          env: site.env,
        },
      );
      expect(created.code).toBe(0);
      const files = await repositoryFiles(site);
      const manifest = JSON.parse(await readFile(files.find((f) => f.endsWith('manifest.json'))!, 'utf8'));
      const root = site.repository.replace('file://', '');

      // sha256sum of each object equals the manifest's
      for (const object of [manifest.database, ...manifest.attachments.blobs]) {
        const bytes = await readFile(join(root, object.object));
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(object.sha256);
      }
      // The archive is compressed (level 1) before encryption, and pg_dump's own compression is off:
      // `age -d | zstd -d` (or `brotli -d`) gives the archive pg_restore reads.
      expect(manifest.database.compression).toEqual({ method, level: 1 });
      const compressed = join(site.dir, 'database.dump.compressed');
      const dumpFile = join(site.dir, 'database.dump');
      await execa('age', [
        '-d',
        '-i',
        site.identityFile,
        '-o',
        compressed,
        join(root, manifest.database.object),
      ]);
      await decompress(compressed, dumpFile);
      expect((await stat(dumpFile)).size).toBe(manifest.database.plainSize);
      const { stdout } = await execa(join(pgInfo().binDir, 'pg_restore'), ['--list', dumpFile]);
      expect(stdout).toMatch(/TABLE DATA public cases /);
      expect(stdout).toMatch(/^; +Compression: 0$/m);
      for (const blob of manifest.attachments.blobs) {
        const { stdout: plain } = await execa(
          'age',
          ['-d', '-i', site.identityFile, join(root, blob.object)],
          { encoding: 'buffer', stripFinalNewline: false },
        );
        expect(createHash('md5').update(plain).digest('base64')).toBe(blob.checksum);
      }
    },
  );
});
