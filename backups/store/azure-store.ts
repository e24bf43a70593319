import type { Readable } from 'node:stream';
import type { ContainerClient } from '@azure/storage-blob';
import { UsageError } from '../../core/errors.js';
import { azureRetryOptions, isNotFound, reportAzureRetries, type StoreRetry } from './retry.js';
import {
  checkedKey,
  checkedPrefix,
  ObjectNotFoundError,
  type ObjectStore,
  type StoredObject,
} from './types.js';

export interface AzureStoreOptions {
  account: string;
  container: string;
  prefix: string;
  /** Default https://<account>.blob.core.windows.net; an emulator gives http://127.0.0.1:port/<account>. */
  endpoint?: string;
  accountKey?: string;
  sasToken?: string;
  retry?: StoreRetry;
  /** Block size of streamed uploads (default 4 MiB); each block is buffered once. */
  blockSize?: number;
  /** Blobs per listing page (Azure answers at most 5,000); tests make it small to cross pages. */
  listPageSize?: number;
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
    if (options.prefix) checkedKey(options.prefix);
    const { BlobServiceClient, StorageSharedKeyCredential, AnonymousCredential } = await import(
      '@azure/storage-blob'
    );
    const endpoint = options.endpoint ?? `https://${options.account}.blob.core.windows.net`;
    const retryOptions = azureRetryOptions(options.retry ?? {});
    let service: import('@azure/storage-blob').BlobServiceClient;
    if (options.accountKey) {
      service = new BlobServiceClient(
        endpoint,
        new StorageSharedKeyCredential(options.account, options.accountKey),
        { retryOptions },
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
    reportAzureRetries(service, options.retry ?? {});
    return new AzureStore(service.getContainerClient(options.container), options);
  }

  /** The blob's name; a key that is not plain is refused before any request. */
  private key(key: string): string {
    checkedKey(key);
    return this.options.prefix ? `${this.options.prefix}/${key}` : key;
  }

  async put(key: string, body: Readable): Promise<void> {
    await this.container
      .getBlockBlobClient(this.key(key))
      .uploadStream(body, this.options.blockSize ?? 4 * 1024 * 1024, 2);
  }

  async putBytes(key: string, body: Buffer | string): Promise<void> {
    const data = Buffer.from(body);
    await this.container.getBlockBlobClient(this.key(key)).upload(data, data.length);
  }

  /**
   * Put Blob with If-None-Match: *: an existing blob answers 409 BlobAlreadyExists (or 412 Condition Not Met)
   * (Azure Storage REST API, "Specifying conditional headers for Blob service operations"). A refusal whose
   * stored bytes are ours is our own earlier try whose answer was lost (the pipeline retried it): created.
   */
  async createExclusive(key: string, body: Buffer | string): Promise<boolean> {
    const data = Buffer.from(body);
    const blob = this.container.getBlockBlobClient(this.key(key));
    try {
      await blob.upload(data, data.length, { conditions: { ifNoneMatch: '*' } });
      return true;
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status === 409 || status === 412) return (await this.getBytes(key))?.equals(data) === true;
      throw error;
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const response = await this.container.getBlobClient(this.key(key)).download();
      return response.readableStreamBody as Readable;
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key, this.location, error);
      throw error;
    }
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
    checkedPrefix(prefix);
    const full = this.options.prefix ? `${this.options.prefix}/${prefix}` : prefix;
    const strip = this.options.prefix ? this.options.prefix.length + 1 : 0;
    const pages = this.container
      .listBlobsFlat({ prefix: full })
      .byPage(this.options.listPageSize ? { maxPageSize: this.options.listPageSize } : {});
    for await (const page of pages) {
      for (const blob of page.segment.blobItems) {
        yield { key: blob.name.slice(strip), size: blob.properties.contentLength ?? 0 };
      }
    }
  }

  async delete(key: string): Promise<void> {
    await this.container.getBlobClient(this.key(key)).deleteIfExists();
  }

  async close(): Promise<void> {}
}
