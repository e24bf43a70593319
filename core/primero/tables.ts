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

/** Extensions Primero needs; plpgsql is always there. */
export const REQUIRED_EXTENSIONS = ['ltree', 'pg_trgm', 'pgcrypto'] as const;

export const DEFAULT_DATABASE = 'primero_production';

/** Where Rails' disk service keeps a blob: <root>/<key[0..1]>/<key[2..3]>/<key>. */
export function diskBlobPath(key: string): string {
  return `${key.slice(0, 2)}/${key.slice(2, 4)}/${key}`;
}
