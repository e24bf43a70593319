import { randomBytes } from 'node:crypto';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseRepositoryUrl } from '../core/config/repository-url.js';
import type { AttachmentsConfig } from '../core/config/schema.js';
import { UsageError } from '../core/errors.js';
import { diskBlobPath, unsafeBlobKey } from '../core/primero/tables.js';
import { resolveSecret } from '../core/secrets.js';
import { folderProblem } from '../core/writable.js';
import type { ObjectStore } from './store/types.js';

/**
 * Where Primero's ActiveStorage blobs are read from (backup) or written to (restore): the disk service's folder
 * (as mounted in the pod), or the bucket/container of the amazon, minio or microsoft service, keyed by blob key.
 */
export interface BlobEndpoint {
  readonly description: string;
  /** Refuses (UnsafeBlobError) a key that is not a plain name, or a file reached through a symbolic link. */
  read(key: string): Promise<Readable>;
  write(key: string, body: Readable, options?: WriteOptions): Promise<void>;
  /** For a dry run: what a write would need, checked without writing; throws a UsageError saying what is wrong. */
  probe(): Promise<string>;
  close(): Promise<void>;
}

/** A blob that must not be read or written: its key is not a plain name, or its path leaves the folder. */
export class UnsafeBlobError extends Error {
  override readonly name = 'UnsafeBlobError';
}

/** What a write may be asked to do before the blob becomes visible under its key. */
export interface WriteOptions {
  /** Called once every byte is written and before it is committed; throwing abandons the write. */
  verify?: () => void;
  /** A private folder where a target that cannot stage in place (a bucket) copies the blob first. */
  spoolDir?: string;
}

class DiskBlobs implements BlobEndpoint {
  readonly description: string;
  constructor(private readonly root: string) {
    this.description = `folder ${root}`;
  }

  private segments(key: string): [string, string, string] {
    const problem = unsafeBlobKey(key);
    if (problem) throw new UnsafeBlobError(problem);
    const [a, b] = diskBlobPath(key).split('/');
    return [a!, b!, key];
  }

  /** Opens without following a symlink at the end, then checks where the open file really is. */
  async read(key: string): Promise<Readable> {
    const path = join(this.root, ...this.segments(key));
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch((error) => {
      if ((error as NodeJS.ErrnoException).code === 'ELOOP')
        throw new UnsafeBlobError('the file is a symbolic link');
      throw error;
    });
    try {
      if (!(await handle.stat()).isFile()) throw new UnsafeBlobError('not a regular file');
      const root = await realpath(this.root);
      if (!isInside(root, await openedPath(handle.fd, path)))
        throw new UnsafeBlobError(`the file lies outside ${this.root} (a symbolic link on the way)`);
    } catch (error) {
      await handle.close();
      throw error;
    }
    return handle.createReadStream({ highWaterMark: 1 << 20 });
  }

