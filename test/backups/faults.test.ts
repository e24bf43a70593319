import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { parseDocument } from 'yaml';
import { generateIdentity } from '../../backups/crypto/age.js';
import { runCli } from '../../cli/main.js';
import {
  addBlob,
  type BackupSite,
  backupSite,
  repositoryFiles,
  restoreArgs,
  scratchDatabaseUrl,
} from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { queryDatabase } from '../support/pg.js';
import { testSecret } from '../support/secrets.js';

async function create(site: BackupSite, extraEnv: NodeJS.ProcessEnv = {}) {
  return tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
    env: { ...site.env, ...extraEnv },
  });
}

async function databaseExists(url: string): Promise<boolean> {
  const rows = await queryDatabase('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [
    new URL(url).pathname.slice(1),
  ]);
  return rows.length === 1;
}

async function flipByte(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const { size } = await handle.stat();
    const at = Math.floor(size / 2);
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0x01;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
}

describe('nothing personal leaves the site in plain text', () => {
  test('sentinel strings in case records and attachment files appear in no repository object', async () => {
    const sentinel = `SENTINEL-${randomBytes(8).toString('hex')}`;
    const site = await backupSite({ sentinel, blobs: 6 });
    // The source really holds it, in the database and in files:
    const blob = await readFile(site.db.blobs[0]!.path);
    expect(blob.includes(sentinel)).toBe(true);
    expect((await create(site)).code).toBe(0);
    const files = await repositoryFiles(site);
    // Every object of the set is scanned: its 6 attachments, the dump and the manifest.
    expect(files.filter((file) => file.includes('/blobs/'))).toHaveLength(6);
    expect(
      files.filter((file) => /\/sets\/[^/]+\/(database\.dump\.age|manifest\.json)$/.test(file)),
    ).toHaveLength(2);
    for (const file of files) {
      const content = await readFile(file);
      expect(content.includes(sentinel), file).toBe(false);
      expect(content.includes(Buffer.from(sentinel, 'utf16le')), file).toBe(false);
    }
    // Manifests hold ids, counts, sizes and digests: no names, no file names.
    const manifest = files.find((file) => file.endsWith('manifest.json'))!;
    const text = await readFile(manifest, 'utf8');
    expect(text).not.toMatch(/Amina|Otieno|\.pdf|\.jpg|worker\d/);
  });
});

describe('incremental attachments', () => {
  test('a second backup with nothing changed uploads no blob; a new blob is the only upload', async () => {
    const site = await backupSite({ blobs: 12 });
    const first = JSON.parse((await create(site)).stdout);
    expect(first.attachments.uploaded).toBe(12);
    const second = JSON.parse((await create(site)).stdout);
    expect(second.attachments).toMatchObject({ count: 12, uploaded: 0, uploadedBytes: 0, reused: 12 });

    await addBlob(site, 'newblobkey0000000000000000001', randomBytes(5000));
    const third = JSON.parse((await create(site)).stdout);
    expect(third.attachments).toMatchObject({ count: 13, uploaded: 1, reused: 12 });
  });
});

describe('damaged objects are found and named', () => {
  for (const which of ['database dump', 'attachment', 'manifest'] as const) {
    test(`one flipped byte in the ${which}: verify and restore fail, naming it; nothing is restored`, async () => {
      const site = await backupSite({ blobs: 4 });
      const set = JSON.parse((await create(site)).stdout);
      const files = await repositoryFiles(site);
      const victim =
        which === 'database dump'
          ? files.find((f) => f.endsWith('database.dump.age'))!
          : which === 'attachment'
            ? files.find((f) => f.includes('/blobs/'))!
            : files.find((f) => f.endsWith('manifest.json'))!;
      await flipByte(victim);
      const objectName = victim.slice(site.repository.replace('file://', '').length + 1);

      const verify = await tier4(['-c', site.configPath, 'backup', 'verify', set.id, '--site', site.site], {
        env: site.env,
      });
      expect(verify.code).toBe(1);
      const named = which === 'manifest' ? /cannot be trusted|MAC|manifest/ : objectName;
      expect(verify.stdout + verify.stderr).toMatch(named);

      const target = scratchDatabaseUrl();
      const restore = await tier4(restoreArgs(site, set.id, target), { env: site.env });
      expect(restore.code).toBe(1);
      expect(restore.stderr).toMatch(named);
      expect(await databaseExists(target)).toBe(false);
    });
  }
});

