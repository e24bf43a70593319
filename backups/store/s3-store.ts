import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { isNotFound, reportS3Retries, type StoreRetry, s3RetryConfig } from './retry.js';
import {
  checkedKey,
  checkedPrefix,
  ObjectNotFoundError,
  type ObjectStore,
  type StoredObject,
} from './types.js';

export interface S3StoreOptions {
  bucket: string;
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Multipart part size; each part is buffered once, so memory stays near partSize x queueSize. */
  partSize?: number;
  retry?: StoreRetry;
  /** Keys per listing page (S3 answers at most 1,000); tests make it small to cross pages. */
  listPageSize?: number;
}

/**
 * An S3-compatible repository (AWS, MinIO, Ceph). Streams go up as multipart uploads, which become visible
 * only when completed. Non-AWS endpoints get request checksums only "when required": several servers
 * otherwise store the aws-chunked framing as part of the object.
 */
export class S3Store implements ObjectStore {
  readonly location: string;
  private constructor(
    private readonly client: S3Client,
    private readonly sdk: typeof import('@aws-sdk/client-s3'),
    private readonly options: S3StoreOptions,
  ) {
    this.location = `s3://${options.bucket}/${options.prefix}`;
  }

  static async open(options: S3StoreOptions): Promise<S3Store> {
    if (options.prefix) checkedKey(options.prefix);
    const sdk = await import('@aws-sdk/client-s3');
    const custom = options.endpoint !== undefined;
    const client = new sdk.S3Client({
      region: options.region,
      ...(custom ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? false,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...s3RetryConfig(options.retry ?? {}),
      ...(custom
        ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
        : {}),
    });
    reportS3Retries(client, options.retry ?? {});
    return new S3Store(client, sdk, options);
  }

  /** The object's name in the bucket; a key that is not plain is refused before any request. */
  private key(key: string): string {
    checkedKey(key);
    return this.options.prefix ? `${this.options.prefix}/${key}` : key;
  }

  async put(key: string, body: Readable): Promise<void> {
    const name = this.key(key);
    const { Upload } = await import('@aws-sdk/lib-storage');
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.options.bucket, Key: name, Body: body },
      partSize: this.options.partSize ?? 8 * 1024 * 1024,
      queueSize: 2,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async putBytes(key: string, body: Buffer | string): Promise<void> {
    await this.client.send(
      new this.sdk.PutObjectCommand({ Bucket: this.options.bucket, Key: this.key(key), Body: body }),
    );
  }

  /**
   * A conditional PUT (If-None-Match: *): S3 answers 412 when the key exists and 409
   * ConditionalRequestConflict to the loser of concurrent creates (AWS S3 User Guide, "How to prevent object
   * overwrites with conditional writes"). A refusal whose stored bytes are ours is our own earlier try whose
   * answer was lost (the SDK retried it): created. Some S3-compatible servers (s3rver) ignore If-None-Match,
   * so a success is read back too and a racing writer noticed.
   */
  async createExclusive(key: string, body: Buffer | string): Promise<boolean> {
    const name = this.key(key);
    const data = Buffer.from(body);
    const ours = async () => (await this.getBytes(key))?.equals(data) === true;
    if ((await this.head(key)) !== undefined) return ours();
    try {
      await this.client.send(
        new this.sdk.PutObjectCommand({
          Bucket: this.options.bucket,
          Key: name,
          Body: data,
          IfNoneMatch: '*',
        }),
      );
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return ours();
      throw error;
    }
    return ours();
  }

  async get(key: string): Promise<Readable> {
    try {
      const result = await this.client.send(
        new this.sdk.GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
      );
      return result.Body as Readable;
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key, this.location, error);
      throw error;
    }
  }

  async getBytes(key: string): Promise<Buffer | undefined> {
    try {
      const result = await this.client.send(
        new this.sdk.GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
      );
      return Buffer.from(await result.Body!.transformToByteArray());
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async head(key: string): Promise<number | undefined> {
    try {
      const result = await this.client.send(
        new this.sdk.HeadObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
      );
      return result.ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    checkedPrefix(prefix);
    const full = this.options.prefix ? `${this.options.prefix}/${prefix}` : prefix;
    const strip = this.options.prefix ? this.options.prefix.length + 1 : 0;
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new this.sdk.ListObjectsV2Command({
          Bucket: this.options.bucket,
          Prefix: full,
          ContinuationToken: token,
          ...(this.options.listPageSize ? { MaxKeys: this.options.listPageSize } : {}),
        }),
      );
      for (const item of page.Contents ?? []) {
        if (item.Key) yield { key: item.Key.slice(strip), size: item.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    await this.client.send(
      new this.sdk.DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
    );
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
