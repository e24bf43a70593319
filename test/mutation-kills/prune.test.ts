import { existsSync } from 'node:fs';
import { mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { deriveMacKey } from '../../backups/crypto/mac.js';
import { layout } from '../../backups/layout.js';
import { acquireLock, acquireRestoreLock } from '../../backups/lock.js';
import { sealManifest } from '../../backups/manifest.js';
import { pruneRepository } from '../../backups/prune.js';
import type { SiteRepository } from '../../backups/site-repository.js';
import { FileStore } from '../../backups/store/file-store.js';
import type { ObjectStore } from '../../backups/store/types.js';
import { sealVerification } from '../../backups/verification-record.js';
import type { BackupsConfig, SiteConfig } from '../../core/config/schema.js';
import { OperationError } from '../../core/errors.js';
import { manifestBody } from './fixtures.js';

// prune in the test process (backups/prune.ts) over a file:// repository written by hand: sealed manifests,
// verification records, shared attachments. What it keeps, removes and reports, and what it never touches.

const SITE = 'demo';
const POLICY = { last: 1, daily: 0, weekly: 0, monthly: 0 };
const id = (day: number) => `202611${String(day).padStart(2, '0')}T000000.000Z-00000${day}`;
const [s0, s1, s2, s3, s4] = [0, 1, 2, 3, 4].map((day) => id(day + 1)) as [
  string,
  string,
  string,
  string,
  string,
];
const BLOB_SIZES: Record<string, number> = {
  blob0001: 3,
  blob0002: 3,
  blob0003: 3,
  blob0004: 5,
  blob0009: 7,
  blob0005: 2,
};
const blob = (key: string) => layout.blob(SITE, key);

async function fileStore(): Promise<{ store: FileStore; root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'tier4-prune-'));
  return { store: new FileStore(root), root };
}

async function repository(state?: ObjectStore): Promise<{ repo: SiteRepository; root: string }> {
  const { store, root } = await fileStore();
  const macKey = deriveMacKey('integrity', SITE);
  const repo = {
    site: SITE,
    siteConfig: {} as SiteConfig,
    backups: { retention: POLICY } as BackupsConfig,
    store,
    state: state ?? store,
    macKey,
    macKeys: [macKey],
    recipients: [],
    env: {},
  };
  return { repo, root };
}

async function putSet(repo: SiteRepository, setId: string, keys: string[], macKey = repo.macKey) {
  const body = manifestBody(setId, SITE);
  body.attachments.blobs = keys.map((key) => ({
    object: blob(key),
    size: BLOB_SIZES[key]!,
    sha256: 'a'.repeat(64),
    key,
    plainSize: 1,
    checksum: null,
  }));
  await repo.store.putBytes(layout.dump(SITE, setId), 'dump');
  for (const key of keys) await repo.store.putBytes(blob(key), 'x'.repeat(BLOB_SIZES[key]!));
  await repo.store.putBytes(layout.manifest(SITE, setId), JSON.stringify(sealManifest(body, macKey)));
}

async function putVerification(repo: SiteRepository, setId: string, ok: boolean) {
  const at = new Date(Date.UTC(2026, 10, 20));
  const record = {
    format: 'tier4-verification/1' as const,
    set: setId,
    at: at.toISOString(),
    deep: false,
    ok,
    failures: ok ? 0 : 1,
  };
  await repo.state.putBytes(layout.verification(SITE, setId, at), sealVerification(record, repo.macKey));
}

/**
 * s0 incomplete (no manifest); s1 verified (blobs 1, 2); s2 failed its verification (blobs 2, 3, 4);
 * s3 newest (blob 3); blob 9 named by no set. With last: 1, s3 is kept as the last and s1 as the newest verified.
 */
async function history(state?: ObjectStore) {
  const { repo, root } = await repository(state);
  await repo.store.putBytes(layout.dump(SITE, s0), 'interrupted');
  await putSet(repo, s1, ['blob0001', 'blob0002']);
  await putSet(repo, s2, ['blob0002', 'blob0003', 'blob0004']);
  await putSet(repo, s3, ['blob0003']);
  await repo.store.putBytes(blob('blob0009'), 'x'.repeat(7));
  await putVerification(repo, s1, true);
  await putVerification(repo, s2, false);
  return { repo, root };
}

const EXPECTED = {
  kept: [
    { id: s3, reasons: ['last'] },
    { id: s1, reasons: ['newest verified'] },
  ],
  removed: [s2],
  incompleteRemoved: [s0],
  untrusted: [],
  blobsKeptForUntrusted: 0,
  blobsRemoved: 2,
  blobBytesRemoved: 12,
  errors: [],
  protected: [],
  warnings: [],
};

