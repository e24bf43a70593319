import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { acquireLock } from '../../backups/lock.js';
import { AzureStore } from '../../backups/store/azure-store.js';
import { FileStore } from '../../backups/store/file-store.js';
import { openRepositoryStore } from '../../backups/store/open-store.js';
import type { RetryInfo, StoreRetry } from '../../backups/store/retry.js';
import { S3Store } from '../../backups/store/s3-store.js';
import { InvalidKeyError, ObjectNotFoundError, type ObjectStore } from '../../backups/store/types.js';
import { unreachableRepository } from '../../backups/store/unreachable.js';
import type { BackupsConfig } from '../../core/config/schema.js';
import { OperationError } from '../../core/errors.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { ImmutableStore } from '../support/immutable-store.js';
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  type RunningServer,
  startAzurite,
  startS3rver,
} from '../support/storage-servers.js';

/**
 * One contract (backups/store/types.ts), run against every store: the file store, S3 (s3rver), Azure Blob
 * (Azurite) and an Azure container under an immutability policy (the double in test/support). The network
 * stores are reached through a fault-injecting proxy, which also counts requests: "refused before any I/O"
 * and "not retried" are measured there. Where real stores differ (listing order, overwrite under WORM) the
 * subject says so and the case checks what that store's real counterpart does.
 */
interface Subject {
  /** A store on a fresh, empty namespace (its own folder or prefix). */
  open(retry?: StoreRetry): Promise<ObjectStore>;
  /** The network between us and the store, when there is one. */
  proxy?: FaultProxy;
  /** Stored objects refuse overwrite and delete (WORM). */
  immutable?: boolean;
  /** Lists in key order, as S3 (UTF-8 binary order) and Azure (lexical order) document. */
  orderedListing?: boolean;
  /**
   * The server (not its real counterpart) shows an object while its PUT is still arriving: s3rver writes
   * the object file in place, where AWS "never adds partial objects" (S3 API reference, PutObject).
   */
  serverShowsPartialWrites?: boolean;
  /** A streamed body that crosses the store's part or block size. */
  streamBytes: number;
  /** The same kind of repository, opened from its configuration, at an endpoint where nothing listens. */
  unreachable?(retry: StoreRetry): Promise<{ store: ObjectStore; backups: BackupsConfig }>;
  /** A store whose bucket or container does not exist. */
  openMissingContainer?(): Promise<ObjectStore>;
  /** A store whose every write the server refuses with a 4xx (a wrong key, a missing bucket). */
  openRefused?(): Promise<ObjectStore>;
}

const HOSTILE_KEYS = [
  '',
  '..',
  '../escape',
  'a/../../escape',
  '/etc/passwd',
  'a\\..\\escape',
  'nul\u0000byte',
  'a//b',
  'trailing/',
  './a',
  'a/.tmp-123-x',
];

async function streamBytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** A stream that sends `body` in uneven chunks (as an encrypting pipeline does). */
function chunked(body: Buffer): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (at >= body.length) return this.push(null);
      const size = 1000 + Math.floor(Math.random() * 70_000);
      this.push(body.subarray(at, at + size));
      at += size;
    },
  });
}

/** A stream that sends `bytes` and then fails: an upload interrupted halfway. */
function failingAfter(bytes: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(randomBytes(bytes));
      } else this.destroy(new Error('source failed halfway'));
    },
  });
}

async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  const listed: string[] = [];
  for await (const object of store.list(prefix)) listed.push(object.key);
  return listed;
}

/** What a store is, known before its server starts (vitest collects tests before beforeAll runs). */
interface Traits {
  immutable?: boolean;
  network?: boolean;
}

