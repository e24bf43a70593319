import type { Readable } from 'node:stream';
import type { ObjectStore, StoredObject } from '../../backups/store/types.js';

/**
 * An Azure Blob container under a time-based retention policy (WORM), for what Azurite does not model. While
 * the policy holds, blobs can be created and read but not overwritten or deleted: Azure answers both with
 * 409 Conflict and the error code BlobImmutableDueToPolicy (azure-docs
 * articles/storage/blobs/immutable-time-based-retention-policy-overview.md; Azure Storage REST API "Blob
 * Storage error codes"). A conditional create (If-None-Match: *) of an existing blob fails with 409
 * BlobAlreadyExists, which AzureStore reports as "not created". The policy here never lapses (30 days).
 */
export class ImmutableStore implements ObjectStore {
  readonly location: string;
  constructor(private readonly inner: ObjectStore) {
    this.location = `${inner.location} (immutable)`;
  }

  private async refuseExisting(key: string): Promise<void> {
    if ((await this.inner.head(key)) !== undefined) {
      throw Object.assign(
        new Error('This operation is not permitted as the blob is immutable due to a policy.'),
        { name: 'RestError', statusCode: 409, code: 'BlobImmutableDueToPolicy' },
      );
    }
  }

  async put(key: string, body: Readable): Promise<void> {
    await this.refuseExisting(key);
    await this.inner.put(key, body);
  }

  async putBytes(key: string, body: Buffer | string): Promise<void> {
    await this.refuseExisting(key);
    await this.inner.putBytes(key, body);
  }

  createExclusive(key: string, body: Buffer | string): Promise<boolean> {
    return this.inner.createExclusive(key, body);
  }

  get(key: string): Promise<Readable> {
    return this.inner.get(key);
  }

  getBytes(key: string): Promise<Buffer | undefined> {
    return this.inner.getBytes(key);
  }

  head(key: string): Promise<number | undefined> {
    return this.inner.head(key);
  }

  list(prefix: string): AsyncIterable<StoredObject> {
    return this.inner.list(prefix);
  }

  async delete(key: string): Promise<void> {
    await this.refuseExisting(key);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
