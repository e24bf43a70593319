import type pg from 'pg';
import { KEY_TABLES } from '../../core/primero/tables.js';

export interface DatabaseFacts {
  serverVersion: string;
  serverMajor: number;
  name: string;
  extensions: Array<{ name: string; version: string }>;
  rowCounts: Record<string, number>;
  latestMigration: string | null;
  primeroVersion: string | null;
}

export interface SourceBlob {
  /** active_storage_blobs.id (a bigint, as text). */
  id: string;
  key: string;
  checksum: string | null;
  byteSize: number;
}

export interface SnapshotContents {
  facts: DatabaseFacts;
  blobs: SourceBlob[];
}

export interface ExportedSnapshot {
  /** Give this to `pg_dump --snapshot`; valid while the transaction stays open. */
  id: string;
  takenAt: Date;
  serverMajor: number;
  /** On-disk size of each table ("schema.table"), to turn pg_dump's progress into a fraction done. */
  tableSizes: Map<string, number>;
  /** The tables a restore should split between its connections (decision 0019), largest first. */
  bulkTables: BulkTable[];
  /**
   * The facts and the blob list, read in the same snapshot on this connection. Started at once, so the
   * counting runs while pg_dump dumps (in its own connection) rather than before it.
   */
  contents: Promise<SnapshotContents>;
  close(): Promise<void>;
}

/**
 * Opens a REPEATABLE READ transaction, exports its snapshot, and reads in that same snapshot everything the
 * manifest records, so the facts, the blob list and the dump describe one moment.
 */
export async function exportSnapshot(client: pg.Client): Promise<ExportedSnapshot> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const { rows } = await client.query<{ id: string; now: Date; num: string }>(
      "SELECT pg_export_snapshot() AS id, now() AS now, current_setting('server_version_num') AS num",
    );
    const snapshot = rows[0]!;
    const sizes = await client.query<{
      name: string;
      schema: string;
      table: string;
      bytes: string;
      largest_index: string | null;
    }>(
      `SELECT n.nspname || '.' || c.relname AS name, n.nspname AS schema, c.relname AS table,
              pg_table_size(c.oid) AS bytes,
              (SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                WHERE x.indrelid = c.oid ORDER BY pg_relation_size(i.oid) DESC, i.relname LIMIT 1) AS largest_index
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
    );
    const contents = readContents(client);
    contents.catch(() => {}); // observed by the caller; never an unhandled rejection meanwhile
    return {
      id: snapshot.id,
      takenAt: snapshot.now,
      serverMajor: Math.floor(Number(snapshot.num) / 10_000),
      tableSizes: new Map(sizes.rows.map((row) => [row.name, Number(row.bytes)])),
      bulkTables: bulkTables(
        sizes.rows.map((row) => ({
          schema: row.schema,
          table: row.table,
          bytes: Number(row.bytes),
          largestIndex: row.largest_index,
        })),
      ),
      contents,
      close: async () => {
        await contents.catch(() => undefined);
        await client.query('COMMIT').catch(() => undefined);
      },
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export interface BulkTable {
  schema: string;
  table: string;
  /** Its largest index: built first after the rows, while its others build beside the rest (decision 0019). */
  largestIndex?: string;
}

/**
 * The largest table and those at least half its size (at most three): loaded over every connection of a
 * restore, while pg_restore loads the smaller ones beside the index builds (decision 0019).
 */
export function bulkTables(
  tables: Array<{ schema: string; table: string; bytes: number; largestIndex?: string | null }>,
): BulkTable[] {
  // Largest first; equal sizes by name, so the same database always gives the same list.
  const byName = (a: { schema: string; table: string }, b: typeof a) =>
    a.schema === b.schema ? (a.table < b.table ? -1 : 1) : a.schema < b.schema ? -1 : 1;
  const sorted = [...tables].filter((t) => t.bytes > 0).sort((a, b) => b.bytes - a.bytes || byName(a, b));
  const largest = sorted[0]?.bytes ?? 0;
  return sorted
    .filter((t) => t.bytes * 2 >= largest)
    .slice(0, 3)
    .map(({ schema, table, largestIndex }) => ({ schema, table, ...(largestIndex ? { largestIndex } : {}) }));
}

async function readContents(client: pg.Client): Promise<SnapshotContents> {
  const facts = await readFacts(client);
  const blobs = (await tableExists(client, 'active_storage_blobs'))
    ? (
        await client.query<{ id: string; key: string; checksum: string | null; byte_size: string }>(
          'SELECT id::text AS id, key, checksum, byte_size FROM active_storage_blobs ORDER BY id',
        )
      ).rows.map((row) => ({
        id: row.id,
        key: row.key,
        checksum: row.checksum,
        byteSize: Number(row.byte_size),
      }))
    : [];
  return { facts, blobs };
}

async function tableExists(client: pg.Client, table: string): Promise<boolean> {
  const { rows } = await client.query('SELECT to_regclass($1) IS NOT NULL AS present', [`public.${table}`]);
  return rows[0].present === true;
}

/** The facts a drill compares after a restore; also read from a restored database. */
export async function readFacts(client: pg.Client): Promise<DatabaseFacts> {
  const server = await client.query<{ version: string; num: string; db: string }>(
    "SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num, current_database() AS db",
  );
  const extensions = await client.query<{ name: string; version: string }>(
    'SELECT extname AS name, extversion AS version FROM pg_extension ORDER BY extname',
  );
  const rowCounts: Record<string, number> = {};
  for (const table of KEY_TABLES) {
    if (!(await tableExists(client, table))) continue;
    const { rows } = await client.query(`SELECT count(*)::bigint AS n FROM public."${table}"`);
    rowCounts[table] = Number(rows[0].n);
  }
  const latestMigration = (await tableExists(client, 'schema_migrations'))
    ? ((await client.query('SELECT max(version) AS v FROM schema_migrations')).rows[0].v as string | null)
    : null;
  const primeroVersion = (await tableExists(client, 'system_settings'))
    ? (((await client.query('SELECT primero_version AS v FROM system_settings ORDER BY id LIMIT 1')).rows[0]
        ?.v as string | undefined) ?? null)
    : null;
  const row = server.rows[0]!;
  return {
    serverVersion: row.version.split(' ')[0]!,
    serverMajor: Math.floor(Number(row.num) / 10_000),
    name: row.db,
    extensions: extensions.rows,
    rowCounts,
    latestMigration,
    primeroVersion,
  };
}