function conformance(name: string, traits: Traits, subject: () => Subject) {
  describe(`${name}: the store contract`, () => {
    test('streams and bytes round-trip exactly, across part/block boundaries, empty objects too', async () => {
      const s = subject();
      const store = await s.open();
      const big = randomBytes(s.streamBytes);
      await store.put('sets/one/dump.age', chunked(big));
      expect((await streamBytes(await store.get('sets/one/dump.age'))).equals(big)).toBe(true);
      expect(await store.head('sets/one/dump.age')).toBe(big.length);

      await store.put('sets/one/empty', Readable.from([]));
      expect(await store.head('sets/one/empty')).toBe(0);
      expect((await store.getBytes('sets/one/empty'))?.length).toBe(0);

      const small = randomBytes(1234);
      await store.putBytes('sets/one/manifest.json', small);
      expect((await store.getBytes('sets/one/manifest.json'))?.equals(small)).toBe(true);
      await store.putBytes('text', 'héllo');
      expect((await store.getBytes('text'))?.toString('utf8')).toBe('héllo');
      expect(await store.head('text')).toBe(Buffer.byteLength('héllo'));
      await store.close();
    });

    test('an upload that fails halfway leaves no object behind', async () => {
      const s = subject();
      const store = await s.open();
      await expect(store.put('sets/two/dump.age', failingAfter(s.streamBytes))).rejects.toThrow();
      expect(await store.head('sets/two/dump.age')).toBeUndefined();
      expect(await keys(store, '')).toEqual([]);
      await store.close();
    });

    test('a missing object: get throws the typed not-found error; getBytes, head answer undefined; delete succeeds', async () => {
      const s = subject();
      const store = await s.open();
      const error = await store.get('sets/none/dump.age').catch((e) => e);
      expect(error).toBeInstanceOf(ObjectNotFoundError);
      expect(error.key).toBe('sets/none/dump.age');
      expect(error.message).toContain('does not exist in');
      expect(await store.getBytes('sets/none/manifest.json')).toBeUndefined();
      expect(await store.head('sets/none/manifest.json')).toBeUndefined();
      await expect(store.delete('deep/folder/that/never/was')).resolves.toBeUndefined();
      await store.close();
    });

    test(
      traits.immutable === true
        ? 'an existing object refuses overwrite and delete: 409 BlobImmutableDueToPolicy'
        : 'putBytes replaces, delete removes',
      async () => {
        const s = subject();
        const store = await s.open();
        await store.putBytes('locks/backup.json', 'first');
        if (s.immutable) {
          for (const attempt of [
            () => store.putBytes('locks/backup.json', 'second'),
            () => store.put('locks/backup.json', Readable.from([Buffer.from('second')])),
            () => store.delete('locks/backup.json'),
          ]) {
            const error = await attempt().catch((e) => e);
            expect(error).toMatchObject({ statusCode: 409, code: 'BlobImmutableDueToPolicy' });
          }
          expect((await store.getBytes('locks/backup.json'))?.toString()).toBe('first');
        } else {
          await store.putBytes('locks/backup.json', 'second');
          expect((await store.getBytes('locks/backup.json'))?.toString()).toBe('second');
          await store.delete('locks/backup.json');
          expect(await store.head('locks/backup.json')).toBeUndefined();
          expect(await keys(store, 'locks/')).toEqual([]);
        }
        await store.close();
      },
    );

    test('createExclusive creates once, never replaces, and a repeat of the same create is not a refusal', async () => {
      const s = subject();
      const store = await s.open();
      expect(await store.createExclusive('locks/backup.json', 'mine')).toBe(true);
      expect(await store.createExclusive('locks/backup.json', 'theirs')).toBe(false);
      expect((await store.getBytes('locks/backup.json'))?.toString()).toBe('mine');
      // Same key, same bytes: our own create whose answer was lost and was sent again.
      expect(await store.createExclusive('locks/backup.json', 'mine')).toBe(true);
      expect((await store.getBytes('locks/backup.json'))?.toString()).toBe('mine');
      await store.close();
    });

    test('a reader during createExclusive sees nothing or the whole object, never part of it', async () => {
      const s = subject();
      const store = await s.open();
      const body = randomBytes(s.streamBytes);
      let done = false;
      const seen: number[] = [];
      const reader = (async () => {
        while (!done) {
          const bytes = await store.getBytes('locks/big.json');
          if (bytes) seen.push(bytes.equals(body) ? -1 : bytes.length);
        }
      })();
      expect(await store.createExclusive('locks/big.json', body)).toBe(true);
      done = true;
      await reader;
      if (!s.serverShowsPartialWrites) expect(seen.filter((n) => n !== -1)).toEqual([]); // -1: the whole object
      expect((await store.getBytes('locks/big.json'))?.equals(body)).toBe(true);
      await store.close();
    });

    test('of eight concurrent creators exactly one wins, and its bytes are what is stored', async () => {
      const s = subject();
      const store = await s.open();
      const bodies = Array.from({ length: 8 }, (_, i) => `writer ${i} ${randomBytes(8).toString('hex')}`);
      const won = await Promise.all(bodies.map((body) => store.createExclusive('locks/race.json', body)));
      expect(won.filter(Boolean)).toHaveLength(1);
      expect((await store.getBytes('locks/race.json'))?.toString()).toBe(bodies[won.indexOf(true)]);
      await store.close();
    });

    test.skipIf(traits.immutable === true)(
      'of six processes taking the repository lock at once, exactly one holds it',
      async () => {
        const s = subject();
        const store = await s.open();
        const attempts = await Promise.allSettled(
          Array.from({ length: 6 }, () => acquireLock(store, 'site', 'backup')),
        );
        const held = attempts.filter((a) => a.status === 'fulfilled');
        expect(held).toHaveLength(1);
        for (const refused of attempts.filter((a) => a.status === 'rejected'))
          expect(String((refused as PromiseRejectedResult).reason)).toMatch(
            /is locked by a backup|keeps taking it/,
          );
        await (held[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
        await store.close();
      },
    );

    test('listing: every object below a folder prefix exactly once, across pages, with sizes', async () => {
      const s = subject();
      const store = await s.open();
      const objects: Record<string, number> = {
        'a/1': 1,
        'a/b/2': 2,
        'a/b/c/3': 3,
        // s3rver sorts '/' before '-' but resumes a page in binary order, so 'a-b/4' after a page ending in
        // 'a/b/c/3' would be skipped (AWS lists in UTF-8 binary order): '_' sorts after '/' either way.
        'a_b/4': 4,
        'ab/5': 5,
        'B/6': 6,
      };
      for (let i = 0; i < 11; i += 1) objects[`page/${String(i).padStart(2, '0')}`] = 10 + i;
      for (const [key, size] of Object.entries(objects)) await store.putBytes(key, randomBytes(size));

      const listed = new Map<string, number>();
      const all: string[] = [];
      for await (const object of store.list('')) {
        all.push(object.key);
        listed.set(object.key, object.size);
      }
      expect(all).toHaveLength(Object.keys(objects).length); // none twice
      expect(Object.fromEntries(listed)).toEqual(objects);
      if (s.orderedListing) expect(all).toEqual(Object.keys(objects).sort());

      expect((await keys(store, 'a/')).sort()).toEqual(['a/1', 'a/b/2', 'a/b/c/3']);
      expect((await keys(store, 'a/b/')).sort()).toEqual(['a/b/2', 'a/b/c/3']);
      const page = await keys(store, 'page/');
      expect(page.sort()).toEqual(Object.keys(objects).filter((k) => k.startsWith('page/')));
      expect(await keys(store, 'nothing/here/')).toEqual([]);
      // A prefix names a folder: 'a' alone would also match a_b/ and ab/ on S3 and Azure, but not on disk.
      await expect(keys(store, 'a')).rejects.toBeInstanceOf(InvalidKeyError);
      await store.close();
    });

    test('hostile keys are refused with InvalidKeyError, by every operation, before any I/O', async () => {
      const s = subject();
      const store = await s.open();
      const before = s.proxy?.requests;
      for (const key of HOSTILE_KEYS) {
        const operations: Array<[string, () => Promise<unknown>]> = [
          ['put', () => store.put(key, Readable.from([Buffer.from('x')]))],
          ['putBytes', () => store.putBytes(key, 'x')],
          ['createExclusive', () => store.createExclusive(key, 'x')],
          ['get', () => store.get(key)],
          ['getBytes', () => store.getBytes(key)],
          ['head', () => store.head(key)],
          ['delete', () => store.delete(key)],
        ];
        for (const [operation, run] of operations) {
          const error = await run().then(
            () => undefined,
            (e) => e,
          );
          expect(error, `${operation}(${JSON.stringify(key)})`).toBeInstanceOf(InvalidKeyError);
        }
      }
      for (const prefix of ['/', '../', 'a/../', 'a\\b/', 'a//', '\u0000/'])
        await expect(keys(store, prefix), JSON.stringify(prefix)).rejects.toBeInstanceOf(InvalidKeyError);
      if (s.proxy) expect(s.proxy.requests).toBe(before);
      expect(await keys(store, '')).toEqual([]);
      await store.close();
    });

    test.runIf(traits.network === true)(
      '503s and resets are retried by the one retry layer, each retry reported; the objects are exact',
      async () => {
        const s = subject();
        const retries: RetryInfo[] = [];
        const store = await s.open({ attempts: 5, baseDelayMs: 5, onRetry: (info) => retries.push(info) });
        const proxy = s.proxy!;
        const big = randomBytes(s.streamBytes);
        proxy.injected = 0;
        proxy.plan = { failEvery: 3, resetEvery: 7 };
        try {
          await store.put('sets/three/dump.age', chunked(big));
          for (let i = 0; i < 6; i += 1) await store.putBytes(`sets/three/blob-${i}`, `blob ${i}`);
        } finally {
          proxy.plan = {};
        }
        expect(proxy.injected).toBeGreaterThanOrEqual(3);
        // Exactly one retry per injected fault: no second layer retries on top of the SDK's.
        expect(retries).toHaveLength(proxy.injected);
        expect(retries.every((r) => r.attempt >= 2 && r.attempts === 5)).toBe(true);
        expect(retries.map((r) => r.reason).join(' ')).toMatch(
          /503|SlowDown|ECONNRESET|socket|REQUEST_SEND_ERROR/i,
        );
        expect((await streamBytes(await store.get('sets/three/dump.age'))).equals(big)).toBe(true);
        for (let i = 0; i < 6; i += 1)
          expect((await store.getBytes(`sets/three/blob-${i}`))?.toString()).toBe(`blob ${i}`);
        await store.close();
      },
    );

    test.runIf(traits.network === true)(
      'a create whose answer is lost is retried and still counts as created',
      async () => {
        const s = subject();
        const store = await s.open({ attempts: 3, baseDelayMs: 5 });
        const proxy = s.proxy!;
        proxy.injected = 0;
        proxy.writes = 0;
        proxy.plan = { loseAnswerEvery: 1 };
        // The first write reaches the store, its answer is lost; the retry finds the object there.
        const created = store.createExclusive('locks/backup.json', 'mine');
        const lift = setInterval(() => {
          if (proxy.injected > 0) proxy.plan = {};
        }, 1);
        try {
          expect(await created).toBe(true);
        } finally {
          clearInterval(lift);
          proxy.plan = {};
        }
        expect(proxy.injected).toBe(1);
        expect((await store.getBytes('locks/backup.json'))?.toString()).toBe('mine');
        await store.close();
      },
    );

    test.runIf(traits.network === true)(
      'an unreachable endpoint: every try is reported, then one clear error naming where',
      async () => {
        const s = subject();
        const retries: RetryInfo[] = [];
        const { store, backups } = await s.unreachable!({
          attempts: 3,
          baseDelayMs: 5,
          onRetry: (info) => retries.push(info),
        });
        const error = await store.putBytes('x', 'y').catch((e) => e);
        expect(retries.map((r) => r.attempt)).toEqual([2, 3]);
        expect(retries.every((r) => r.attempts === 3)).toBe(true);
        expect(retries.map((r) => r.reason).join(' ')).toMatch(/ECONNREFUSED|REQUEST_SEND_ERROR/);
        const clear = unreachableRepository(error, backups, store.location);
        expect(clear).toBeInstanceOf(OperationError);
        expect((clear as Error).message).toContain(`cannot be reached at ${UNREACHABLE}`);
        await store.close();
      },
    );

    test.runIf(traits.network === true)(
      'a missing bucket or container is an error, never an absent object or an empty listing',
      async () => {
        const store = await subject().openMissingContainer!();
        const read = await store.getBytes('locks/backup.json').catch((e) => e);
        expect(read).toBeInstanceOf(Error);
        expect(read).not.toBeInstanceOf(ObjectNotFoundError);
        const streamed = await store.get('sets/one/dump.age').catch((e) => e);
        expect(streamed).toBeInstanceOf(Error);
        expect(streamed).not.toBeInstanceOf(ObjectNotFoundError);
        await expect(keys(store, '')).rejects.toThrow();
        await store.close();
      },
    );

    test.runIf(traits.network === true)(
      'what cannot pass is not retried: a refused write and a missing object take one request each',
      async () => {
        const s = subject();
        const retries: RetryInfo[] = [];
        const store = await s.open({ attempts: 5, baseDelayMs: 5, onRetry: (info) => retries.push(info) });
        const proxy = s.proxy!;
        let before = proxy.requests;
        await expect(store.get('missing')).rejects.toBeInstanceOf(ObjectNotFoundError);
        expect(proxy.requests - before).toBe(1);
        await store.close();

        const wrong = await s.openRefused!();
        before = proxy.requests;
        const error = await wrong.putBytes('x', 'y').catch((e) => e);
        const status = error?.$metadata?.httpStatusCode ?? error?.statusCode;
        expect(status >= 400 && status < 500, `status ${status}`).toBe(true);
        expect(proxy.requests - before).toBe(1);
        expect(retries).toEqual([]);
        await wrong.close();
      },
    );
  });
}

/** Nothing listens on port 1. */
const UNREACHABLE = 'http://127.0.0.1:1';

/** A repository opened the way the commands open it: from (part of) a site's backups configuration. */
async function fromConfig(backups: Record<string, unknown>, retry: StoreRetry) {
  const config = backups as unknown as BackupsConfig;
  const env = { KEY_ID: 'S3RVER', SECRET: AZURITE_KEY };
  return { store: await openRepositoryStore(config, env, config.repository, retry), backups: config };
}

let counter = 0;
const fresh = () => `t${++counter}-${randomBytes(3).toString('hex')}`;

// --- the file store ---
let fileRoot: string;
let fileParent: string;
const fileSubject = (): Subject => ({
  streamBytes: 3 * 1024 * 1024 + 17, // beyond the read stream's 1 MiB chunks
  open: async () => new FileStore(join(fileRoot, fresh())),
});

// --- S3 on s3rver, behind a proxy that adds AWS's conditional writes (s3rver ignores If-None-Match) ---
let s3: RunningServer;
let s3Proxy: FaultProxy;
const s3Options = (prefix: string, retry: StoreRetry) => ({
  bucket: 'conformance',
  prefix,
  region: 'us-east-1',
  endpoint: s3Proxy.endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  partSize: 5 * 1024 * 1024, // S3's smallest part
  listPageSize: 4,
  retry,
});
const s3Subject = (): Subject => {
  const prefix = `repo/${fresh()}`;
  return {
    proxy: s3Proxy,
    orderedListing: true,
    serverShowsPartialWrites: true,
    streamBytes: 11 * 1024 * 1024, // three parts
    open: (retry = {}) => S3Store.open(s3Options(prefix, retry)),
    unreachable: (retry) =>
      fromConfig(
        {
          repository: `s3://conformance/${prefix}`,
          s3: {
            region: 'us-east-1',
            endpoint: UNREACHABLE,
            forcePathStyle: true,
            credentials: { accessKeyId: { env: 'KEY_ID' }, secretAccessKey: { env: 'SECRET' } },
          },
        },
        retry,
      ),
    openMissingContainer: () => S3Store.open({ ...s3Options(prefix, {}), bucket: 'no-such-bucket' }),
    // s3rver checks no signature, so a wrong secret would pass: a missing bucket (404 NoSuchBucket) instead.
    openRefused: () => S3Store.open({ ...s3Options(prefix, {}), bucket: 'no-such-bucket' }),
  };
};

// --- Azure Blob on Azurite ---
let azurite: RunningServer;
let azureProxy: FaultProxy;
const azureOptions = (prefix: string, retry: StoreRetry) => ({
  account: AZURITE_ACCOUNT,
  container: 'conformance',
  prefix,
  endpoint: `${azureProxy.endpoint}/${AZURITE_ACCOUNT}`,
  accountKey: AZURITE_KEY,
  blockSize: 256 * 1024,
  listPageSize: 4,
  retry: { baseDelayMs: 5, ...retry },
});
const azureSubject = (): Subject => {
  const prefix = `repo/${fresh()}`;
  return {
    proxy: azureProxy,
    orderedListing: true,
    streamBytes: 1024 * 1024 + 3, // five blocks
    open: (retry = {}) => AzureStore.open(azureOptions(prefix, retry)),
    unreachable: (retry) =>
      fromConfig(
        {
          repository: `azblob://${AZURITE_ACCOUNT}/conformance/${prefix}`,
          azure: { endpoint: `${UNREACHABLE}/${AZURITE_ACCOUNT}`, key: { env: 'SECRET' } },
        },
        retry,
      ),
    openMissingContainer: () =>
      AzureStore.open({ ...azureOptions(prefix, {}), container: 'no-such-container' }),
    openRefused: () =>
      AzureStore.open({
        ...azureOptions(prefix, {}),
        accountKey: Buffer.from('not the key').toString('base64'),
      }),
  };
};

// --- an Azure container under a time-based immutability policy: the double, over Azurite ---
const immutableSubject = (): Subject => {
  const prefix = `worm/${fresh()}`;
  return {
    immutable: true,
    orderedListing: true,
    streamBytes: 1024 * 1024 + 3,
    open: async (retry = {}) => new ImmutableStore(await AzureStore.open(azureOptions(prefix, retry))),
  };
};

beforeAll(async () => {
  fileParent = await mkdtemp(join(tmpdir(), 'tier4-conformance-'));
  fileRoot = join(fileParent, 'root');
  await mkdir(fileRoot);
  [s3, azurite] = await Promise.all([startS3rver(['conformance']), startAzurite()]);
  s3Proxy = await startFaultProxy(s3.endpoint, {}, { conditionalWrites: true });
  azureProxy = await startFaultProxy(azurite.endpoint.replace(/\/[^/]+$/, ''), {});
  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  await new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY))
    .getContainerClient('conformance')
    .create();
}, 60_000);