describe('keys', () => {
  test('a wrong identity: a clear error, and nothing is written', async () => {
    const site = await backupSite({ blobs: 2 });
    const set = JSON.parse((await create(site)).stdout);
    const other = await generateIdentity();
    const otherFile = join(site.dir, 'other-identity.txt');
    await writeFile(otherFile, other.identity, { mode: 0o600 });
    const target = scratchDatabaseUrl();
    const restore = await tier4(restoreArgs(site, set.id, target, '--identity', otherFile), {
      env: site.env,
    });
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain('cannot decrypt');
    expect(restore.stderr).not.toContain('AGE-SECRET-KEY');
    expect(await databaseExists(target)).toBe(false);
    const deep = await tier4(
      [
        '-c',
        site.configPath,
        'backup',
        'verify',
        set.id,
        '--site',
        site.site,
        '--deep',
        '--identity',
        otherFile,
      ],
      {
        env: site.env,
      },
    );
    expect(deep.code).toBe(1);
  });

  test('a missing identity file: a usage error naming it, nothing written', async () => {
    const site = await backupSite({ blobs: 1 });
    const set = JSON.parse((await create(site)).stdout);
    const target = scratchDatabaseUrl();
    const restore = await tier4(restoreArgs(site, set.id, target, '--identity', '/nonexistent/id.txt'), {
      env: site.env,
    });
    expect(restore.code).toBe(2);
    expect(restore.stderr).toContain('/nonexistent/id.txt cannot be read');
    expect(await databaseExists(target)).toBe(false);
  });

  test('a different integrity key: every manifest is untrusted', async () => {
    const site = await backupSite({ blobs: 1 });
    const set = JSON.parse((await create(site)).stdout);
    const env = { ...site.env, TIER4_LOCAL_INTEGRITY_KEY: testSecret('other-integrity') };
    const listed = await tier4(['--json', '-c', site.configPath, 'backup', 'list', '--site', site.site], {
      env,
    });
    expect(listed.code).toBe(1);
    expect(JSON.parse(listed.stdout).untrusted.map((u: { id: string }) => u.id)).toEqual([set.id]);
  });
});

describe('integrity key rotation', () => {
  test('sets sealed with a previous key still verify when it is listed; new sets use the current key', async () => {
    const site = await backupSite({ blobs: 1 });
    const before = JSON.parse((await create(site)).stdout).id;
    const config = parseDocument(await readFile(site.configPath, 'utf8'));
    config.setIn(['sites', site.site, 'backups', 'integrityKey'], { env: 'T4_NEW_INTEGRITY_KEY' });
    config.setIn(
      ['sites', site.site, 'backups', 'previousIntegrityKeys'],
      [{ env: 'TIER4_LOCAL_INTEGRITY_KEY' }],
    );
    await writeFile(site.configPath, config.toString());
    const env = { ...site.env, T4_NEW_INTEGRITY_KEY: testSecret('new-integrity') };
    const after = JSON.parse((await create(site, env)).stdout).id;
    const listed = JSON.parse(
      (await tier4(['--json', '-c', site.configPath, 'backup', 'list', '--site', site.site], { env })).stdout,
    );
    expect(listed.sets.map((set: { id: string }) => set.id)).toEqual([before, after]);
    expect(listed.untrusted).toEqual([]);
    // Without the previous key, only the new set is trusted.
    config.deleteIn(['sites', site.site, 'backups', 'previousIntegrityKeys']);
    await writeFile(site.configPath, config.toString());
    const strict = JSON.parse(
      (await tier4(['--json', '-c', site.configPath, 'backup', 'list', '--site', site.site], { env })).stdout,
    );
    expect(strict.sets.map((set: { id: string }) => set.id)).toEqual([after]);
    expect(strict.untrusted.map((u: { id: string }) => u.id)).toEqual([before]);
  });
});

