import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseRepositoryUrl } from '../core/config/repository-url.js';
import type { AttachmentsConfig } from '../core/config/schema.js';
import { UsageError } from '../core/errors.js';
import { diskBlobPath } from '../core/primero/tables.js';
import { resolveSecret } from '../core/secrets.js';
import type { ObjectStore } from './store/types.js';

/**
 * Where Primero's ActiveStorage blobs are read from (backup) or written to (restore): the disk service's folder
 * (as mounted in the pod), or the bucket/container of the amazon, minio or microsoft service, keyed by blob key.
 */
export interface BlobEndpoint {
  readonly description: string;
  read(key: string): Promise<Readable>;
  write(key: string, body: Readable): Promise<void>;
  close(): Promise<void>;
}

class DiskBlobs implements BlobEndpoint {
  readonly description: string;
  constructor(private readonly root: string) {
    this.description = `folder ${root}`;
  }
  async read(key: string): Promise<Readable> {
    const path = join(this.root, diskBlobPath(key));
    await stat(path);
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }
  async write(key: string, body: Readable): Promise<void> {
    const path = join(this.root, diskBlobPath(key));
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await pipeline(body, createWriteStream(temp, { mode: 0o640 }));
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
  async close(): Promise<void> {}
}

class StoreBlobs implements BlobEndpoint {
  constructor(
    private readonly store: ObjectStore,
    readonly description: string,
  ) {}
  read(key: string): Promise<Readable> {
    return this.store.get(key);
  }
  write(key: string, body: Readable): Promise<void> {
    return this.store.put(key, body);
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
