import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { diskBlobPath, KEY_TABLES, REQUIRED_EXTENSIONS } from '../core/primero/tables.js';
import { LATEST_MIGRATION, type PrimeroDbResult } from '../rehearsal/primero-db.js';
import { connectTestDatabase, primeroDatabase } from './support/pg.js';

describe('the Primero-shaped database builder, on real PostgreSQL 15', () => {
  let built: PrimeroDbResult;
  let root: string;
  let client: pg.Client;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tier4-blobs-'));
    built = await primeroDatabase({
      cases: 400,
      attachments: { root, count: 25 },
      sentinel: 'SENTINEL-CHILD-NAME',
    });
    client = await connectTestDatabase(built.database);
  });
  afterAll(async () => {
    await client?.end();
  });

  test('runs on PostgreSQL 15 with Primero extensions', async () => {
    const { rows } = await client.query('SHOW server_version_num');
    expect(Math.floor(Number(rows[0].server_version_num) / 10_000)).toBe(15);
    const ext = await client.query('SELECT extname FROM pg_extension');
    const names = ext.rows.map((row) => row.extname);
    for (const name of [...REQUIRED_EXTENSIONS, 'plpgsql']) expect(names).toContain(name);
  });

  test('has every key table, populated, with counts that match the result', async () => {
    for (const table of KEY_TABLES) {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
      expect(rows[0].n, table).toBe(built.counts[table]);
    }
    expect(built.counts.cases).toBe(400);
    expect(built.counts.incidents).toBe(100);
    expect(built.counts.audit_logs).toBe(1200);
    expect(built.counts.active_storage_blobs).toBe(25);
    expect(built.counts.system_settings).toBe(1);
  });

  test('records are jsonb in Primero shapes, locations are an ltree', async () => {
    const { rows } = await client.query(
      "SELECT data->>'status' AS status, jsonb_typeof(data->'family_details_section') AS fam FROM cases LIMIT 1",
    );
    expect(['open', 'closed']).toContain(rows[0].status);
    expect(rows[0].fam).toBe('array');
    const tree = await client.query(
      "SELECT count(*)::int AS n FROM locations WHERE hierarchy_path <@ 'KE.KE01'",
    );
    expect(tree.rows[0].n).toBe(6);
    const trgm = await client.query("SELECT count(*)::int AS n FROM cases WHERE srch_name % 'Amina Otieno'");
    expect(trgm.rows[0].n).toBeGreaterThan(0);
  });

  test('migration and version facts are recorded as Primero records them', async () => {
    const mig = await client.query('SELECT max(version) AS v FROM schema_migrations');
    expect(mig.rows[0].v).toBe(LATEST_MIGRATION);
    const version = await client.query('SELECT primero_version FROM system_settings');
    expect(version.rows[0].primero_version).toBe('2.15.2');
  });

  test('blob files sit where the disk service puts them, with matching MD5 checksums', async () => {
    const { rows } = await client.query(
      'SELECT key, checksum, byte_size FROM active_storage_blobs ORDER BY id',
    );
    expect(rows).toHaveLength(25);
    for (const row of rows) {
      const content = await readFile(join(root, diskBlobPath(row.key)));
      expect(content.length).toBe(Number(row.byte_size));
      expect(createHash('md5').update(content).digest('base64')).toBe(row.checksum);
    }
    const linked = await client.query(
      'SELECT count(*)::int AS n FROM active_storage_attachments a JOIN attachments t ON t.id = a.record_id',
    );
    expect(linked.rows[0].n).toBe(25);
  });

  test('the sentinel is planted in records and files, for leak tests', async () => {
    const { rows } = await client.query(
      "SELECT count(*)::int AS n FROM cases WHERE data::text LIKE '%SENTINEL-CHILD-NAME%'",
    );
    expect(rows[0].n).toBe(5);
    const first = built.blobs[0]!;
    expect((await readFile(first.path)).includes('SENTINEL-CHILD-NAME')).toBe(true);
  });
});
