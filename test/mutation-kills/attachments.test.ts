import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type BlobEndpoint,
  openBlobTarget,
  openSiteBlobs,
  UnsafeBlobError,
} from '../../backups/attachments.js';
import type { AttachmentsConfig } from '../../core/config/schema.js';
import { UsageError } from '../../core/errors.js';
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  type RunningServer,
  startAzurite,
  startS3rver,
} from '../support/storage-servers.js';

// Where attachments are read from and written to (backups/attachments.ts): the disk service's folder, laid out
// as Rails' disk service does, and a bucket or container; what is refused, and what a failed write leaves.

/** A key as Rails makes them (28 lowercase base36 characters), stored at <root>/ab/cd/<key>. */
const KEY = 'abcdefghijklmnopqrstuvwxyz01';
const NOT_PLAIN = 'the key is not a plain name (ActiveStorage keys are 28 lowercase letters and digits)';

const made: string[] = [];
async function newDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `tier4-attachments-${name}-`));
  made.push(dir);
  return dir;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const local = (path: string): AttachmentsConfig => ({ type: 'local', path });

async function unsafe(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UnsafeBlobError);
  expect((error as Error).name).toBe('UnsafeBlobError');
  return (error as Error).message;
}

describe('the disk service folder', () => {
  test('reads a blob from <root>/<key[0..1]>/<key[2..3]>/<key>, in 1 MiB chunks', async () => {
    const root = await newDir('read');
    const bytes = randomBytes(2.5 * 1024 * 1024);
    await mkdir(join(root, 'ab', 'cd'), { recursive: true });
    await writeFile(join(root, 'ab', 'cd', KEY), bytes);
    const blobs = await openSiteBlobs(local(root));
    expect(blobs.description).toBe(`folder ${root}`);
    const sizes: number[] = [];
    const read: Buffer[] = [];
    for await (const chunk of await blobs.read(KEY)) {
      sizes.push((chunk as Buffer).length);
      read.push(chunk as Buffer);
    }
    expect(Buffer.concat(read).equals(bytes)).toBe(true);
    expect(sizes).toEqual([1 << 20, 1 << 20, bytes.length - 2 * (1 << 20)]);
    await blobs.close();
  });

  test('a folder reached through a symbolic link as the root itself is read normally', async () => {
    const real = await newDir('real');
    await mkdir(join(real, 'ab', 'cd'), { recursive: true });
    await writeFile(join(real, 'ab', 'cd', KEY), 'inside');
    const link = join(await newDir('link'), 'storage');
    await symlink(real, link);
    const blobs = await openSiteBlobs(local(link));
    expect((await readAll(await blobs.read(KEY))).toString()).toBe('inside');
  });

  test('refuses a key that is not a plain name, before touching the folder', async () => {
    const root = await newDir('unsafe');
    const blobs = await openSiteBlobs(local(root));
    for (const key of ['../../etc/passwd', '/etc/passwd', 'ab/cd', '..hidden', '.x']) {
      expect(await unsafe(blobs.read(key)), key).toBe(NOT_PLAIN);
      expect(await unsafe(blobs.write(key, Readable.from([Buffer.from('x')]))), key).toBe(NOT_PLAIN);
    }
    expect(await readdir(root)).toEqual([]);
  });

  test('refuses a blob that is a symbolic link, or not a regular file; a missing one is ENOENT', async () => {
    const root = await newDir('links');
    const outside = join(await newDir('outside'), 'secret');
    await writeFile(outside, 'not an attachment');
    await mkdir(join(root, 'ab', 'cd'), { recursive: true });
    await symlink(outside, join(root, 'ab', 'cd', KEY));
    const folderKey = 'abcdefghijklmnopqrstuvwxyz02';
    await mkdir(join(root, 'ab', 'cd', folderKey));
    const blobs = await openSiteBlobs(local(root));
    expect(await unsafe(blobs.read(KEY))).toBe('the file is a symbolic link');
    expect(await unsafe(blobs.read(folderKey))).toBe('not a regular file');
    const missing = await blobs.read('abcdefghijklmnopqrstuvwxyz03').catch((error: unknown) => error);
    expect(missing).not.toBeInstanceOf(UnsafeBlobError);
    expect((missing as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  test('refuses a blob whose folder is a symbolic link leading outside the root', async () => {
    const root = await newDir('escape');
    const outside = await newDir('elsewhere');
    await mkdir(join(outside, 'cd'), { recursive: true });
    await writeFile(join(outside, 'cd', KEY), 'outside the root');
    await symlink(outside, join(root, 'ab'));
    const blobs = await openSiteBlobs(local(root));
    expect(await unsafe(blobs.read(KEY))).toBe(`the file lies outside ${root} (a symbolic link on the way)`);
  });

  test('writes a new blob (root and folders made as needed), owner and group only, and replaces an old one', async () => {
    const root = join(await newDir('write'), 'storage', 'files');
    const blobs = await openBlobTarget(root, local('/unused'));
    expect(blobs.description).toBe(`folder ${root}`);
    await blobs.write(KEY, Readable.from([Buffer.from('first')]));
    const path = join(root, 'ab', 'cd', KEY);
    expect(await readFile(path, 'utf8')).toBe('first');
    expect((await stat(path)).mode & 0o777).toBe(0o640);
    expect((await stat(join(root, 'ab'))).mode & 0o777).toBe(0o750);
    expect((await stat(join(root, 'ab', 'cd'))).mode & 0o777).toBe(0o750);
    await blobs.write(KEY, Readable.from([Buffer.from('second')]));
    expect(await readFile(path, 'utf8')).toBe('second');
    expect(await readdir(join(root, 'ab', 'cd'))).toEqual([KEY]);
    expect((await readAll(await blobs.read(KEY))).toString()).toBe('second');
  });

  test('a blob is written under a dot name beside its key and appears under the key only once verified', async () => {
    const root = await newDir('verify');
    const blobs = await openSiteBlobs(local(root));
    const seen: string[][] = [];
    await blobs.write(KEY, Readable.from([Buffer.from('checked')]), {
      verify: () => {
        // readdir is synchronous here on purpose: verify runs between the last byte and the rename.
        seen.push(requireSync().readdirSync(join(root, 'ab', 'cd')));
      },
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toHaveLength(1);
    expect(seen[0]![0]).toMatch(/^\.tier4-[0-9a-f]{12}\.tmp$/);
    expect(await readdir(join(root, 'ab', 'cd'))).toEqual([KEY]);
    expect(await readFile(join(root, 'ab', 'cd', KEY), 'utf8')).toBe('checked');
  });

  test('a failed verification or a failing body leaves nothing: no blob, no temp file', async () => {
    const root = await newDir('abandon');
    const blobs = await openSiteBlobs(local(root));
    await expect(
      blobs.write(KEY, Readable.from([Buffer.from('wrong')]), {
        verify: () => {
          throw new Error('MD5 does not match');
        },
      }),
    ).rejects.toThrow('MD5 does not match');
    const failing = new Readable({
      read() {
        this.destroy(new Error('the repository went away'));
      },
    });
    await expect(blobs.write(KEY, failing)).rejects.toThrow('the repository went away');
    expect(await readdir(join(root, 'ab', 'cd'))).toEqual([]);
  });

  test('refuses to write through a symbolic-link folder, over a file standing for a folder, or over a folder', async () => {
    const root = await newDir('hostile');
    const outside = await newDir('target');
    await symlink(outside, join(root, 'ab'));
    const blobs = await openSiteBlobs(local(root));
    expect(await unsafe(blobs.write(KEY, Readable.from([Buffer.from('x')])))).toBe(
      `${join(root, 'ab')} is a symbolic link`,
    );
    expect(await readdir(outside)).toEqual([]);

    const second = await newDir('file');
    await writeFile(join(second, 'ab'), 'a file');
    expect(
      await unsafe((await openSiteBlobs(local(second))).write(KEY, Readable.from([Buffer.from('x')]))),
    ).toBe(`${join(second, 'ab')} is not a folder`);

    const third = await newDir('dir');
    await mkdir(join(third, 'ab', 'cd', KEY), { recursive: true });
    expect(
      await unsafe((await openSiteBlobs(local(third))).write(KEY, Readable.from([Buffer.from('x')]))),
    ).toBe(`${join(third, 'ab', 'cd', KEY)} exists and is not a regular file`);
    expect(await readdir(join(third, 'ab', 'cd'))).toEqual([KEY]);
  });

  test('probe: a folder that can be made is writable; a path under a file is a usage error naming it', async () => {
    const root = await newDir('probe');
    const blobs = await openSiteBlobs(local(join(root, 'new', 'storage')));
    expect(await blobs.probe()).toBe(`folder ${join(root, 'new', 'storage')} is writable`);
    await writeFile(join(root, 'file'), 'x');
    const under = join(root, 'file', 'storage');
    const error = await (await openSiteBlobs(local(under))).probe().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      `Attachments cannot be written to folder ${under}: ${join(root, 'file')} is not a folder.`,
    );
    expect(await readdir(root)).toEqual(['file']);
  });
});

function requireSync(): typeof import('node:fs') {
  return process.getBuiltinModule('node:fs');
}

describe("openBlobTarget: a folder, or the site's own bucket or container, nothing else", () => {
  const s3: AttachmentsConfig = {
    type: 's3',
    bucket: 'primero-attachments',
    region: 'us-east-1',
    forcePathStyle: true,
  };
  const azure: AttachmentsConfig = {
    type: 'azure',
    account: 'primerostore',
    container: 'attachments',
    key: { env: 'T4_ATT_AZ_KEY' },
  } as AttachmentsConfig;
  const env = { T4_ATT_AZ_KEY: Buffer.from('not a real key').toString('base64') };

  const refused = async (spec: string, site: AttachmentsConfig) => {
    const error = await openBlobTarget(spec, site, env).catch((caught: unknown) => caught);
    expect(error, spec).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      `--attachments-to ${spec} is not a folder or the site's own attachment storage.`,
    );
    expect((error as UsageError).hint).toBe(
      "Give an absolute folder path, or the site's bucket (s3://bucket) or container (azblob://account/container).",
    );
  };

  test('an absolute path or a file:// URL is a folder', async () => {
    expect((await openBlobTarget('/srv/blobs', s3, {})).description).toBe('folder /srv/blobs');
    expect((await openBlobTarget('file:///srv/other/', s3, {})).description).toBe('folder /srv/other');
  });

  test("the site's bucket or container opens the site's storage", async () => {
    const bucket = await openBlobTarget('s3://primero-attachments', s3, {});
    expect(bucket.description).toBe('bucket primero-attachments');
    await bucket.close();
    const container = await openBlobTarget('azblob://primerostore/attachments', azure, env);
    expect(container.description).toBe('container primerostore/attachments');
    await container.close();
  });

  test('another bucket or container, a prefix, the wrong kind, or a relative path is refused', async () => {
    await refused('s3://other-bucket', s3);
    await refused('s3://primero-attachments/sub', s3);
    await refused('s3://primero-attachments', azure);
    await refused('s3://primero-attachments', local('/srv'));
    await refused('azblob://primerostore/other', azure);
    await refused('azblob://otherstore/attachments', azure);
    await refused('azblob://primerostore/attachments/sub', azure);
    await refused('azblob://primerostore/attachments', s3);
    await refused('relative/folder', s3);
    await refused('s3://UPPER', s3);
  });
});

/** The store behaviour both bucket kinds share: refusals, spooling for a verified write, probe. */
async function bucketBehaviour(
  blobs: BlobEndpoint,
  description: string,
  readRaw: (name: string) => Promise<Buffer>,
) {
  expect(blobs.description).toBe(description);
  expect(await blobs.probe()).toBe(`${description} is reachable (write access is not tested)`);
  // Unsafe keys are refused before any request.
  expect(await unsafe(blobs.read('../escape'))).toBe(NOT_PLAIN);
  expect(await unsafe(blobs.write('a/b/c/d', Readable.from([Buffer.from('x')])))).toBe(NOT_PLAIN);

  await blobs.write(KEY, Readable.from([Buffer.from('plain put')]));
  expect((await readAll(await blobs.read(KEY))).toString()).toBe('plain put');
  // Primero's storage services name each object by its blob key alone, at the top of the bucket.
  expect((await readRaw(KEY)).toString()).toBe('plain put');

  // A verified write copies the blob to a private spool file first; nothing reaches the bucket before verify.
  const spoolDir = await newDir('spool');
  const second = 'abcdefghijklmnopqrstuvwxyz04';
  let during: { files: string[]; mode: number; present: boolean } | undefined;
  await blobs.write(second, Readable.from([Buffer.from('verified')]), {
    spoolDir,
    verify: () => {
      const fs = requireSync();
      const files = fs.readdirSync(spoolDir);
      during = {
        files,
        mode: fs.statSync(join(spoolDir, files[0]!)).mode & 0o777,
        present: false,
      };
    },
  });
  expect(during?.files).toHaveLength(1);
  expect(during?.files[0]).toMatch(/^blob-[0-9a-f]{12}$/);
  expect(during?.mode).toBe(0o600);
  expect(await readdir(spoolDir)).toEqual([]);
  expect((await readAll(await blobs.read(second))).toString()).toBe('verified');

  // A failed verification puts nothing and removes the spool file.
  const third = 'abcdefghijklmnopqrstuvwxyz05';
  await expect(
    blobs.write(third, Readable.from([Buffer.from('bad')]), {
      spoolDir,
      verify: () => {
        throw new Error('MD5 does not match');
      },
    }),
  ).rejects.toThrow('MD5 does not match');
  expect(await readdir(spoolDir)).toEqual([]);
  await expect(blobs.read(third).then(readAll)).rejects.toThrow();

  // Without a spool folder, the system's temporary folder holds the copy.
  const before = new Set(await readdir(tmpdir()));
  let spooled: string[] = [];
  await blobs.write('abcdefghijklmnopqrstuvwxyz06', Readable.from([Buffer.from('tmp')]), {
    verify: () => {
      spooled = requireSync()
        .readdirSync(tmpdir())
        .filter((name) => !before.has(name));
    },
  });
  expect(spooled.filter((name) => /^blob-[0-9a-f]{12}$/.test(name))).toHaveLength(1);
  expect(await readdir(tmpdir())).not.toContain(spooled[0]);
}

describe('an S3-compatible bucket (s3rver)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startS3rver(['primero-attachments']);
  });
  afterAll(async () => server?.stop());

  test('with credentials from the environment: reads, writes, verified writes, refusals, probe', async () => {
    const config: AttachmentsConfig = {
      type: 's3',
      bucket: 'primero-attachments',
      region: 'us-east-1',
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: { env: 'T4_ATT_KEY' }, secretAccessKey: { env: 'T4_ATT_SECRET' } },
    } as AttachmentsConfig;
    const blobs = await openSiteBlobs(config, { T4_ATT_KEY: 'S3RVER', T4_ATT_SECRET: 'S3RVER' });
    const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const s3 = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await bucketBehaviour(blobs, 'bucket primero-attachments', async (name) => {
      const object = await s3.send(new GetObjectCommand({ Bucket: 'primero-attachments', Key: name }));
      return Buffer.from(await object.Body!.transformToByteArray());
    });
    s3.destroy();
    await blobs.close();
    // A missing bucket fails the probe.
    const missing = await openSiteBlobs({ ...config, bucket: 'no-such-bucket' } as AttachmentsConfig, {
      T4_ATT_KEY: 'S3RVER',
      T4_ATT_SECRET: 'S3RVER',
    });
    await expect(missing.probe()).rejects.toThrow();
    await missing.close();
  });
});

describe('an Azure Blob container (Azurite)', () => {
  let server: RunningServer;
  let container: import('@azure/storage-blob').ContainerClient;
  beforeAll(async () => {
    server = await startAzurite();
    const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
    container = new BlobServiceClient(
      server.endpoint,
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).getContainerClient('attachments');
    await container.create();
  });
  afterAll(async () => server?.stop());

  test('with the account key from the environment: reads, writes, verified writes, refusals, probe', async () => {
    const config = {
      type: 'azure',
      account: AZURITE_ACCOUNT,
      container: 'attachments',
      key: { env: 'T4_ATT_AZ_KEY' },
      endpoint: server.endpoint,
    } as AttachmentsConfig;
    const blobs = await openSiteBlobs(config, { T4_ATT_AZ_KEY: AZURITE_KEY });
    await bucketBehaviour(blobs, `container ${AZURITE_ACCOUNT}/attachments`, (name) =>
      container.getBlobClient(name).downloadToBuffer(),
    );
    await blobs.close();
    const wrongKey = await openSiteBlobs(config, { T4_ATT_AZ_KEY: Buffer.from('wrong').toString('base64') });
    await expect(wrongKey.probe()).rejects.toThrow();
    await wrongKey.close();
  });
});

afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});
