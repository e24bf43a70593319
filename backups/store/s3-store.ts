import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { isNotFound } from './retry.js';
import type { ObjectStore, StoredObject } from './types.js';

export interface S3StoreOptions {
  bucket: string;
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Multipart part size; each part is buffered once, so memory stays near partSize x queueSize. */
  partSize?: number;
  maxAttempts?: number;
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
    const sdk = await import('@aws-sdk/client-s3');
    const custom = options.endpoint !== undefined;
    const client = new sdk.S3Client({
      region: options.region,
      ...(custom ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? false,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      maxAttempts: options.maxAttempts ?? 5,
      retryMode: 'standard',
      ...(custom
        ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
        : {}),
    });
    return new S3Store(client, sdk, options);
  }

  private key(key: string): string {
    return this.options.prefix ? `${this.options.prefix}/${key}` : key;
  }

  async put(key: string, body: Readable): Promise<void> {
    const { Upload } = await import('@aws-sdk/lib-storage');
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.options.bucket, Key: this.key(key), Body: body },
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

  async createExclusive(key: string, body: Buffer | string): Promise<boolean> {
    if ((await this.head(key)) !== undefined) return false;
    try {
      await this.client.send(
        new this.sdk.PutObjectCommand({
          Bucket: this.options.bucket,
          Key: this.key(key),
          Body: body,
          IfNoneMatch: '*',
        }),
      );
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return false;
      throw error;
    }
    // Some S3-compatible servers ignore If-None-Match: read back, so a racing writer is noticed.
    const stored = await this.getBytes(key);
    return stored?.equals(Buffer.from(body)) === true;
  }

  async get(key: string): Promise<Readable> {
    const result = await this.client.send(
      new this.sdk.GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
    );
    return result.Body as Readable;
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
    const full = this.key(prefix);
    const strip = this.options.prefix ? this.options.prefix.length + 1 : 0;
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new this.sdk.ListObjectsV2Command({
          Bucket: this.options.bucket,
          Prefix: full,
          ContinuationToken: token,
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
