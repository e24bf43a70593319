import { parseRepositoryUrl } from '../../core/config/repository-url.js';
import type { BackupsConfig } from '../../core/config/schema.js';
import { UsageError } from '../../core/errors.js';
import { resolveSecret } from '../../core/secrets.js';
import { FileStore } from './file-store.js';
import type { StoreRetry } from './retry.js';
import type { ObjectStore } from './types.js';

/**
 * Opens a site's backup repository (or, with `url`, its state repository) from its configuration, resolving
 * credentials by reference. `retry` sets the SDK's tries and hears of each retry (e.g. for progress lines).
 */
export async function openRepositoryStore(
  backups: BackupsConfig,
  env: NodeJS.ProcessEnv = process.env,
  url: string = backups.repository,
  retry: StoreRetry = {},
): Promise<ObjectStore> {
  const location = parseRepositoryUrl(url);
  if (typeof location === 'string') throw new UsageError(`backups.repository: ${location}`);
  switch (location.kind) {
    case 'file':
      return new FileStore(location.path);
    case 's3': {
      const { S3Store } = await import('./s3-store.js');
      const s3 = backups.s3;
      return S3Store.open({
        bucket: location.bucket,
        prefix: location.prefix,
        region: s3?.region ?? 'us-east-1',
        ...(s3?.endpoint ? { endpoint: s3.endpoint } : {}),
        forcePathStyle: s3?.forcePathStyle ?? false,
        retry,
        ...(s3?.credentials
          ? {
              credentials: {
                accessKeyId: resolveSecret(s3.credentials.accessKeyId, env),
                secretAccessKey: resolveSecret(s3.credentials.secretAccessKey, env),
              },
            }
          : {}),
      });
    }
    case 'azblob': {
      const { AzureStore } = await import('./azure-store.js');
      const azure = backups.azure;
      return AzureStore.open({
        account: location.account,
        container: location.container,
        prefix: location.prefix,
        retry,
        ...(azure?.endpoint ? { endpoint: azure.endpoint } : {}),
        ...(azure?.key ? { accountKey: resolveSecret(azure.key, env) } : {}),
        ...(azure?.sasToken ? { sasToken: resolveSecret(azure.sasToken, env) } : {}),
      });
    }
  }
}
