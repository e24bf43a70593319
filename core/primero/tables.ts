/**
 * Facts about Primero v2's database that backups and drills rely on (see shared/primero-facts.md).
 */

/** Tables whose row counts a backup records and a drill compares. */
export const KEY_TABLES = [
  'cases',
  'incidents',
  'tracing_requests',
  'traces',
  'families',
  'registry_records',
  'violations',
  'users',
  'roles',
  'agencies',
  'user_groups',
  'form_sections',
  'fields',
  'lookups',
  'locations',
  'reports',
  'primero_configurations',
  'system_settings',
  'audit_logs',
  'attachments',
  'active_storage_blobs',
  'active_storage_attachments',
  'schema_migrations',
] as const;

/**
 * Why a database does not look like Primero's, or undefined when it does. Primero v2 is a Rails app with
 * ActiveStorage (shared/primero-facts.md): Rails keeps `schema_migrations`, ActiveStorage its
 * `active_storage_blobs`/`active_storage_attachments`. `rowCounts` holds only the tables that exist.
 */
export function notPrimeroReason(rowCounts: Readonly<Record<string, number>>): string | undefined {
  const missing = ['schema_migrations', 'active_storage_blobs', 'active_storage_attachments'].filter(
    (table) => !(table in rowCounts),
  );
  return missing.length === 0
    ? undefined
    : `it has no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''}`;
}

/** Extensions Primero needs; plpgsql is always there. */
export const REQUIRED_EXTENSIONS = ['ltree', 'pg_trgm', 'pgcrypto'] as const;

export const DEFAULT_DATABASE = 'primero_production';

/**
 * Rails makes every ActiveStorage blob key with `SecureRandom.base36(28)`: 28 lowercase base36 characters
 * (activestorage/app/models/active_storage/blob.rb, `generate_unique_secure_token`).
 */
export const RAILS_BLOB_KEY = /^[a-z0-9]{28}$/;

/**
 * Older installs or imports may hold other keys. A key is only ever used as one plain path segment (and an object
 * name), so besides Rails' own shape only plain names are accepted: letters, digits, `.`, `_`, `-`, 4 to 255
 * characters, no leading dot and no `..`. Anything else (`/`, `\`, NUL, absolute, control characters) is refused.
 */
const PLAIN_BLOB_KEY = /^[A-Za-z0-9_-][A-Za-z0-9._-]{3,254}$/;

/** Why a blob key may not be used as a path or object name, or undefined when it is safe. */
export function unsafeBlobKey(key: string): string | undefined {
  if (RAILS_BLOB_KEY.test(key)) return undefined;
  if (PLAIN_BLOB_KEY.test(key) && !key.includes('..')) return undefined;
  return 'the key is not a plain name (ActiveStorage keys are 28 lowercase letters and digits)';
}

/** Where Rails' disk service keeps a blob: <root>/<key[0..1]>/<key[2..3]>/<key>. Refuses an unsafe key. */
export function diskBlobPath(key: string): string {
  const problem = unsafeBlobKey(key);
  if (problem) throw new Error(`Refusing blob key ${printableKey(key)}: ${problem}.`);
  return `${key.slice(0, 2)}/${key.slice(2, 4)}/${key}`;
}

/** A key as it may be shown or recorded: escaped (no control characters reach a terminal) and shortened. */
export function printableKey(key: string): string {
  return JSON.stringify(key.slice(0, 100)).slice(1, -1);
}
