import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type pg from 'pg';
import { connectDatabase } from '../core/postgres/connection.js';
import { diskBlobPath, KEY_TABLES } from '../core/primero/tables.js';
import { PRIMERO_SCHEMA_SQL } from './primero-schema.js';

/**
 * Builds a Primero-shaped database with realistic jsonb records, and the matching ActiveStorage blob files
 * laid out as Rails' disk service does. Sizes range from a few MB (tests) to GBs (benchmarks).
 */

export interface ServerConnection {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface PrimeroDbOptions {
  connection: ServerConnection;
  /** Created by the builder; it must not exist. */
  database: string;
  /** Number of case records (default 200). */
  cases?: number;
  /** Approximate on-disk database size in bytes; sets the number of cases when given. */
  targetBytes?: number;
  attachments?: { root: string; count: number; minBytes?: number; maxBytes?: number };
  /** A marker written into some case records and attachment files, to prove backups never store plain text. */
  sentinel?: string;
  primeroVersion?: string;
  seed?: number;
  onProgress?: (message: string) => void;
}

export interface BuiltBlob {
  key: string;
  checksum: string;
  byteSize: number;
  path: string;
}

export interface PrimeroDbResult {
  database: string;
  counts: Record<string, number>;
  blobs: BuiltBlob[];
  latestMigration: string;
  primeroVersion: string;
  bytes: number;
}

/** Rough bytes a case contributes with its satellite records and indexes; calibrated on PostgreSQL 15. */
const BYTES_PER_CASE = 2700;
const BATCH = 20_000;
export const LATEST_MIGRATION = '20250918143012';

/** A small seeded PRNG, so a given seed always builds the same blobs. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function base36Key(random: () => number): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  let key = '';
  for (let i = 0; i < 28; i += 1) key += alphabet[Math.floor(random() * 36)];
  return key;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A database of a throwaway server, through the one connector (core/postgres) like every other connection. */
export async function connect(connection: ServerConnection, database: string): Promise<pg.Client> {
  const host = connection.host.includes(':') ? `[${connection.host}]` : connection.host;
  const user = encodeURIComponent(connection.user);
  const url = `postgres://${user}@${host}:${connection.port}/${encodeURIComponent(database)}`;
  return connectDatabase({ url, password: connection.password });
}

export async function buildPrimeroDatabase(options: PrimeroDbOptions): Promise<PrimeroDbResult> {
  const seed = options.seed ?? 42;
  const primeroVersion = options.primeroVersion ?? 'v2.15.2';
  const cases = options.targetBytes
    ? Math.max(50, Math.round(options.targetBytes / BYTES_PER_CASE))
    : (options.cases ?? 200);
  const progress = options.onProgress ?? (() => {});

  const admin = await connect(options.connection, 'postgres');
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(options.database)}`);
  } finally {
    await admin.end();
  }

  const db = await connect(options.connection, options.database);
  try {
    await db.query(PRIMERO_SCHEMA_SQL);
    await db.query('SELECT setseed($1)', [((seed % 1000) / 1000) * 2 - 1]);
    await seedConfiguration(db, primeroVersion);
    for (let done = 0; done < cases; done += BATCH) {
      const count = Math.min(BATCH, cases - done);
      await insertRecords(db, count, done);
      progress(`cases ${done + count}/${cases}`);
    }
    if (options.sentinel) await plantSentinel(db, options.sentinel);
    const blobs = options.attachments
      ? await writeBlobs(db, options.attachments, seed, options.sentinel, progress)
      : [];
    await db.query('ANALYZE');
    const counts: Record<string, number> = {};
    for (const table of KEY_TABLES) {
      const { rows } = await db.query(`SELECT count(*)::bigint AS n FROM ${quoteIdent(table)}`);
      counts[table] = Number(rows[0].n);
    }
    const { rows } = await db.query('SELECT pg_database_size(current_database())::bigint AS bytes');
    return {
      database: options.database,
      counts,
      blobs,
      latestMigration: LATEST_MIGRATION,
      primeroVersion,
      bytes: Number(rows[0].bytes),
    };
  } finally {
    await db.end();
  }
}

async function seedConfiguration(db: pg.Client, primeroVersion: string): Promise<void> {
  await db.query(`
    INSERT INTO schema_migrations (version)
      SELECT to_char(timestamp '2019-06-01' + (n * interval '23 days') + (n * interval '37 minutes'), 'YYYYMMDDHH24MISS')
      FROM generate_series(0, 78) AS n;
    INSERT INTO schema_migrations (version) VALUES ('${LATEST_MIGRATION}');
    INSERT INTO ar_internal_metadata VALUES ('environment', 'production', now(), now());
    INSERT INTO system_settings (primero_version, reporting_location_config, age_ranges, system_options)
      VALUES ('${primeroVersion.replace(/^v/, '')}', '{"field_key":"owned_by_location","admin_level":2}',
              '{"primero":["0 - 5","6 - 11","12 - 17","18+"]}', '{"due_date_from_appointment_date":false}');
    INSERT INTO primero_programs (unique_id, name_i18n) VALUES ('primeroprogram-primero', '{"en":"Primero"}');
    INSERT INTO primero_modules (unique_id, primero_program_id, name_i18n, associated_record_types)
      VALUES ('primeromodule-cp', 1, '{"en":"CP"}', '{case,tracing_request,incident}'),
             ('primeromodule-gbv', 1, '{"en":"GBV"}', '{case,incident}');
    INSERT INTO agencies (unique_id, agency_code, name_i18n, services)
      SELECT 'agency-' || n, 'AG' || n, jsonb_build_object('en', 'Agency ' || n), '{health,education}' FROM generate_series(1, 4) n;
    INSERT INTO roles (unique_id, name, permissions, group_permission, is_manager)
      SELECT 'role-' || r, r, jsonb_build_object('case', jsonb_build_array('read','write','flag','assign'),
             'primero_configuration', CASE WHEN r = 'superuser' THEN '["manage"]'::jsonb ELSE '[]'::jsonb END),
             CASE WHEN r LIKE '%manager%' THEN 'group' ELSE 'self' END, r LIKE '%manager%'
      FROM unnest(ARRAY['superuser','cp-manager','cp-case-worker','gbv-manager','gbv-case-worker','tier4-service']) r;
    INSERT INTO user_groups (unique_id, name) SELECT 'usergroup-' || n, 'Group ' || n FROM generate_series(1, 5) n;
    INSERT INTO users (user_name, full_name, email, encrypted_password, agency_id, role_id, locale, location, phone)
      SELECT 'worker' || n, 'Case Worker ' || n, 'worker' || n || '@example.org', '$2a$11$' || md5(n::text) || md5('x' || n),
             1 + n % 4, 1 + n % 6, 'en', 'KE' || lpad((n % 9)::text, 2, '0'), '+2547' || lpad(n::text, 8, '0')
      FROM generate_series(1, 30) n;
    INSERT INTO user_groups_users SELECT n, 1 + n % 5 FROM generate_series(1, 30) n;
    INSERT INTO locations (location_code, admin_level, type, placename_i18n, hierarchy_path)
      SELECT 'KE', 0, 'country', '{"en":"Kenya"}', 'KE'::ltree;
    INSERT INTO locations (location_code, admin_level, type, placename_i18n, hierarchy_path)
      SELECT 'KE' || lpad(p::text, 2, '0'), 1, 'province', jsonb_build_object('en', 'Province ' || p), ('KE.KE' || lpad(p::text, 2, '0'))::ltree
      FROM generate_series(1, 8) p;
    INSERT INTO locations (location_code, admin_level, type, placename_i18n, hierarchy_path)
      SELECT 'KE' || lpad(p::text, 2, '0') || lpad(d::text, 2, '0'), 2, 'district', jsonb_build_object('en', 'District ' || p || '-' || d),
             ('KE.KE' || lpad(p::text, 2, '0') || '.KE' || lpad(p::text, 2, '0') || lpad(d::text, 2, '0'))::ltree
      FROM generate_series(1, 8) p, generate_series(1, 5) d;
    INSERT INTO form_sections (unique_id, name_i18n, parent_form, "order", form_group_id, core_form)
      SELECT f, jsonb_build_object('en', initcap(replace(f, '_', ' '))), 'case', row_number() OVER (), 'identification_registration', f = 'basic_identity'
      FROM unnest(ARRAY['basic_identity','family_details','care_arrangements','protection_concern_details','assessment',
                        'case_plan','services','referral','notes_section','closure','photos_and_audio','other_documents']) f;
    INSERT INTO fields (name, type, form_section_id, "order", display_name_i18n, option_strings_source, required)
      SELECT fs.unique_id || '_field_' || n, (ARRAY['text_field','select_box','date_field','tick_box','textarea','numeric_field'])[1 + n % 6],
             fs.id, n, jsonb_build_object('en', 'Field ' || n), CASE WHEN n % 6 = 1 THEN 'lookup lookup-risk-level' END, n = 1
      FROM form_sections fs, generate_series(1, 9) n;
    INSERT INTO lookups (unique_id, name_i18n, lookup_values_i18n)
      SELECT 'lookup-' || l, jsonb_build_object('en', initcap(replace(l, '-', ' '))),
             (SELECT jsonb_agg(jsonb_build_object('id', l || '_' || v, 'display_text', jsonb_build_object('en', 'Value ' || v))) FROM generate_series(1, 6) v)
      FROM unnest(ARRAY['risk-level','protection-concerns','nationality','language','religion','ethnicity','gender','service-type','referral-status','displacement-status']) l;
    INSERT INTO reports (unique_id, name_i18n, module_id, record_type, aggregate_by, disaggregate_by, filters)
      SELECT 'report-' || n, jsonb_build_object('en', 'Report ' || n), 'primeromodule-cp', 'case', '{owned_by_location}', '{sex}',
             '[{"attribute":"status","value":["open"]}]' FROM generate_series(1, 6) n;
    INSERT INTO primero_configurations (name, description, version, primero_version, data, created_on, created_by)
      VALUES ('Initial', 'Baseline configuration', '20250101.120000.' || substr(md5('a'), 1, 7), '${primeroVersion.replace(/^v/, '')}',
              '{"FormSection":[],"Lookup":[],"Agency":[],"Role":[],"UserGroup":[],"Report":[],"ContactInformation":[]}', now(), 'worker1');
    INSERT INTO webhooks (events, url, auth_type, auth_secret_encrypted) VALUES ('{case.create}', 'https://hooks.example.org/primero', 'basic', 'enc:' || md5('w'));
  `);
}

async function insertRecords(db: pg.Client, count: number, offset: number): Promise<void> {
  await db.query(
    `
    WITH new_cases AS (
      INSERT INTO cases (data, srch_name, srch_status, srch_owned_by, created_at)
      SELECT jsonb_build_object(
          'case_id_display', substr(md5(n::text), 1, 7),
          'short_id', substr(md5(n::text), 1, 7),
          'name', first || ' ' || last, 'name_first', first, 'name_last', last,
          'sex', (ARRAY['female','male'])[1 + (n % 2)], 'age', 1 + (n % 17),
          'date_of_birth', (date '2008-01-01' + (n % 6000))::text,
          'registration_date', (date '2021-01-01' + (n % 1500))::text,
          'status', (ARRAY['open','open','open','closed'])[1 + (n % 4)], 'record_state', true,
          'owned_by', 'worker' || (1 + n % 30), 'owned_by_agency_id', 'agency-' || (1 + n % 4),
          'module_id', 'primeromodule-cp', 'risk_level', (ARRAY['low','medium','high'])[1 + (n % 3)],
          'protection_concerns', jsonb_build_array('separated', (ARRAY['unaccompanied','orphan','child_labour','gbv_survivor'])[1 + (n % 4)]),
          'location_current', 'KE' || lpad((1 + n % 8)::text, 2, '0') || '0' || (1 + n % 5),
          'family_details_section', jsonb_build_array(
              jsonb_build_object('unique_id', md5('f' || n), 'relation', 'mother', 'relation_name', 'Relative ' || md5('m' || n), 'relation_is_alive', 'alive'),
              jsonb_build_object('unique_id', md5('g' || n), 'relation', 'father', 'relation_name', 'Relative ' || md5('d' || n), 'relation_is_alive', 'unknown')),
          'notes_section', jsonb_build_array(
              jsonb_build_object('note_subject', 'Home visit', 'note_date', (date '2023-01-01' + (n % 700))::text,
                                 'note_text', repeat(md5(random()::text) || ' ', 12 + (n % 10))),
              jsonb_build_object('note_subject', 'Follow-up', 'note_date', (date '2023-06-01' + (n % 500))::text,
                                 'note_text', repeat(md5(random()::text) || ' ', 8 + (n % 7)))),
          'services_section', jsonb_build_array(jsonb_build_object('service_type', 'health', 'service_implemented', 'implemented',
                                 'service_response_timeframe', '3_days', 'unique_id', md5('s' || n))))
        , first || ' ' || last, (ARRAY['open','open','open','closed'])[1 + (n % 4)], 'worker' || (1 + n % 30),
        timestamp '2021-01-01' + (n % 1500) * interval '1 day'
      FROM (SELECT n, (ARRAY['Amina','Baraka','Chen','Dalia','Emeka','Farah','Grace','Hassan','Imani','Jomo'])[1 + floor(random() * 10)::int] AS first,
                      (ARRAY['Otieno','Mwangi','Achieng','Kamau','Wanjiru','Abdi','Njeri','Omondi','Kiptoo','Hassan'])[1 + floor(random() * 10)::int] AS last
            FROM generate_series($1::int + 1, $1::int + $2::int) n) g
      RETURNING id, created_at
    ), numbered AS (SELECT id, created_at, row_number() OVER () AS n FROM new_cases),
    audit AS (
      INSERT INTO audit_logs (record_type, record_id, action, user_id, resource_url, "timestamp", metadata)
      SELECT 'Child', id::text, a, 1 + (n % 30), '/api/v2/cases/' || id, created_at + interval '1 hour', '{"role_id":3}'
      FROM numbered, unnest(ARRAY['create','update','show']) a
    ), inc AS (
      INSERT INTO incidents (data, incident_case_id)
      SELECT jsonb_build_object('incident_date', created_at::date::text, 'incident_location', 'KE01', 'description', repeat(md5(random()::text), 6)), id
      FROM numbered WHERE n % 4 = 0 RETURNING id
    ), viol AS (
      INSERT INTO violations (data, incident_id) SELECT jsonb_build_object('type', 'killing', 'verified', 'verified'), id FROM inc
    ), fam AS (
      INSERT INTO families (data) SELECT jsonb_build_object('family_number', 'F-' || n, 'family_size', 1 + n % 7) FROM numbered WHERE n % 8 = 0
    ), reg AS (
      INSERT INTO registry_records (data) SELECT jsonb_build_object('registry_type', 'farm', 'name', 'Registry ' || n) FROM numbered WHERE n % 20 = 0
    ), tr AS (
      INSERT INTO tracing_requests (data) SELECT jsonb_build_object('relation_name', 'Inquirer ' || md5(n::text), 'inquiry_date', created_at::date::text)
      FROM numbered WHERE n % 10 = 0 RETURNING id
    ), trc AS (
      INSERT INTO traces (data, tracing_request_id) SELECT jsonb_build_object('name', 'Sought ' || md5(id::text)), id FROM tr
    ), alrt AS (
      INSERT INTO alerts (type, alert_for, date, form_sidebar_id, record_id, record_type, user_id, agency_id)
      SELECT 'notes', 'field_change', created_at::date, 'notes_section', id, 'Child', 1 + n % 30, 1 + n % 4 FROM numbered WHERE n % 5 = 0
    ), flg AS (
      INSERT INTO flags (record_id, record_type, date, message, flagged_by) SELECT id, 'Child', created_at::date, 'Check identity', 'worker1'
      FROM numbered WHERE n % 20 = 0
    ), trn AS (
      INSERT INTO transitions (type, status, record_id, record_type, transitioned_to, transitioned_by)
      SELECT 'Referral', 'accepted', id, 'Child', 'worker' || (1 + (n + 1) % 30), 'worker' || (1 + n % 30) FROM numbered WHERE n % 10 = 0
    )
    INSERT INTO searchable_identifiers (record_type, record_id, field_name, value)
    SELECT 'Child', id, 'case_id_display', substr(md5(id::text), 1, 7) FROM numbered`,
    [offset, count],
  );
}

async function plantSentinel(db: pg.Client, sentinel: string): Promise<void> {
  await db.query(
    `UPDATE cases SET data = data || jsonb_build_object('name', $1::text, 'notes_section',
       jsonb_build_array(jsonb_build_object('note_subject', 'Disclosure', 'note_text', $1::text))), srch_name = $1::text
     WHERE id IN (SELECT id FROM cases ORDER BY created_at LIMIT 5)`,
    [sentinel],
  );
}

async function writeBlobs(
  db: pg.Client,
  spec: NonNullable<PrimeroDbOptions['attachments']>,
  seed: number,
  sentinel: string | undefined,
  progress: (message: string) => void,
): Promise<BuiltBlob[]> {
  const random = mulberry32(seed);
  const minBytes = spec.minBytes ?? 2048;
  const maxBytes = spec.maxBytes ?? 32_768;
  const { rows: caseRows } = await db.query<{ id: string }>(
    'SELECT id FROM cases ORDER BY created_at, id LIMIT $1',
    [Math.max(1, spec.count)],
  );
  const blobs: BuiltBlob[] = [];
  const values: unknown[][] = [];
  for (let i = 0; i < spec.count; i += 1) {
    const key = base36Key(random);
    const size = minBytes + Math.floor(random() * (maxBytes - minBytes + 1));
    const content = Buffer.allocUnsafe(size);
    for (let j = 0; j < size; j += 4)
      content.writeUInt32LE(Math.floor(random() * 4_294_967_296), Math.min(j, size - 4));
    const header = Buffer.from(i % 2 === 0 ? '%PDF-1.4\n' : '\xff\xd8\xff\xe0JFIF', 'latin1');
    header.copy(content, 0);
    if (sentinel && i < 3)
      Buffer.from(`\n${sentinel}\n`).copy(content, Math.min(64, size - sentinel.length - 2));
    const checksum = createHash('md5').update(content).digest('base64');
    const path = join(spec.root, diskBlobPath(key));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
    blobs.push({ key, checksum, byteSize: size, path });
    values.push([
      key,
      i % 2 === 0 ? 'document.pdf' : 'photo.jpg',
      i % 2 === 0 ? 'application/pdf' : 'image/jpeg',
      size,
      checksum,
    ]);
    if ((i + 1) % 1000 === 0) progress(`attachments ${i + 1}/${spec.count}`);
  }
  for (let start = 0; start < values.length; start += 1000) {
    const chunk = values.slice(start, start + 1000);
    await db.query(
      `WITH b AS (
         INSERT INTO active_storage_blobs (key, filename, content_type, metadata, service_name, byte_size, checksum, created_at)
         SELECT k, f, c, '{"identified":true,"analyzed":true}', 'local', s, h, now()
         FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::bigint[], $5::varchar[]) AS t(k, f, c, s, h)
         RETURNING id, key
       ), a AS (
         INSERT INTO attachments (record_type, record_id, field_name, attachment_type, date)
         SELECT 'Child', ($6::uuid[])[1 + ((row_number() OVER (ORDER BY b.id))::int - 1) % array_length($6::uuid[], 1)],
                'photos', 'image', current_date FROM b RETURNING id
       )
       INSERT INTO active_storage_attachments (name, record_type, record_id, blob_id, created_at)
       SELECT 'file', 'Attachment', a.id, b.id, now()
       FROM (SELECT id, row_number() OVER (ORDER BY id) r FROM a) a JOIN (SELECT id, row_number() OVER (ORDER BY id) r FROM b) b USING (r)`,
      [
        chunk.map((v) => v[0]),
        chunk.map((v) => v[1]),
        chunk.map((v) => v[2]),
        chunk.map((v) => v[3]),
        chunk.map((v) => v[4]),
        caseRows.map((row) => row.id),
      ],
    );
  }
  return blobs;
}
