/**
 * Backup repository locations:
 *   file:///absolute/path
 *   s3://bucket/prefix         (AWS, MinIO, Ceph; endpoint and path style in `backups.s3`)
 *   azblob://account/container/prefix
 */
export type RepositoryLocation =
  | { kind: 'file'; path: string }
  | { kind: 's3'; bucket: string; prefix: string }
  | { kind: 'azblob'; account: string; container: string; prefix: string };

const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const AZ_ACCOUNT = /^[a-z0-9]{3,24}$/;
const AZ_CONTAINER = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

function cleanPrefix(path: string): string {
  return path.split('/').filter(Boolean).join('/');
}

/** Returns the parsed location, or a sentence saying what is wrong. */
export function parseRepositoryUrl(text: string): RepositoryLocation | string {
  const scheme = /^([a-z0-9]+):\/\//.exec(text)?.[1];
  if (scheme === 'file') {
    const path = text.slice('file://'.length);
    if (!path.startsWith('/'))
      return 'a file:// repository needs an absolute path, like file:///var/backups/tier4';
    return { kind: 'file', path: decodeURIComponent(path).replace(/\/+$/, '') || '/' };
  }
  if (scheme === 's3') {
    const [bucket = '', ...rest] = text.slice('s3://'.length).split('/');
    if (!S3_BUCKET.test(bucket))
      return `"${bucket}" is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)`;
    return { kind: 's3', bucket, prefix: cleanPrefix(rest.join('/')) };
  }
  if (scheme === 'azblob') {
    const [account = '', container = '', ...rest] = text.slice('azblob://'.length).split('/');
    if (!AZ_ACCOUNT.test(account))
      return `"${account}" is not a valid storage account name (3-24 lowercase letters and digits)`;
    if (!AZ_CONTAINER.test(container)) return `"${container}" is not a valid container name`;
    return { kind: 'azblob', account, container, prefix: cleanPrefix(rest.join('/')) };
  }
  return 'must be file:///path, s3://bucket/prefix or azblob://account/container/prefix';
}
