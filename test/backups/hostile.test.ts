import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { openSiteRepository } from '../../backups/index.js';
import { layout } from '../../backups/layout.js';
import { type Manifest, sealManifest } from '../../backups/manifest.js';
import { loadConfig } from '../../core/config/load.js';
import {
  type BackupSite,
  backupSite,
  listFiles,
  restoreArgs,
  scratchDatabaseUrl,
} from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { queryDatabase } from '../support/pg.js';

// Hostile input against the backup engine: rows, repositories and folders arranged by an attacker (or a tired
// operator), against real PostgreSQL 15 and a real file:// repository. Each case was seen to go wrong before.

const SECRET = 'AGE-SECRET-KEY-1-NOT-A-REAL-KEY-BUT-IT-MUST-NOT-LEAVE-ITS-FOLDER';

/** How the disk service's layout <key[0..1]>/<key[2..3]>/<key> lands once joined, as an unchecked join does. */
function naiveDiskPath(root: string, key: string): string {
  return join(root, key.slice(0, 2), key.slice(2, 4), key);
}

async function createSet(
  site: BackupSite,
): Promise<{ code: number; set: Record<string, unknown> & { id: string } }> {
  const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
    env: site.env,
  });
  return { code: created.code, set: JSON.parse(created.stdout) };
}

async function insertBlobRow(site: BackupSite, key: string, content: Buffer): Promise<string> {
  const rows = await queryDatabase<{ id: string }>(
    site.db.database,
    "INSERT INTO active_storage_blobs (key, filename, service_name, byte_size, checksum, created_at) VALUES ($1, 'x.pdf', 'local', $2, $3, now()) RETURNING id::text AS id",
    [key, content.length, createHash('md5').update(content).digest('base64')],
  );
  return rows[0]!.id;
}

/** Rewrites a set's manifest as someone holding the integrity key could (a forged or an older tool's set). */
async function rewriteManifest(site: BackupSite, id: string, change: (manifest: Manifest) => void) {
  const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
  const path = layout.manifest(repo.site, id);
  const { mac: _mac, ...body } = JSON.parse((await repo.store.getBytes(path))!.toString('utf8')) as Manifest;
  change(body as Manifest);
  await writeFile(
    join(site.repository.replace('file://', ''), path),
    `${JSON.stringify(sealManifest(body, repo.macKey), null, 2)}\n`,
  );
  await repo.store.close();
}

describe('blob keys and paths are never trusted', () => {
  test('backup create never opens a key that climbs out of the storage folder, nor a symlinked file', async () => {
    const site = await backupSite({ cases: 5, blobs: 2 });
    // A root-only file beside the storage folder, which a traversing key reaches.
    const secretPath = join(site.dir, 'secret.key');
    await writeFile(secretPath, SECRET, { mode: 0o600 });
    const climbing = 'xy/../../../secret.key';
    expect(naiveDiskPath(site.blobRoot, climbing)).toBe(secretPath);
    const climbingId = await insertBlobRow(site, climbing, Buffer.from(SECRET));
    // A plain key whose file in storage is a symbolic link to the same secret.
    const linked = 'abcdefghijklmnopqrstuvwxyz01';
    await mkdir(join(site.blobRoot, 'ab', 'cd'), { recursive: true });
    await symlink(secretPath, join(site.blobRoot, 'ab', 'cd', linked));
    const linkedId = await insertBlobRow(site, linked, Buffer.from(SECRET));

    const created = await tier4(['-c', site.configPath, 'backup', 'create', '--site', site.site], {
      env: site.env,
    });
    expect(created.code).toBe(1);
    expect(created.stdout).toContain(`active_storage_blobs id ${climbingId}, ${linkedId}`);
    const { set } = await createSet(site);
    const problems = set.problems as Array<{ problem: string; blobId?: string }>;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ problem: 'unsafe-key', blobId: climbingId }),
        expect.objectContaining({ problem: 'unsafe-path', blobId: linkedId }),
      ]),
    );
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const manifest = JSON.parse((await repo.store.getBytes(layout.manifest(repo.site, set.id)))!.toString());
    const keys = (manifest as Manifest).attachments.blobs.map((blob) => blob.key);
    expect(keys).not.toContain(climbing);
    expect(keys).not.toContain(linked);
    expect(keys).toHaveLength(2);
    await repo.store.close();
  });

  test('restore writes only inside --attachments-to: no climbing key, no symlinked folder', async () => {
    const site = await backupSite({ cases: 5, blobs: 3 });
    const { set } = await createSet(site);
    const victim = join(site.dir, 'victim.txt');
    await writeFile(victim, 'keep me', { mode: 0o600 });
    const outside = join(site.dir, 'outside');
    await mkdir(outside);
    const to = join(site.dir, 'restored');
    const climbing = 'xy/../../../victim.txt';
    expect(naiveDiskPath(to, climbing)).toBe(victim);

    // A set (forged, or taken by an older tool) that lists a climbing key, backed by a real blob object.
    let linkedKey = '';
    await rewriteManifest(site, set.id, (manifest) => {
      const real = manifest.attachments.blobs[0]!;
      linkedKey = manifest.attachments.blobs[1]!.key;
      manifest.attachments.blobs.push({ ...real, key: climbing });
    });
    // A folder inside the target that is a symbolic link out of it.
    await mkdir(to);
    await symlink(outside, join(to, linkedKey.slice(0, 2)));

    const restored = await tier4(
      ['--json', ...restoreArgs(site, set.id, scratchDatabaseUrl(), '--attachments-to', to)],
      { env: site.env },
    );
    expect(restored.code).toBe(1);
    expect(await readFile(victim, 'utf8')).toBe('keep me');
    expect((await stat(victim)).mode & 0o777).toBe(0o600);
    expect(await listFiles(outside)).toEqual([]);
    const result = JSON.parse(restored.stdout);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ problem: 'unsafe-key' }),
        expect.objectContaining({ problem: 'unsafe-path', key: linkedKey }),
      ]),
    );
    // The other attachments were restored.
    expect(result.attachments).toBe(2);
  });
});
