import { createHash } from 'node:crypto';
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import {
  openBlobTarget,
  openSiteRepository,
  planRestore,
  runRestore,
  type SiteRepository,
  siteIdentities,
} from '../../backups/index.js';
import { layout } from '../../backups/layout.js';
import { type Manifest, sealManifest } from '../../backups/manifest.js';
import { loadConfig } from '../../core/config/load.js';
import {
  type BackupSite,
  backupSite,
  databaseOf,
  listFiles,
  restoreArgs,
  scratchDatabaseUrl,
  tableDigests,
} from '../support/backup-site.js';
import { REPO_ROOT, tier4 } from '../support/cli.js';
import { pgInfo, queryDatabase } from '../support/pg.js';

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

async function storedManifest(repo: SiteRepository, id: string): Promise<Manifest> {
  return JSON.parse((await repo.store.getBytes(layout.manifest(repo.site, id)))!.toString()) as Manifest;
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
    const manifest = await storedManifest(repo, set.id);
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

/** The stored file of an object in a site's file:// repository. */
function objectPath(site: BackupSite, key: string): string {
  return join(site.repository.replace('file://', ''), key);
}

async function databaseExists(name: string): Promise<boolean> {
  return (await queryDatabase('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length > 0;
}

/** Work databases a restore into `target` left behind (they carry its name in their marker). */
async function leftoverWorkDatabases(target: string): Promise<string[]> {
  const rows = await queryDatabase<{ datname: string }>(
    'postgres',
    "SELECT datname FROM pg_database WHERE datname LIKE 'tier4_work_%' AND shobj_description(oid, 'pg_database') LIKE $1",
    [`%"target":"${target}"%`],
  );
  return rows.map((row) => row.datname);
}

describe('the bytes restored are the bytes verified', () => {
  async function twoSets(site: BackupSite, repo: SiteRepository) {
    const { set: first } = await createSet(site);
    await queryDatabase(site.db.database, 'CREATE TABLE intruder (x int)');
    const { set: second } = await createSet(site);
    const manifest = async (id: string) => storedManifest(repo, id);
    return { first: await manifest(first.id), second: await manifest(second.id) };
  }

  for (const jobs of [1, 2]) {
    test(`a dump replaced after verification is refused (--jobs ${jobs}); the target is not created`, async () => {
      const site = await backupSite({ cases: 20, blobs: 1 });
      const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
      const { first, second } = await twoSets(site, repo);
      const url = scratchDatabaseUrl();
      const target = { url, password: pgInfo().password };
      const identities = siteIdentities(repo);
      const plan = await planRestore(repo, first.id, target, identities);
      // While the operator reads the confirmation: another valid age file, a real dump of the same site.
      await copyFile(objectPath(site, second.database.object), objectPath(site, first.database.object));
      await expect(runRestore(repo, plan, { identities, jobs })).rejects.toThrow(
        /changed in the repository after it was verified/,
      );
      expect(await databaseExists(databaseOf(url))).toBe(false);
      expect(await leftoverWorkDatabases(databaseOf(url))).toEqual([]);
      await repo.store.close();
    });
  }

  test('an attachment replaced after verification is never written, and the target database keeps its name free', async () => {
    const site = await backupSite({ cases: 5, blobs: 2 });
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const { set } = await createSet(site);
    const manifest = await storedManifest(repo, set.id);
    const [a, b] = manifest.attachments.blobs;
    const url = scratchDatabaseUrl();
    const identities = siteIdentities(repo);
    const to = join(site.dir, 'restored');
    const plan = await planRestore(repo, set.id, { url, password: pgInfo().password }, identities);
    await copyFile(objectPath(site, b!.object), objectPath(site, a!.object));
    const attachmentsTo = await openBlobTarget(to, repo.siteConfig.attachments, site.env);
    await expect(runRestore(repo, plan, { identities, attachmentsTo, concurrency: 1 })).rejects.toThrow(
      /changed in the repository after it was verified/,
    );
    const written = (await listFiles(to).catch(() => [])).map((path) => path.split('/').pop());
    expect(written).not.toContain(a!.key);
    expect(written.filter((name) => name!.startsWith('.tier4-'))).toEqual([]);
    expect(await databaseExists(databaseOf(url))).toBe(false);
    await repo.store.close();
  });
});

describe('restore --replace never leaves the live target broken', () => {
  test('a dump that fails half-way (it passed every check) leaves the target as it was', async () => {
    const site = await backupSite({ cases: 50, blobs: 1 });
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const { set } = await createSet(site);
    // A live target with data of its own.
    const live = await backupSite({ cases: 30, blobs: 0 });
    const before = await tableDigests(live.db.database);
    const info = pgInfo();
    const liveUrl = `postgres://${info.user}@${info.host}:${info.port}/${live.db.database}`;

    // The dump, cut short and encrypted again, sealed as if nothing was wrong: pg_restore fails part-way.
    const { decryptStream, encryptStream } = await import('../../backups/crypto/age.js');
    const { digestOf } = await import('../../backups/crypto/digest.js');
    const { Readable } = await import('node:stream');
    const manifest = await storedManifest(repo, set.id);
    const plain = Buffer.concat(
      await (
        await decryptStream(await repo.store.get(manifest.database.object), siteIdentities(repo), 'dump')
      ).toArray(),
    );
    // The archive itself is cut (decompressed first when tier4 compressed it, and compressed again), so the
    // object decrypts and decompresses to the end and only pg_restore finds it short.
    const { archiveOf, compressedAs } = await import('../support/archive.js');
    const archive = await archiveOf(plain, manifest.database.compression);
    const cut = archive.subarray(0, Math.floor(archive.length * 0.7));
    const stored = await compressedAs(cut, manifest.database.compression);
    const encrypted = Buffer.concat(
      await (await encryptStream(Readable.from([stored]), repo.recipients)).toArray(),
    );
    await writeFile(objectPath(site, manifest.database.object), encrypted);
    const digest = await digestOf(Readable.from([encrypted]));
    await rewriteManifest(site, set.id, (m) => {
      m.database.size = digest.bytes;
      m.database.sha256 = digest.digest;
      m.database.plainSize = cut.length;
    });

    for (const jobs of ['1', '2']) {
      const restored = await tier4(
        ['--json', ...restoreArgs(site, set.id, liveUrl, '--replace', '--jobs', jobs)],
        {
          env: site.env,
        },
      );
      expect(restored.code).toBe(1);
      expect(JSON.parse(restored.stdout).error.hint).toMatch(/target database was not changed/);
      expect(await tableDigests(live.db.database)).toEqual(before);
      expect(await leftoverWorkDatabases(live.db.database)).toEqual([]);
    }
    await repo.store.close();
  });

  test('too little temp space is found before anything is dropped', async () => {
    const site = await backupSite({ cases: 5, blobs: 0 });
    const { set } = await createSet(site);
    const live = await backupSite({ cases: 10, blobs: 0 });
    const before = await tableDigests(live.db.database);
    const info = pgInfo();
    const liveUrl = `postgres://${info.user}@${info.host}:${info.port}/${live.db.database}`;
    // /dev/shm stands in for a small temp folder: claim a dump bigger than its free space.
    const { statfs } = await import('node:fs/promises');
    const shm = await statfs('/dev/shm');
    await rewriteManifest(site, set.id, (m) => {
      m.database.plainSize = shm.bavail * shm.bsize + 1;
    });
    const restored = await tier4(
      [...restoreArgs(site, set.id, liveUrl, '--replace', '--jobs', '2', '--temp-dir', '/dev/shm')],
      { env: site.env },
    );
    expect(restored.code).toBe(1);
    expect(restored.stderr).toMatch(
      /has \d+ MiB free; the decrypted dump needs \d+ MiB\. Nothing was changed/,
    );
    expect(await tableDigests(live.db.database)).toEqual(before);
  });

  test('a successful --replace swaps the restored database in, and the old one is gone', async () => {
    const site = await backupSite({ cases: 10, blobs: 1 });
    const { set } = await createSet(site);
    const live = await backupSite({ cases: 3, blobs: 0 });
    const info = pgInfo();
    const liveUrl = `postgres://${info.user}@${info.host}:${info.port}/${live.db.database}`;
    const restored = await tier4(restoreArgs(site, set.id, liveUrl, '--replace', '--jobs', '1'), {
      env: site.env,
    });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await tableDigests(live.db.database)).toEqual(await tableDigests(site.db.database));
    const comment = await queryDatabase<{ c: string }>(
      'postgres',
      "SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1",
      [live.db.database],
    );
    expect(comment[0]!.c).toMatch(new RegExp(`^tier4: restored .*"set":"${set.id}"`));
    expect(await leftoverWorkDatabases(live.db.database)).toEqual([]);
    // Without --attachments-to, the result says attachments were not restored.
    expect(restored.stdout).toMatch(
      /Attachments were NOT restored \(no --attachments-to\): the 1 attachment/,
    );
    expect(restored.stderr).toMatch(/Attachments were not restored; pass --attachments-to/);
    const json = await tier4(['--json', ...restoreArgs(site, set.id, scratchDatabaseUrl())], {
      env: site.env,
    });
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      attachmentsRestored: false,
      attachmentsNotRestored: 1,
    });
    const old = await queryDatabase(
      'postgres',
      "SELECT 1 FROM pg_database WHERE datname LIKE 'tier4_old_%' AND NOT datallowconn",
    );
    expect(old).toEqual([]);
  });
});