async function keys(store: ObjectStore, prefix = `${SITE}/`): Promise<string[]> {
  const found = [];
  for await (const object of store.list(prefix)) found.push(object.key);
  return found.sort();
}

describe('pruneRepository', () => {
  test('dry run: reports exactly what a prune would do, changes nothing, and needs no lock', async () => {
    const { repo } = await history();
    const before = await keys(repo.store);
    const held = await acquireLock(repo.state, SITE, 'backup');
    const report = await pruneRepository(repo, { dryRun: true, policy: POLICY });
    await held.release();
    expect(report).toEqual({ dryRun: true, ...EXPECTED, temporaryRemoved: 0 });
    expect(await keys(repo.store)).toEqual(before);
  });

  test('removes the sets retention drops, incomplete sets, unreferenced attachments and old temporary files', async () => {
    const { repo, root } = await history();
    const oldTemp = join(root, SITE, 'blobs', '.tmp-0001-old.age');
    const newTemp = join(root, SITE, 'blobs', '.tmp-0002-new.age');
    await writeFile(oldTemp, 'partial');
    await writeFile(newTemp, 'partial');
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await utimes(oldTemp, twoHoursAgo, twoHoursAgo);
    const report = await pruneRepository(repo);
    expect(report).toEqual({ dryRun: false, ...EXPECTED, temporaryRemoved: 1 });
    expect(existsSync(oldTemp)).toBe(false);
    expect(existsSync(newTemp)).toBe(true);
    const left = await keys(repo.store);
    expect(left.filter((key) => !key.includes('/verified/'))).toEqual(
      [
        layout.dump(SITE, s1),
        layout.manifest(SITE, s1),
        layout.dump(SITE, s3),
        layout.manifest(SITE, s3),
        blob('blob0001'),
        blob('blob0002'),
        blob('blob0003'),
      ].sort(),
    );
    expect(left.filter((key) => key.includes('/verified/')).map((key) => key.split('/')[2])).toEqual([s1]);
    // The lock was released: another prune can run.
    await (await acquireLock(repo.state, SITE, 'prune')).release();
  });

  test('the policy of the repository applies when none is given', async () => {
    const { repo } = await history();
    repo.backups = { retention: { last: 0, daily: 0, weekly: 0, monthly: 0 } } as BackupsConfig;
    const report = await pruneRepository(repo, { dryRun: true });
    expect(report.removed).toEqual([s3, s2]);
    expect(report.kept).toEqual([{ id: s1, reasons: ['newest verified'] }]);
  });

  test('verification records kept apart (stateRepository) go with their set', async () => {
    const { store: state } = await fileStore();
    const { repo } = await history(state);
    await pruneRepository(repo, { policy: POLICY });
    expect((await keys(state, layout.setsPrefix(SITE))).map((key) => key.split('/')[2])).toEqual([s1]);
  });

  test('under a key that trusts no set, nothing is pruned and the error says which key to check', async () => {
    const { repo } = await history();
    const before = await keys(repo.store);
    const wrong = deriveMacKey('another key', SITE);
    const error = await pruneRepository({ ...repo, macKeys: [wrong] }, { policy: POLICY }).catch(
      (caught) => caught,
    );
    expect(error).toBeInstanceOf(OperationError);
    expect(error.message).toBe(
      `None of the 3 backup set(s) of ${SITE} can be trusted with the configured integrity key; nothing was pruned.`,
    );
    expect(error.hint).toBe(
      'Check backups.integrityKey; after a key rotation, list the old key under backups.previousIntegrityKeys.',
    );
    expect(await keys(repo.store)).toEqual(before);
  });

  test('an untrusted set is never removed, nor any attachment it names', async () => {
    const { repo } = await history();
    await putSet(repo, s4, ['blob0005', 'blob0003'], deriveMacKey('someone else', SITE));
    const report = await pruneRepository(repo, { policy: POLICY });
    expect(report.untrusted).toEqual([s4]);
    expect(report.blobsKeptForUntrusted).toBe(1);
    expect(report.blobsRemoved).toBe(2);
    expect(report.removed).toEqual([s2]);
    expect(await repo.store.head(layout.manifest(SITE, s4))).toBeDefined();
    expect(await repo.store.head(layout.dump(SITE, s4))).toBeDefined();
    expect(await repo.store.head(blob('blob0005'))).toBe(2);
  });

  test('an untrusted manifest too damaged to read stops the attachment sweep, and says why', async () => {
    const { repo } = await history();
    await repo.store.putBytes(layout.manifest(SITE, s4), '{"attachments": {"blobs": [{"object": 3}]}}');
    const report = await pruneRepository(repo, { policy: POLICY });
    expect(report.blobSweepSkipped).toBe(`the manifest of ${s4} cannot be read`);
    expect(report.blobsRemoved).toBe(0);
    expect(report.blobBytesRemoved).toBe(0);
    expect(await repo.store.head(blob('blob0009'))).toBe(7);
    expect(await repo.store.head(blob('blob0004'))).toBe(5);
  });

  test('a manifest that cannot be deleted keeps its set whole; an immutable object is reported as protected', async () => {
    const { repo } = await history();
    const store = repo.store;
    const failing: ObjectStore = Object.assign(Object.create(store), {
      delete: async (key: string) => {
        if (key === layout.manifest(SITE, s2)) throw new Error('permission denied');
        if (key === blob('blob0009'))
          throw Object.assign(new Error('immutable'), { statusCode: 409, code: 'BlobImmutableDueToPolicy' });
        return store.delete(key);
      },
    });
    const report = await pruneRepository({ ...repo, store: failing }, { policy: POLICY });
    expect(report.errors).toEqual([{ object: layout.manifest(SITE, s2), error: 'permission denied' }]);
    expect(report.protected).toEqual([blob('blob0009')]);
    expect(await store.head(layout.dump(SITE, s2))).toBeDefined();
    expect(await store.head(blob('blob0004'))).toBeUndefined();
  });

  test('a repository holding only an interrupted set is pruned of it, without an error', async () => {
    const { repo } = await repository();
    await repo.store.putBytes(layout.dump(SITE, s0), 'interrupted');
    const report = await pruneRepository(repo, { policy: POLICY });
    expect(report.incompleteRemoved).toEqual([s0]);
    expect(await keys(repo.store)).toEqual([]);
  });

  test('a set whose verification failed does not count as the last one kept', async () => {
    const { repo } = await repository();
    await putSet(repo, s1, []);
    await putSet(repo, s2, []);
    await putVerification(repo, s1, true);
    await putVerification(repo, s2, false);
    const report = await pruneRepository(repo, { dryRun: true, policy: POLICY });
    expect(report.kept).toEqual([{ id: s1, reasons: ['last', 'newest verified'] }]);
    expect(report.removed).toEqual([s2]);
  });

  test('kept sets are listed newest first, also when the newest verified set is newer than a monthly one', async () => {
    const { repo } = await repository();
    const october = '20261015T000000.000Z-0000aa';
    await putSet(repo, october, []);
    await putSet(repo, s2, []);
    await putSet(repo, s4, []);
    await putVerification(repo, s2, true);
    const report = await pruneRepository(repo, { dryRun: true, policy: { ...POLICY, last: 0, monthly: 2 } });
    expect(report.kept).toEqual([
      { id: s4, reasons: ['monthly'] },
      { id: s2, reasons: ['newest verified'] },
      { id: october, reasons: ['monthly'] },
    ]);
  });

  test('while a restore reads the repository, prune refuses and removes nothing; a dry run still reports', async () => {
    const { repo } = await history();
    const before = await keys(repo.store);
    const restore = await acquireRestoreLock(repo.state, SITE, 'restore');
    const error = await pruneRepository(repo, { policy: POLICY }).catch((caught) => caught);
    expect(error).toBeInstanceOf(OperationError);
    expect(error.message).toMatch(/^1 restore\(s\) or drill\(s\) of demo are reading the repository/);
    expect((await pruneRepository(repo, { dryRun: true, policy: POLICY })).removed).toEqual([s2]);
    await restore.release();
    expect(await keys(repo.store)).toEqual(before);
  });

  test('a restore that starts while prune runs is refused, naming the prune', async () => {
    const { repo } = await history();
    const store = repo.store;
    let probe: Promise<string> | undefined;
    const watched: ObjectStore = Object.assign(Object.create(store), {
      list: (prefix: string) => {
        // Once prune reads the sets (after its lock and its check for running restores).
        if (prefix === layout.setsPrefix(SITE))
          probe ??= acquireRestoreLock(store, SITE, 'restore').then(
            async (held) => {
              await held.release();
              return 'acquired';
            },
            (refused: Error) => refused.message,
          );
        return store.list(prefix);
      },
    });
    await pruneRepository({ ...repo, store: watched, state: watched }, { policy: POLICY });
    expect(await probe).toMatch(/^A prune of demo is running/);
  });

  test('an object that cannot be deleted is reported once; a store without temporary files to sweep is fine', async () => {
    const { repo } = await history();
    const store = repo.store;
    const failing: ObjectStore = Object.assign(Object.create(store), {
      delete: async (key: string) => {
        if (key === layout.dump(SITE, s2)) throw new Error('permission denied');
        return store.delete(key);
      },
      sweepTemporary: undefined,
    });
    const report = await pruneRepository({ ...repo, store: failing, state: failing }, { policy: POLICY });
    expect(report.errors).toEqual([{ object: layout.dump(SITE, s2), error: 'permission denied' }]);
    expect(report.temporaryRemoved).toBe(0);
  });
});
