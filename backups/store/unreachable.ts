import type { BackupsConfig } from '../../core/config/schema.js';
import { OperationError, Tier4Error } from '../../core/errors.js';

/** Node's socket errors, and @azure/core-rest-pipeline's wrapper for a request that could not be sent. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'REQUEST_SEND_ERROR',
]);

function networkCode(error: unknown): string | undefined {
  for (
    let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 4;
    depth += 1
  ) {
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
    e = e.cause as typeof e;
  }
  const text = error instanceof Error ? error.message : '';
  return /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)\b/.exec(text)?.[1];
}

/** The endpoint a repository is reached at, for messages (no credential is ever part of it). */
export function repositoryEndpoint(backups: BackupsConfig, location: string): string {
  if (location.startsWith('s3://')) return backups.s3?.endpoint ?? 'the AWS S3 endpoint of backups.s3.region';
  if (location.startsWith('azblob://')) {
    const account = location.slice('azblob://'.length).split('/')[0];
    return backups.azure?.endpoint ?? `https://${account}.blob.core.windows.net`;
  }
  return location;
}

/** A repository that cannot be reached becomes a clear error naming where, not an "unexpected failure". */
export function unreachableRepository(error: unknown, backups: BackupsConfig, location: string): unknown {
  if (error instanceof Tier4Error) return error;
  const code = networkCode(error);
  if (!code) return error;
  return new OperationError(
    `The backup repository ${location} cannot be reached at ${repositoryEndpoint(backups, location)} (${code}).`,
    'Check the endpoint in tier4.yaml (backups.s3.endpoint / backups.azure.endpoint), DNS, and that the network (firewall, NetworkPolicy) lets this host reach it.',
    error,
  );
}
