import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { createBackup } from '../../backups/create.js';
import { layout } from '../../backups/layout.js';
import type { SiteRepository } from '../../backups/site-repository.js';
import { FileStore } from '../../backups/store/file-store.js';
import { OperationError } from '../../core/errors.js';
import { pgInfo } from '../support/pg.js';
import { type CachedSet, cachedSet, copyOfRepository } from './cached-set.js';

// What createBackup (backups/create.ts) refuses, and what it leaves when it stops before the manifest: a new
// repository without --init, a repository locked by another operation, one none of whose sets can be trusted
// (unless --fresh), and an interruption after the attachments. The site's database is only read here.

let cached: CachedSet;

beforeAll(async () => {
  cached = await cachedSet({ site: 'create-mk', cases: 3, blobs: 3 });
});

const database = () => ({
  url: `postgres://${pgInfo().user}@${pgInfo().host}:${pgInfo().port}/${cached.site.db.database}`,
  password: pgInfo().password,
});

async function keys(repo: SiteRepository, prefix = `${repo.site}/`): Promise<string[]> {
  const found: string[] = [];
  for await (const object of repo.store.list(prefix)) found.push(object.key);
  return found.sort();
}

describe('createBackup refuses before it changes anything', () => {
  test('a new, empty repository without init: not initialised, nothing written; with init: created and backed up', async () => {
    const { repo } = await copyOfRepository(cached);
    const root = await mkdtemp(join(cached.site.dir, 'empty-'));
    const store = new FileStore(root);
    const empty = { ...repo, store, state: store };
    const error = (await createBackup(empty, database()).catch((e: unknown) => e)) as OperationError;
    expect(error).toBeInstanceOf(OperationError);
    expect(error.message).toBe(
      `The backup repository file://${root} of create-mk is not initialised (it has no repository marker): no backup was taken.`,
    );
    expect(await readdir(root)).toEqual([]);
    const created = await createBackup(empty, database(), { init: true });
    expect(created.initialised).toBe('created');
    expect(created.manifest.attachments).toMatchObject({ count: 3, uploaded: 3, reused: 0, problems: [] });
    // Nothing was stored under these names before: each attachment gets its plain object name.
    expect(created.manifest.attachments.blobs.map((blob) => blob.object).sort()).toEqual(
      cached.site.db.blobs.map((blob) => layout.blob('create-mk', blob.key)).sort(),
    );
    expect(await keys(empty, layout.markersPrefix('create-mk'))).toHaveLength(1);
  });

  test('a repository another operation holds: refused naming it, its lock left as it was', async () => {
    const { repo } = await copyOfRepository(cached);
    const lock = {
      token: randomBytes(12).toString('hex'),
      operation: 'prune',
      host: hostname(),
      pid: 1,
      acquiredAt: '2026-11-30T05:00:00.000Z',
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
    };
    await repo.state.putBytes(layout.lock(repo.site), JSON.stringify(lock));
    const before = await keys(repo);
    const error = (await createBackup(repo, database()).catch((e: unknown) => e)) as OperationError;
    expect(error).toBeInstanceOf(OperationError);
    expect(error.message).toBe(
      `The create-mk repository is locked by a prune on ${hostname()} (pid 1) since 2026-11-30T05:00:00.000Z.`,
    );
    expect(await keys(repo)).toEqual(before);
    expect(JSON.parse(String(await repo.state.getBytes(layout.lock(repo.site))))).toEqual(lock);
  });

  test('a repository from before markers none of whose sets the key verifies: refused; fresh backs up anew', async () => {
    const { repo } = await copyOfRepository(cached);
    for (const key of await keys(repo, layout.markersPrefix(repo.site))) await repo.store.delete(key);
    // Another integrity key: the one set there cannot be trusted.
    const other = randomBytes(32);
    const wrong = { ...repo, macKey: other, macKeys: [other] };
    const before = await keys(repo);
    const error = (await createBackup(wrong, database()).catch((e: unknown) => e)) as OperationError;
    expect(error).toBeInstanceOf(OperationError);
    expect(error.message).toBe(
      `None of the 1 backup set(s) of create-mk in ${repo.store.location} can be trusted with the configured integrity key; no backup was taken.`,
    );
    expect(error.hint).toBe(
      'After a key rotation, list the old key under backups.previousIntegrityKeys. If the old key is lost for good, run `tier4 backup create --fresh` (it reuses nothing; the old sets stay, untrusted, for inspection).',
    );
    expect(await keys(repo)).toEqual(before);
    const fresh = await createBackup(wrong, database(), { fresh: true });
    expect(fresh.initialised).toBe('rekeyed');
    expect(fresh.manifest.attachments).toMatchObject({ count: 3, uploaded: 3, reused: 0 });
  });
});

describe('createBackup stopped before the manifest', () => {
  test('an interruption after the last attachment leaves no set, and releases the lock', async () => {
    const { repo } = await copyOfRepository(cached);
    const before = await keys(repo, layout.setsPrefix(repo.site));
    const controller = new AbortController();
    const error = await createBackup(repo, database(), {
      fresh: true,
      signal: controller.signal,
      onProgress: (event) => {
        if (event.phase === 'attachments' && event.done === event.total)
          controller.abort(new Error('stopped before the manifest'));
      },
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('stopped before the manifest');
    expect(await keys(repo, layout.setsPrefix(repo.site))).toEqual(before);
    expect(await repo.state.getBytes(layout.lock(repo.site))).toBeUndefined();
  });
});
