import type { Readable } from 'node:stream';
import type { ContainerClient } from '@azure/storage-blob';
import { UsageError } from '../../core/errors.js';
import { isNotFound } from './retry.js';
import type { ObjectStore, StoredObject } from './types.js';

export interface AzureStoreOptions {
  account: string;
  container: string;
  prefix: string;
  /** Default https://<account>.blob.core.windows.net; an emulator gives http://127.0.0.1:port/<account>. */
  endpoint?: string;
  accountKey?: string;
  sasToken?: string;
  maxTries?: number;
}

/** An Azure Blob repository. Block blobs become visible only when their block list is committed. */
export class AzureStore implements ObjectStore {
  readonly location: string;
  private constructor(
    private readonly container: ContainerClient,
    private readonly options: AzureStoreOptions,
  ) {
    this.location = `azblob://${options.account}/${options.container}/${options.prefix}`;
  }

  static async open(options: AzureStoreOptions): Promise<AzureStore> {
    const { BlobServiceClient, StorageSharedKeyCredential, AnonymousCredential } = await import(
      '@azure/storage-blob'
    );
    const endpoint = options.endpoint ?? `https://${options.account}.blob.core.windows.net`;
    const retryOptions = { maxTries: options.maxTries ?? 5 };
    let service: import('@azure/storage-blob').BlobServiceClient;
    if (options.accountKey) {
      service = new BlobServiceClient(
        endpoint,
        new StorageSharedKeyCredential(options.account, options.accountKey),
        {
          retryOptions,
        },
      );
    } else if (options.sasToken) {
      const sas = options.sasToken.replace(/^\?/, '');
      service = new BlobServiceClient(`${endpoint}?${sas}`, new AnonymousCredential(), { retryOptions });
    } else {
      throw new UsageError(
        `The Azure repository ${options.account}/${options.container} has no credential.`,
        'Set backups.azure.key or backups.azure.sasToken (as {env: NAME} or {file: /path}).',
      );
    }
    return new AzureStore(service.getContainerClient(options.container), options);
  }

  private key(key: string): string {
    return this.options.prefix ? `${this.options.prefix}/${key}` : key;
  }

  async put(key: string, body: Readable): Promise<void> {
    await this.container.getBlockBlobClient(this.key(key)).uploadStream(body, 4 * 1024 * 1024, 2);
  }

  async putBytes(key: string, body: Buffer | string): Promise<void> {
    const data = Buffer.from(body);
    await this.container.getBlockBlobClient(this.key(key)).upload(data, data.length);
  }

  async createExclusive(key: string, body: Buffer | string): Promise<boolean> {
    const data = Buffer.from(body);
    try {
      await this.container
        .getBlockBlobClient(this.key(key))
        .upload(data, data.length, { conditions: { ifNoneMatch: '*' } });
      return true;
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status === 409 || status === 412) return false;
      throw error;
    }
  }

  async get(key: string): Promise<Readable> {
    const response = await this.container.getBlobClient(this.key(key)).download();
    return response.readableStreamBody as Readable;
  }

  async getBytes(key: string): Promise<Buffer | undefined> {
    try {
      return await this.container.getBlobClient(this.key(key)).downloadToBuffer();
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async head(key: string): Promise<number | undefined> {
    try {
      return (await this.container.getBlobClient(this.key(key)).getProperties()).contentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const strip = this.options.prefix ? this.options.prefix.length + 1 : 0;
    for await (const blob of this.container.listBlobsFlat({ prefix: this.key(prefix) })) {
      yield { key: blob.name.slice(strip), size: blob.properties.contentLength ?? 0 };
    }
  }

  async delete(key: string): Promise<void> {
    await this.container.getBlobClient(this.key(key)).deleteIfExists();
  }

  async close(): Promise<void> {}
}