  /**
   * Writes inside the folder only: its two sub-folders must be real folders (never symbolic links), and the
   * blob goes to a new temp file beside its final name, renamed into place once verified.
   */
  async write(key: string, body: Readable, options: WriteOptions = {}): Promise<void> {
    const [a, b] = this.segments(key);
    await mkdir(this.root, { recursive: true });
    const root = await realpath(this.root);
    const folder = await plainFolder(await plainFolder(root, a), b);
    const final = join(folder, key);
    const existing = await lstat(final).catch(() => undefined);
    if (existing && !existing.isFile())
      throw new UnsafeBlobError(`${final} exists and is not a regular file`);
    // Keys never start with a dot, so this name cannot be a blob's.
    const temp = join(folder, `.tier4-${randomBytes(6).toString('hex')}.tmp`);
    try {
      const handle = await open(
        temp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o640,
      );
      await pipeline(body, handle.createWriteStream());
      options.verify?.();
      await rename(temp, final);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
  async probe(): Promise<string> {
    const problem = await folderProblem(this.root);
    if (problem) throw new UsageError(`Attachments cannot be written to ${this.description}: ${problem}.`);
    return `${this.description} is writable`;
  }
  async close(): Promise<void> {}
}

/** A folder below `parent` that is a real folder (made if missing); a symbolic link or a file is refused. */
async function plainFolder(parent: string, name: string): Promise<string> {
  const path = join(parent, name);
  await mkdir(path, { mode: 0o750 }).catch((error) => {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  });
  const info = await lstat(path);
  if (!info.isDirectory())
    throw new UnsafeBlobError(`${path} is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}`);
  return path;
}

/** The real path of an open file: /proc knows it on Linux; elsewhere, the real path of the name we opened. */
async function openedPath(fd: number, path: string): Promise<string> {
  try {
    return await readlink(`/proc/self/fd/${fd}`);
  } catch {
    return realpath(path);
  }
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

class StoreBlobs implements BlobEndpoint {
  constructor(
    private readonly store: ObjectStore,
    readonly description: string,
  ) {}
  read(key: string): Promise<Readable> {
    const problem = unsafeBlobKey(key);
    if (problem) return Promise.reject(new UnsafeBlobError(problem));
    return this.store.get(key);
  }
  /** A bucket has no rename: with `verify`, the blob is copied to a private file first, checked, then uploaded. */
  async write(key: string, body: Readable, options: WriteOptions = {}): Promise<void> {
    const problem = unsafeBlobKey(key);
    if (problem) throw new UnsafeBlobError(problem);
    if (!options.verify) return this.store.put(key, body);
    const spool = join(options.spoolDir ?? tmpdir(), `blob-${randomBytes(6).toString('hex')}`);
    try {
      await pipeline(body, createWriteStream(spool, { mode: 0o600, flags: 'wx' }));
      options.verify();
      await this.store.put(key, createReadStream(spool, { highWaterMark: 1 << 20 }));
    } finally {
      await rm(spool, { force: true });
    }
  }
  /** Listing proves the address and credentials; write access is not tested, as a test write would be a change. */
  async probe(): Promise<string> {
    for await (const _ of this.store.list('')) break;
    return `${this.description} is reachable (write access is not tested)`;
  }
  close(): Promise<void> {
    return this.store.close();
  }
}

/** The site's configured attachment storage. */
export async function openSiteBlobs(
  attachments: AttachmentsConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BlobEndpoint> {
  switch (attachments.type) {
    case 'local':
      return new DiskBlobs(attachments.path);
    case 's3': {
      const { S3Store } = await import('./store/s3-store.js');
      const store = await S3Store.open({
        bucket: attachments.bucket,
        prefix: '',
        region: attachments.region,
        ...(attachments.endpoint ? { endpoint: attachments.endpoint } : {}),
        forcePathStyle: attachments.forcePathStyle,
        ...(attachments.credentials
          ? {
              credentials: {
                accessKeyId: resolveSecret(attachments.credentials.accessKeyId, env),
                secretAccessKey: resolveSecret(attachments.credentials.secretAccessKey, env),
              },
            }
          : {}),
      });
      return new StoreBlobs(store, `bucket ${attachments.bucket}`);
    }
    case 'azure': {
      const { AzureStore } = await import('./store/azure-store.js');
      const store = await AzureStore.open({
        account: attachments.account,
        container: attachments.container,
        prefix: '',
        ...(attachments.endpoint ? { endpoint: attachments.endpoint } : {}),
        accountKey: resolveSecret(attachments.key, env),
      });
      return new StoreBlobs(store, `container ${attachments.account}/${attachments.container}`);
    }
  }
}

/**
 * A restore target for attachments: a local folder (laid out as the disk service expects), or the URL of the
 * site's own bucket or container (s3://bucket, azblob://account/container), which uses the site's credentials.
 */
export async function openBlobTarget(
  spec: string,
  siteAttachments: AttachmentsConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BlobEndpoint> {
  if (spec.startsWith('/')) return new DiskBlobs(spec);
  const parsed = parseRepositoryUrl(spec);
  if (typeof parsed !== 'string') {
    if (parsed.kind === 'file') return new DiskBlobs(parsed.path);
    if (
      parsed.kind === 's3' &&
      siteAttachments.type === 's3' &&
      parsed.bucket === siteAttachments.bucket &&
      !parsed.prefix
    ) {
      return openSiteBlobs(siteAttachments, env);
    }
    if (
      parsed.kind === 'azblob' &&
      siteAttachments.type === 'azure' &&
      parsed.account === siteAttachments.account &&
      parsed.container === siteAttachments.container &&
      !parsed.prefix
    ) {
      return openSiteBlobs(siteAttachments, env);
    }
  }
  throw new UsageError(
    `--attachments-to ${spec} is not a folder or the site's own attachment storage.`,
    "Give an absolute folder path, or the site's bucket (s3://bucket) or container (azblob://account/container).",
  );
}