describe('database problems', () => {
  test('a wrong password: a clear error that does not show it', async () => {
    const site = await backupSite({ blobs: 1 });
    const wrong = testSecret('wrong-db-password');
    const result = await create(site, { TIER4_LOCAL_DB_PASSWORD: wrong });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('refused the credentials');
    expect(result.stderr + result.stdout).not.toContain(wrong);
  });

  test('a database that is down: connection refused, and no set', async () => {
    const site = await backupSite({ blobs: 1 });
    const text = await readFile(site.configPath, 'utf8');
    await writeFile(site.configPath, text.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:9'));
    const result = await create(site);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('connection refused');
    const listed = await tier4(['--json', '-c', site.configPath, 'backup', 'list', '--site', site.site], {
      env: site.env,
    });
    expect(JSON.parse(listed.stdout).sets).toEqual([]);
  });
});

describe('bad input changes nothing', () => {
  test('restore refuses a password in the target URL, without echoing it', async () => {
    const site = await backupSite({ blobs: 1 });
    const secret = testSecret('target-url');
    const result = await tier4(
      [
        '-c',
        site.configPath,
        'restore',
        'latest',
        '--site',
        site.site,
        '--target-database',
        `postgres://u:${secret}@127.0.0.1/x`,
      ],
      { env: site.env },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('must not contain a password');
    expect(result.stderr).not.toContain(secret);
  });

  test('a production restore without a terminal needs --yes --confirm <site>; a non-empty target needs --replace', async () => {
    const site = await backupSite({ blobs: 1 });
    const set = JSON.parse((await create(site)).stdout);
    const target = scratchDatabaseUrl();
    const base = ['-c', site.configPath, 'restore', set.id, '--site', site.site, '--target-database', target];
    const unconfirmed = await tier4(base, { env: site.env });
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('--yes --confirm production');
    expect(await databaseExists(target)).toBe(false);
    const wrongName = await tier4([...base, '--yes', '--confirm', 'demo'], { env: site.env });
    expect(wrongName.code).toBe(2);
    expect((await tier4([...base, '--yes', '--confirm', 'production'], { env: site.env })).code).toBe(0);
    const again = await tier4([...base, '--yes', '--confirm', 'production'], { env: site.env });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('not empty');
    expect(
      (await tier4([...base, '--replace', '--yes', '--confirm', 'production'], { env: site.env })).code,
    ).toBe(0);
  });
});

describe('the restore work folder', () => {
  test('a --temp-dir that cannot be written is refused before anything changes; a good one is left empty', async () => {
    const site = await backupSite({ blobs: 1 });
    const set = JSON.parse((await create(site)).stdout);
    const target = scratchDatabaseUrl();
    const base = restoreArgs(site, set.id, target);
    const bad = await tier4([...base, '--temp-dir', '/nonexistent/tier4-tmp'], { env: site.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--temp-dir /nonexistent/tier4-tmp is not a folder this user can write to');
    expect(await databaseExists(target)).toBe(false);
    const folder = join(site.dir, 'restore-tmp');
    await mkdir(folder);
    const good = await tier4([...base, '--temp-dir', folder, '--jobs', '2'], { env: site.env });
    expect(good.code, good.stderr).toBe(0);
    expect(await readdir(folder)).toEqual([]);
  });
});

describe('confirmation on a terminal', () => {
  async function onTerminal(site: BackupSite, answer: string, args: string[]) {
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    stdin.end(`${answer}\n`);
    let stderr = '';
    const code = await runCli(args, {
      stdout: { write: () => true, isTTY: false },
      stderr: { write: (text: string) => (stderr += text), isTTY: true },
      stdin,
      env: { ...process.env, ...site.env, NO_COLOR: '1' },
      cwd: site.dir,
    });
    return { code, stderr };
  }

  test('a production restore asks for the site name; a wrong name changes nothing', async () => {
    const site = await backupSite({ blobs: 1 });
    const set = JSON.parse((await create(site)).stdout);
    const target = scratchDatabaseUrl();
    const args = ['-c', site.configPath, 'restore', set.id, '--site', site.site, '--target-database', target];
    const refused = await onTerminal(site, 'demo', args);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Type the site name (production) to go ahead');
    expect(refused.stderr).toContain('did not match; nothing was changed');
    expect(await databaseExists(target)).toBe(false);
    const accepted = await onTerminal(site, 'production', args);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(await databaseExists(target)).toBe(true);
  });
});