afterAll(async () => {
  await s3Proxy?.stop();
  await azureProxy?.stop();
  await Promise.all([s3?.stop(), azurite?.stop()]);
  if (fileParent) await rm(fileParent, { recursive: true, force: true });
});

conformance('file store', {}, fileSubject);
conformance('S3 (s3rver)', { network: true }, s3Subject);
conformance('Azure Blob (Azurite)', { network: true }, azureSubject);
conformance('Azure container under an immutability policy (double)', { immutable: true }, immutableSubject);

describe('the file store never leaves its root', () => {
  test('a hostile key touches nothing outside the root, and nothing at all', async () => {
    const store = new FileStore(fileRoot);
    for (const key of HOSTILE_KEYS) await store.putBytes(key, 'x').catch(() => undefined);
    expect(await readdir(fileParent)).toEqual(['root']);
  });

  test('a symbolic link to a folder elsewhere, planted in the repository, takes no write or delete', async () => {
    const root = join(fileParent, fresh());
    const outside = join(fileParent, fresh());
    await mkdir(root);
    await mkdir(outside);
    await writeFile(join(outside, 'precious'), 'keep me');
    await symlink(outside, join(root, 'site'));
    const store = new FileStore(root);
    await expect(store.putBytes('site/planted', 'x')).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.put('site/planted', Readable.from([Buffer.from('x')]))).rejects.toBeInstanceOf(
      InvalidKeyError,
    );
    await expect(store.createExclusive('site/planted', 'x')).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.delete('site/precious')).rejects.toBeInstanceOf(InvalidKeyError);
    expect(await readdir(outside)).toEqual(['precious']);
    expect(await readFile(join(outside, 'precious'), 'utf8')).toBe('keep me');
  });
});