describe('interrupted restores', () => {
  test('a SIGKILLed restore leaves plaintext that the next restore sweeps, and no work database', async () => {
    const site = await backupSite({ cases: 3000, blobs: 0 });
    const { set } = await createSet(site);
    const temp = join(site.dir, 'temp');
    await mkdir(temp);
    const target = scratchDatabaseUrl();
    const args = restoreArgs(site, set.id, target, '--jobs', '2', '--temp-dir', temp);
    const child = execa(process.execPath, [join(REPO_ROOT, 'bin/tier4.js'), ...args], {
      env: { ...process.env, ...site.env },
      reject: false,
    });
    // Killed once the decrypted dump is on disk and pg_restore fills the work database.
    const dumpOnDisk = async () => {
      for (const path of await listFiles(temp).catch(() => []))
        if (path.endsWith('database.dump')) return true;
      return false;
    };
    while (child.exitCode === null) {
      if ((await dumpOnDisk()) && (await leftoverWorkDatabases(databaseOf(target))).length > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    const killed = await child;
    expect(killed.signal).toBe('SIGKILL');
    expect((await readdir(temp)).filter((name) => name.startsWith('tier4-restore-'))).toHaveLength(1);
    expect(await leftoverWorkDatabases(databaseOf(target))).toHaveLength(1);
    expect(await databaseExists(databaseOf(target))).toBe(false);

    const again = await tier4(args, { env: site.env });
    expect(again.code, again.stderr).toBe(0);
    expect(await readdir(temp)).toEqual([]);
    expect(await leftoverWorkDatabases(databaseOf(target))).toEqual([]);
    expect(await tableDigests(databaseOf(target))).toEqual(await tableDigests(site.db.database));
  });

  test('a restore that fails during attachments leaves its target marked incomplete; restore and doctor say so', async () => {
    const site = await backupSite({ cases: 5, blobs: 2 });
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const { set } = await createSet(site);
    const manifest = await storedManifest(repo, set.id);
    await repo.store.close();
    // The target is a site's own database, emptied as a cluster operator prepares one: restored in place.
    const live = await backupSite({ cases: 1, blobs: 0 });
    await queryDatabase('postgres', `DROP DATABASE ${live.db.database} WITH (FORCE)`);
    await queryDatabase('postgres', `CREATE DATABASE ${live.db.database}`);
    const info = pgInfo();
    const liveUrl = `postgres://${info.user}@${info.host}:${info.port}/${live.db.database}`;
    const [a, b] = manifest.attachments.blobs;
    await copyFile(objectPath(site, a!.object), join(site.dir, 'saved.age'));
    const repo2 = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const identities = siteIdentities(repo2);
    const plan = await planRestore(repo2, set.id, { url: liveUrl, password: info.password }, identities);
    // An attachment fails half-way through the restore (here: it changed after verification).
    await copyFile(objectPath(site, b!.object), objectPath(site, a!.object));
    const attachmentsTo = await openBlobTarget(
      join(site.dir, 'restored'),
      repo2.siteConfig.attachments,
      site.env,
    );
    await expect(
      runRestore(repo2, plan, { identities, attachmentsTo, jobs: 1, concurrency: 1 }),
    ).rejects.toThrow(/changed in the repository/);
    await repo2.store.close();
    await copyFile(join(site.dir, 'saved.age'), objectPath(site, a!.object));

    const again = await tier4(restoreArgs(site, set.id, liveUrl), { env: site.env });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`holds an unfinished restore of set ${set.id}`);
    const doctor = await tier4(['--json', '-c', live.configPath, 'doctor', '--site', live.site], {
      env: live.env,
    });
    const check = JSON.parse(doctor.stdout).checks.find((c: { check: string }) => c.check === 'restore');
    expect(check).toMatchObject({ status: 'fail' });
    expect(check.message).toContain(`unfinished restore of set ${set.id}`);
  });
});

describe('hostile input files', () => {
  test('a YAML alias bomb in tier4.yaml is a configuration error (exit 2), not a crash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-bomb-'));
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i += 1) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const file = join(dir, 'tier4.yaml');
    await writeFile(file, `${levels.join('\n')}\nsites: {}\n`);
    const result = await tier4(['-c', file, 'config', 'validate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/not a valid tier4 configuration/);
    expect(result.stderr).toMatch(/alias/i);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  test('a {file:} secret that is not a regular file, or larger than 64 KiB, is a clear error', async () => {
    const { resolveSecret } = await import('../../core/secrets.js');
    const dir = await mkdtemp(join(tmpdir(), 'tier4-secret-'));
    const big = join(dir, 'big');
    await writeFile(big, 'x'.repeat(100 * 1024));
    expect(() => resolveSecret({ file: big })).toThrow(/larger than 64 KiB/);
    expect(() => resolveSecret({ file: '/dev/null' })).toThrow(/not a regular file/);
    expect(() => resolveSecret({ file: dir })).toThrow(/not a regular file/);
  });
});

describe('keys that do not fit', () => {
  async function withRecipients(site: BackupSite, recipients: string[]): Promise<void> {
    const { parseDocument } = await import('yaml');
    const doc = parseDocument(await readFile(site.configPath, 'utf8'));
    doc.setIn(['sites', site.site, 'backups', 'encryption', 'recipients'], recipients);
    await writeFile(site.configPath, doc.toString());
  }

  test("backups to the example's placeholder recipient are refused by create and failed by doctor", async () => {
    const site = await backupSite({ cases: 2, blobs: 0 });
    await withRecipients(site, ['age12ua8xs7zn4mcuf6za0nus29ttg47j8wnz84frqxgrnm07gtq2e6qdk3mhd']);
    const created = await tier4(['-c', site.configPath, 'backup', 'create', '--site', site.site], {
      env: site.env,
    });
    expect(created.code).toBe(2);
    expect(created.stderr).toMatch(/No backup was taken: .*example's placeholder/);
    const doctor = await tier4(['--json', '-c', site.configPath, 'doctor', '--site', site.site], {
      env: site.env,
    });
    const check = JSON.parse(doctor.stdout).checks.find((c: { check: string }) => c.check === 'encryption');
    expect(check).toMatchObject({ status: 'fail' });
    // config validate fails on them too (exit 1): test/config.test.ts.
  });

  test('an identity that matches none of the recipients is refused by create', async () => {
    const site = await backupSite({ cases: 2, blobs: 0 });
    const { generateIdentity } = await import('../../backups/crypto/age.js');
    await withRecipients(site, [(await generateIdentity()).recipient]);
    const created = await tier4(['-c', site.configPath, 'backup', 'create', '--site', site.site], {
      env: site.env,
    });
    expect(created.code).toBe(2);
    expect(created.stderr).toMatch(/matches none of the recipients/);
    // config validate fails on it too (exit 1): test/config.test.ts.
  });

  test('a group- or world-readable identity file gets a warning when a restore or a drill reads it', async () => {
    const site = await backupSite({ cases: 2, blobs: 0 });
    const { set } = await createSet(site);
    const identity = loadConfig(site.configPath).config.sites[site.site]!.backups!.encryption.identity!;
    const file = (identity as { file: string }).file;
    await chmod(file, 0o644);
    const restored = await tier4(restoreArgs(site, set.id, scratchDatabaseUrl()), { env: site.env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toContain(
      `The age identity ${file} can be read by everyone (mode 0644): chmod 600`,
    );
    await chmod(file, 0o640);
    const drilled = await tier4(
      ['-c', site.configPath, 'drill', '--site', site.site, '--report-dir', join(site.dir, 'drills')],
      { env: site.env },
    );
    expect(drilled.stderr).toContain(
      `The age identity ${file} can be read by its group (mode 0640): chmod 600`,
    );
  });
});
