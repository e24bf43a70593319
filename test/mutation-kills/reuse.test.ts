import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Catalog, CatalogEntry } from '../../backups/catalog.js';
import { layout } from '../../backups/layout.js';
import type { BlobRecord, Manifest } from '../../backups/manifest.js';
import { planReuse } from '../../backups/reuse.js';
import { FileStore } from '../../backups/store/file-store.js';
import type { ObjectStore } from '../../backups/store/types.js';

// Which stored attachments a new backup may reuse (backups/reuse.ts), over a real file:// store: never a copy
// that no longer matches its record, and every reused copy read back about once a month.

const SITE = 'demo';
const DAY = 86_400_000;

async function newStore(): Promise<FileStore> {
  return new FileStore(await mkdtemp(join(tmpdir(), 'tier4-reuse-')));
}

/** Stores an attachment's encrypted copy and returns the record a set would keep of it. */
async function stored(
  store: ObjectStore,
  key: string,
  bytes = randomBytes(64),
  variant?: string,
): Promise<BlobRecord> {
  const object = layout.blob(SITE, key, variant);
  await store.putBytes(object, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { object, size: bytes.length, sha256, key, plainSize: 40, checksum: null };
}

/** A catalog of complete sets, oldest first, each recording these attachments (and these problems). */
function catalogOf(...sets: Array<{ blobs: BlobRecord[]; mismatched?: string[] }>): Catalog {
  const complete = sets.map(
    ({ blobs, mismatched = [] }, index): CatalogEntry => ({
      id: `2026110${index + 1}T000000.000Z-00000${index}`,
      time: new Date(Date.UTC(2026, 10, index + 1)),
      objects: [],
      manifest: {
        attachments: { blobs, problems: mismatched.map((key) => ({ key, problem: 'checksum-mismatch' })) },
      } as unknown as Manifest,
    }),
  );
  return { complete, incomplete: [], invalid: [], warnings: [] };
}

describe('planReuse', () => {
  test('sound copies are reusable by key; every object under the blobs prefix is present', async () => {
    const store = await newStore();
    const a = await stored(store, 'blobaaaa');
    const b = await stored(store, 'blobbbbb');
    const stranger = await stored(store, 'strangerkey');
    const plan = await planReuse(store, SITE, catalogOf({ blobs: [a, b] }), { now: new Date(0) });
    expect([...plan.reusable.entries()].sort()).toEqual([
      ['blobaaaa', a],
      ['blobbbbb', b],
    ]);
    expect([...plan.present].sort()).toEqual([a.object, b.object, stranger.object].sort());
    expect(plan.damaged).toEqual([]);
  });

  test('fresh: nothing is reused, but the present names are still known', async () => {
    const store = await newStore();
    const a = await stored(store, 'blobaaaa');
    const plan = await planReuse(store, SITE, catalogOf({ blobs: [a] }), { fresh: true });
    expect(plan.reusable.size).toBe(0);
    expect([...plan.present]).toEqual([a.object]);
    expect(plan.damaged).toEqual([]);
  });

  test('a recorded copy that is gone is not reused, and is reported once', async () => {
    const store = await newStore();
    const a = await stored(store, 'blobaaaa');
    await store.delete(a.object);
    const plan = await planReuse(store, SITE, catalogOf({ blobs: [a] }, { blobs: [a] }));
    expect(plan.reusable.size).toBe(0);
    expect(plan.damaged).toEqual([{ object: a.object, problem: 'no longer in the repository' }]);
  });

  test('a copy of another size is damaged, reported once even when two keys name it', async () => {
    const store = await newStore();
    const a = await stored(store, 'blobaaaa');
    await store.putBytes(a.object, randomBytes(10));
    const twin = { ...a, key: 'blobtwin' };
    const plan = await planReuse(store, SITE, catalogOf({ blobs: [a, twin] }));
    expect(plan.reusable.size).toBe(0);
    expect(plan.damaged).toEqual([{ object: a.object, problem: 'stored size 10, recorded 64' }]);
  });

  test('a copy of the right size with other bytes is damaged and not reused', async () => {
    const store = await newStore();
    const a = await stored(store, 'blobaaaa');
    const b = await stored(store, 'blobbbbb');
    await store.putBytes(a.object, randomBytes(64));
    const plan = await planReuse(store, SITE, catalogOf({ blobs: [a, b] }));
    expect([...plan.reusable.keys()]).toEqual(['blobbbbb']);
    expect(plan.damaged).toEqual([{ object: a.object, problem: 'stored SHA-256 does not match its record' }]);
  });

  test('a copy that cannot be read back is damaged, with the reason', async () => {
    const store = await newStore();
    const a = await stored(store, 'blobaaaa');
    const failing: ObjectStore = Object.assign(Object.create(store), {
      get: async () => {
        throw new Error('connection reset');
      },
    });
    const plan = await planReuse(failing, SITE, catalogOf({ blobs: [a] }));
    expect(plan.reusable.size).toBe(0);
    expect(plan.damaged).toEqual([{ object: a.object, problem: 'cannot be read: connection reset' }]);
  });

  test('an attachment whose source failed its checksum is read again from the source, not reused', async () => {
    const store = await newStore();
    const a = await stored(store, 'blobaaaa');
    const b = await stored(store, 'blobbbbb');
    const plan = await planReuse(store, SITE, catalogOf({ blobs: [a, b], mismatched: ['blobaaaa'] }));
    expect([...plan.reusable.keys()]).toEqual(['blobbbbb']);
    expect(plan.damaged).toEqual([]);
  });

  test("the newest set's record of a key wins", async () => {
    const store = await newStore();
    const older = await stored(store, 'blobaaaa');
    const newer = await stored(store, 'blobaaaa', randomBytes(80), 'v2');
    const plan = await planReuse(store, SITE, catalogOf({ blobs: [older] }, { blobs: [newer] }));
    expect(plan.reusable.get('blobaaaa')).toEqual(newer);
  });

  test('read-back is a rolling sample in name order: 8 a day at least, wrapping, all of them within a month', async () => {
    const store = await newStore();
    const records: BlobRecord[] = [];
    for (let i = 0; i < 12; i += 1) records.push(await stored(store, `blob${String(i).padStart(4, '0')}`));
    // Every copy altered in place (same size): a copy is reported exactly when it is read back.
    for (const record of records) await store.putBytes(record.object, randomBytes(record.size));
    const catalog = catalogOf({ blobs: records });
    const readOn = async (day: number) =>
      (await planReuse(store, SITE, catalog, { now: new Date(day * DAY + 5000) })).damaged.map(
        (d) => d.object,
      );
    const names = records.map((record) => record.object).sort();
    expect((await readOn(0)).sort()).toEqual(names.slice(0, 8));
    expect((await readOn(1)).sort()).toEqual([...names.slice(8), ...names.slice(0, 4)].sort());
  });

  test('with many copies, a thirtieth of them a day: every copy is read within 30 days', async () => {
    const store = await newStore();
    const records: BlobRecord[] = [];
    for (let i = 0; i < 250; i += 1)
      records.push(await stored(store, `blob${String(i).padStart(4, '0')}`, randomBytes(8)));
    for (const record of records) await store.putBytes(record.object, randomBytes(record.size));
    const catalog = catalogOf({ blobs: records });
    const seen = new Set<string>();
    for (let day = 0; day < 28; day += 1) {
      const read = (await planReuse(store, SITE, catalog, { now: new Date(day * DAY) })).damaged;
      expect(read).toHaveLength(9); // ceil(250 / 30)
      for (const { object } of read) seen.add(object);
    }
    expect(seen.size).toBe(250);
  });

  test('the sample follows object names, not the order the sets list them in', async () => {
    const store = await newStore();
    const records: BlobRecord[] = [];
    for (let i = 0; i < 12; i += 1) records.push(await stored(store, `blob${String(i).padStart(4, '0')}`));
    for (const record of records) await store.putBytes(record.object, randomBytes(record.size));
    const plan = await planReuse(store, SITE, catalogOf({ blobs: [...records].reverse() }), {
      now: new Date(0),
    });
    const names = records.map((record) => record.object).sort();
    expect(plan.damaged.map((d) => d.object).sort()).toEqual(names.slice(0, 8));
  });

  test('a copy of another size is damaged even on a day the sample does not read it', async () => {
    const store = await newStore();
    const records: BlobRecord[] = [];
    for (let i = 0; i < 12; i += 1) records.push(await stored(store, `blob${String(i).padStart(4, '0')}`));
    const last = records[11]!;
    await store.putBytes(last.object, randomBytes(10));
    const plan = await planReuse(store, SITE, catalogOf({ blobs: records }), { now: new Date(0) });
    expect(plan.damaged).toEqual([{ object: last.object, problem: 'stored size 10, recorded 64' }]);
    expect(plan.reusable.has(last.key)).toBe(false);
    expect(plan.reusable.size).toBe(11);
  });
});
