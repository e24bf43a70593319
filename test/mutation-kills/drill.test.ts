import { open, readdir, truncate } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateIdentity } from '../../backups/crypto/age.js';
import { findSet, type SiteRepository, siteIdentities } from '../../backups/index.js';
import { layout } from '../../backups/layout.js';
import { type Manifest, sealManifest } from '../../backups/manifest.js';
import { toolVersion } from '../../core/package-info.js';
import { REQUIRED_EXTENSIONS } from '../../core/primero/tables.js';
import type { DrillReport } from '../../drills/report.js';
import { type DrillOptions, runDrill } from '../../drills/run.js';
import { pgInfo, queryDatabase, uniqueDatabaseName } from '../support/pg.js';
import { type CachedSet, cachedSet, copyOfRepository } from './cached-set.js';

// A restore drill in the test process (drills/run.ts), on tiny sets built once (cached-set.ts) and copied for
// each test: the exact checks, evidence, measures and steps of a good drill and of each kind of failure, and
// that the scratch database is always dropped.

let good: CachedSet;
let broken: CachedSet;

beforeAll(async () => {
  // One attachment's row has no checksum (Primero allows it): the drill can compare its size only.
  good = await cachedSet({
    site: 'drill-mk',
    cases: 3,
    blobs: 3,
    prepare: [
      'UPDATE active_storage_blobs SET checksum = NULL WHERE key = (SELECT min(key) FROM active_storage_blobs)',
    ],
  });
  // A database that lost pg_trgm, its settings row and its migrations: restored as it was, it fails the checks.
  broken = await cachedSet({
    site: 'drill-broken',
    cases: 2,
    blobs: 0,
    prepare: [
      'DROP EXTENSION pg_trgm CASCADE',
      'DELETE FROM system_settings',
      'DELETE FROM schema_migrations',
    ],
  });
});

const server = () => {
  const info = pgInfo();
  return { url: `postgres://${info.user}@${info.host}:${info.port}/postgres`, password: info.password };
};

async function scratchDatabases(site: string): Promise<string[]> {
  const rows = await queryDatabase<{ datname: string }>(
    'postgres',
    'SELECT datname FROM pg_database WHERE datname LIKE $1',
    [`tier4_drill_${site.replaceAll('-', '_')}_%`],
  );
  return rows.map((row) => row.datname);
}

interface Drilled {
  report: DrillReport;
  notes: string[];
  repo: SiteRepository;
}

async function drill(repo: SiteRepository, options: Partial<DrillOptions> = {}): Promise<Drilled> {
  const notes: string[] = [];
  const report = await runDrill(repo, {
    identities: siteIdentities(repo),
    server: server(),
    onProgress: (event) => {
      if ('message' in event) notes.push(event.message);
    },
    ...options,
  });
  expect(await scratchDatabases(repo.site)).toEqual([]);
  // The drill's restore lock is released: no lock object is left in the repository.
  const locks: string[] = [];
  for await (const object of repo.state.list(layout.restoreLocksPrefix(repo.site))) locks.push(object.key);
  expect(locks).toEqual([]);
  return { report, notes, repo };
}

const byName = (report: DrillReport) => Object.fromEntries(report.checks.map((c) => [c.name, c]));
const stored = (manifest: Manifest) =>
  manifest.database.size + manifest.attachments.blobs.reduce((sum, blob) => sum + blob.size, 0);
const objects = (manifest: Manifest) => 1 + manifest.attachments.blobs.length;

const ALL_STEPS = [
  'verify checksums',
  'decrypt',
  'restore into the scratch database',
  'compare with the manifest',
  'check a sample of attachments',
  'health check',
  'drop the scratch database',
];

describe('a drill whose set cannot be restored', () => {
  test('a truncated dump fails verification; the restore-dependent checks are not run', async () => {
    const { repo, objectPath } = await copyOfRepository(good);
    const manifest = good.manifest;
    await truncate(objectPath(manifest.database.object), 100);
    const { report } = await drill(repo);
    expect(report.failedChecks).toEqual(['checksums']);
    expect(report.checks.map((c) => [c.name, c.status, c.evidence])).toEqual([
      [
        'checksums',
        'fail',
        `1 of ${objects(manifest)} objects do not match: ${manifest.database.object} (size 100, expected ${manifest.database.size})`,
      ],
      ...[
        'decryption',
        'restore',
        'row-counts',
        'schema-migrations',
        'primero-version',
        'extensions',
        'system-settings',
        'attachments',
      ].map((name) => [name, 'skip', 'not run: the database dump failed verification']),
      ['health', 'skip', 'no drills.healthUrl configured: no Primero was started on the restored data'],
    ]);
    expect(report.steps.map((s) => s.step)).toEqual([
      'verify checksums',
      'health check',
      'drop the scratch database',
    ]);
    expect(report.measures.bytesMoved).toBe(stored(manifest) - manifest.database.size + 100);
  });

  test('the wrong identity fails the decryption check; nothing is restored', async () => {
    const { repo } = await copyOfRepository(good);
    const other = await generateIdentity();
    const { report } = await drill(repo, { identities: [other.identity] });
    expect(report.failedChecks).toEqual(['decryption']);
    const checks = byName(report);
    expect(checks.decryption!.evidence).toContain('cannot decrypt');
    for (const name of ['restore', 'row-counts', 'attachments'])
      expect([checks[name]!.status, checks[name]!.evidence]).toEqual([
        'skip',
        'not run: the dump could not be decrypted',
      ]);
    expect(report.measures.bytesMoved).toBe(stored(good.manifest));
  });

  test('a server that refuses to create the scratch database fails the restore; the drop still runs', async () => {
    const { repo } = await copyOfRepository(good);
    const info = pgInfo();
    const role = uniqueDatabaseName('tier4_nocreatedb');
    const password = `pw-${uniqueDatabaseName('x')}`;
    await queryDatabase('postgres', `CREATE ROLE ${role} LOGIN NOCREATEDB PASSWORD '${password}'`);
    try {
      const { report } = await drill(repo, {
        server: { url: `postgres://${role}@${info.host}:${info.port}/postgres`, password },
      });
      expect(report.failedChecks).toEqual(['restore']);
      const checks = byName(report);
      expect(checks.restore!.evidence).toMatch(
        /^restore into the scratch database failed: .*may not create databases/,
      );
      for (const name of [
        'row-counts',
        'schema-migrations',
        'primero-version',
        'extensions',
        'system-settings',
        'attachments',
      ])
        expect([checks[name]!.status, checks[name]!.evidence]).toEqual([
          'skip',
          'not run: the restore into the scratch database failed',
        ]);
      expect(checks).not.toHaveProperty('cleanup');
      expect(report.steps.find((s) => s.step === 'drop the scratch database')?.outcome).toBe('ok');
      expect(report.measures.bytesMoved).toBe(stored(good.manifest));
    } finally {
      await queryDatabase('postgres', `DROP ROLE IF EXISTS ${role}`);
    }
  });

  test('an unreachable server: the failing drop is reported beside the restore failure, with the SQL to run', async () => {
    const { repo } = await copyOfRepository(good);
    const { report } = await drill(repo, {
      server: { url: `postgres://${pgInfo().user}@127.0.0.1:1/postgres`, password: 'not-used' },
    });
    expect(report.failedChecks).toEqual(['restore', 'cleanup']);
    const cleanup = byName(report).cleanup!;
    expect(cleanup.status).toBe('fail');
    expect(cleanup.evidence).toMatch(
      new RegExp(
        `^the scratch database ${report.scratchDatabase} could not be dropped \\(.+\\): drop it by hand, DROP DATABASE "${report.scratchDatabase}";$`,
      ),
    );
    // cleanup is not one of the ordered checks: it comes last.
    expect(report.checks.at(-1)!.name).toBe('cleanup');
  });
});

describe('which set is drilled, and the health check', () => {
  let health: Server;
  let url: string;
  const paths: string[] = [];
  let status = 204;
  beforeAll(async () => {
    health = createServer((request, response) => {
      paths.push(request.url ?? '');
      response.statusCode = status;
      response.end();
    });
    await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(health.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => health.close(() => resolve())));

  /** A copy whose dump is truncated (a cheap drill: nothing to restore) and whose newest set is untrusted. */
  async function cheapCopy() {
    const copy = await copyOfRepository(good);
    await truncate(copy.objectPath(good.manifest.database.object), 100);
    return copy;
  }

  test('GET <healthUrl>/health: 204 and 200 pass, another status or no answer fails, with the status', async () => {
    const { repo } = await cheapCopy();
    const outcomes: unknown[] = [];
    for (const [answer, base] of [
      [204, `${url}/primero/`],
      [200, url],
      [503, url],
    ] as const) {
      status = answer;
      const { report } = await drill(repo, { healthUrl: base });
      outcomes.push([byName(report).health!.status, byName(report).health!.evidence]);
    }
    expect(outcomes).toEqual([
      ['ok', `GET ${url}/health answered 204`],
      ['ok', `GET ${url}/health answered 200`],
      ['fail', `GET ${url}/health answered 503`],
    ]);
    expect(paths).toEqual(['/health', '/health', '/health']);
    const { report } = await drill(repo, { healthUrl: 'http://127.0.0.1:1' });
    expect(byName(report).health!.status).toBe('fail');
    expect(byName(report).health!.evidence).toMatch(/^GET http:\/\/127\.0\.0\.1:1\/health failed: .+/);
    expect(report.failedChecks).toEqual(['checksums', 'health']);
  });

  test('an untrusted newer set fails the newest-set check, first; the older set is drilled', async () => {
    const { repo, objectPath } = await cheapCopy();
    const manifest = good.manifest;
    // A newer set whose manifest was altered after sealing.
    const newer = `${manifest.id.slice(0, 4)}1231T235959.999Z-abcdef`;
    const forged = { ...manifest, id: newer, site: repo.site };
    await repo.store.putBytes(layout.manifest(repo.site, newer), JSON.stringify(forged));
    const expected = await findSet(repo, 'latest');
    expect(expected.skippedUntrusted).toHaveLength(1);
    const { report, notes } = await drill(repo);
    expect(report.setId).toBe(manifest.id);
    expect(report.checks[0]).toEqual({
      name: 'newest-set',
      status: 'fail',
      evidence: expected.warnings[0],
      details: { untrusted: expected.skippedUntrusted },
    });
    expect(report.failedChecks).toEqual(['newest-set', 'checksums']);
    expect(notes.filter((note) => note.startsWith('warning: '))).toEqual(
      expected.warnings.map((warning) => `warning: ${warning}`),
    );
    // Naming the older set drills it without the check.
    const named = await drill(repo, { backupId: manifest.id });
    expect(named.report.checks.map((c) => c.name)).not.toContain('newest-set');
    expect(await readdir(objectPath(`${repo.site}/sets/`))).toHaveLength(2);
  });
});

describe('a drill of a good set', () => {
  test('passes every check with exact evidence, measures in seconds, and drops the scratch database', async () => {
    const { repo } = await copyOfRepository(good);
    const manifest = good.manifest;
    const before = Date.now();
    const { report, notes } = await drill(repo);
    const after = Date.now();
    expect(report.format).toBe('tier4-drill/2');
    expect(report.ok).toBe(true);
    expect(report.failedChecks).toEqual([]);
    expect(report.site).toBe('drill-mk');
    expect(report.setId).toBe(manifest.id);
    expect(report.tool).toEqual({ name: 'primero-tier4', version: toolVersion() });
    expect(report.id).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(report.scratchDatabase).toMatch(/^tier4_drill_drill_mk_[0-9a-f]{8}$/);
    const started = Date.parse(report.startedAt);
    const finished = Date.parse(report.finishedAt);
    expect(started).toBeGreaterThanOrEqual(before);
    expect(finished).toBeLessThanOrEqual(after);
    expect(report.id.slice(0, 15)).toBe(
      report.startedAt
        .replace(/[-:]/g, '')
        .replace(/\.\d+Z$/, 'Z')
        .slice(0, 15),
    );

    const tables = await queryDatabase<{ n: string }>(
      good.site.db.database,
      "SELECT count(*) AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    );
    const rowCounts = manifest.database.rowCounts;
    const checks = byName(report);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['checksums', 'ok'],
      ['decryption', 'ok'],
      ['restore', 'ok'],
      ['row-counts', 'ok'],
      ['schema-migrations', 'ok'],
      ['primero-version', 'ok'],
      ['extensions', 'ok'],
      ['system-settings', 'ok'],
      ['attachments', 'ok'],
      ['health', 'skip'],
    ]);
    expect(checks.checksums!.evidence).toBe(
      `${objects(manifest)} objects (${stored(manifest)} bytes) match the manifest's SHA-256 and sizes`,
    );
    expect(checks.decryption!.evidence).toBe(
      'the configured identity decrypts the dump (one of 1 recipient(s))',
    );
    expect(checks.restore!.evidence).toMatch(
      new RegExp(`^pg_restore restored ${tables[0]!.n} tables in \\d+\\.\\d s$`),
    );
    expect(checks['row-counts']!.evidence).toBe(
      `${Object.keys(rowCounts).length} key tables have the manifest's row counts (cases: 3)`,
    );
    expect(Object.keys(rowCounts).length).toBeGreaterThan(3);
    expect(checks['row-counts']!.details).toEqual({ expected: rowCounts, restored: rowCounts });
    expect(checks['schema-migrations']!.evidence).toBe(
      `newest schema_migrations version ${good.site.db.latestMigration} (manifest: ${good.site.db.latestMigration})`,
    );
    expect(checks['primero-version']!.evidence).toBe(
      `system_settings.primero_version ${manifest.database.primeroVersion} (manifest: ${manifest.database.primeroVersion})`,
    );
    expect(manifest.database.primeroVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(manifest.database.latestMigration).toBe(good.site.db.latestMigration);
    expect(checks.extensions!.evidence).toBe(`present: ${REQUIRED_EXTENSIONS.join(', ')}`);
    expect(checks['system-settings']!.evidence).toBe(
      `system_settings has ${rowCounts.system_settings} row(s)`,
    );
    expect(rowCounts.system_settings).toBe(1);
    expect(checks.attachments!.evidence).toBe(
      '3 of 3 attachments decrypted and matched active_storage_blobs.checksum',
    );
    expect(checks.health!.evidence).toBe(
      'no drills.healthUrl configured: no Primero was started on the restored data',
    );
    for (const check of report.checks)
      if (check.name !== 'row-counts') expect(check, check.name).not.toHaveProperty('details');

    expect(report.steps.map((s) => [s.step, s.outcome])).toEqual(ALL_STEPS.map((step) => [step, 'ok']));
    expect(notes).toEqual(ALL_STEPS.map((step) => `drill: ${step}`));
    // Every object read once to verify it, then the dump to restore and each sampled attachment to check it.
    expect(report.measures.bytesMoved).toBe(2 * stored(manifest));
    // RTO in seconds: at least the steps up to the data checks, at most the drill's own duration.
    const recovery = report.steps.slice(0, 5).reduce((sum, s) => sum + s.seconds, 0);
    expect(report.measures.rtoSeconds).toBeGreaterThanOrEqual(recovery - 0.01);
    expect(report.measures.rtoSeconds).toBeLessThanOrEqual((finished - started) / 1000);
    expect(report.measures.dataAgeSeconds).toBeCloseTo((started - Date.parse(manifest.snapshotAt)) / 1000, 3);
  });

  test('a sample smaller than the set checks that many attachments, and moves only their bytes', async () => {
    const { repo } = await copyOfRepository(good);
    const manifest = good.manifest;
    const { report } = await drill(repo, { sample: 1, backupId: manifest.id });
    expect(report.ok).toBe(true);
    expect(byName(report).attachments!.evidence).toBe(
      '1 of 3 attachments decrypted and matched active_storage_blobs.checksum',
    );
    const extra = report.measures.bytesMoved - stored(manifest) - manifest.database.size;
    expect(manifest.attachments.blobs.map((blob) => blob.size)).toContain(extra);
  });

  test('a drill interrupted after the restore still drops its scratch database and its lock', async () => {
    const { repo } = await copyOfRepository(good);
    const controller = new AbortController();
    let restored = false;
    const outcome = await runDrill(repo, {
      identities: siteIdentities(repo),
      server: server(),
      signal: controller.signal,
      onProgress: (event) => {
        if ('message' in event && event.message === 'drill: compare with the manifest') {
          restored = true;
          controller.abort(new Error('interrupted'));
        }
      },
    }).then(
      () => 'finished',
      (error: Error) => error.message,
    );
    expect(restored).toBe(true);
    expect(outcome).toBe('interrupted');
    expect(await scratchDatabases(repo.site)).toEqual([]);
    const locks: string[] = [];
    for await (const object of repo.state.list(layout.restoreLocksPrefix(repo.site))) locks.push(object.key);
    expect(locks).toEqual([]);
  });
});

describe('a drill that finds a fault', () => {
  test('a damaged attachment fails checksums and attachments, naming it; the database is still checked', async () => {
    const { repo, objectPath } = await copyOfRepository(good);
    const manifest = good.manifest;
    const blob = manifest.attachments.blobs[1]!;
    const handle = await open(objectPath(blob.object), 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, 100);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, 100);
    await handle.close();
    // A sample of none: only the damaged attachment is read back, as it always is.
    const { report } = await drill(repo, { sample: 0 });
    expect(report.ok).toBe(false);
    expect(report.failedChecks).toEqual(['checksums', 'attachments']);
    const checks = byName(report);
    expect(checks.checksums!.evidence).toBe(
      `1 of ${objects(manifest)} objects do not match: ${blob.object} (SHA-256 does not match the manifest)`,
    );
    expect(checks.attachments!.evidence).toMatch(
      new RegExp(`^1 of 1 sampled attachments failed: ${blob.key}: .+`),
    );
    expect(checks['row-counts']!.status).toBe('ok');
    // Verification reads everything; then the dump. The damaged attachment could not be read through: it
    // is not counted.
    expect(report.measures.bytesMoved).toBe(stored(manifest) + manifest.database.size);
  });

  test('an attachment of another checksum, another size, or missing from the database fails, each named', async () => {
    const { repo } = await copyOfRepository(good);
    const manifest = good.manifest;
    // The attachment whose row has no checksum (the fixture's) is checked by size only: it is the third.
    const third = manifest.attachments.blobs.find((blob) => blob.checksum === null);
    const [first, second] = manifest.attachments.blobs.filter((blob) => blob !== third);
    // Sealed with the site's key: only the drill's own comparisons can notice. The first two attachments'
    // keys are swapped (each copy now answers for the other's row), the third claims one byte more, and a
    // fourth names a key the database does not have.
    const { mac: _mac, ...body } = structuredClone(manifest);
    body.attachments.blobs = [
      { ...first!, key: second!.key },
      { ...second!, key: first!.key },
      { ...third!, plainSize: third!.plainSize + 1 },
      { ...third!, key: 'nosuchkey0000000000000000000' },
    ];
    await repo.store.putBytes(
      layout.manifest(repo.site, manifest.id),
      JSON.stringify(sealManifest(body, repo.macKey)),
    );
    const { report } = await drill(repo);
    expect(report.failedChecks).toEqual(['attachments']);
    const evidence = byName(report).attachments!.evidence;
    const prefix = '4 of 4 sampled attachments failed: ';
    expect(evidence.startsWith(prefix)).toBe(true);
    expect(evidence.slice(prefix.length).split('; ').sort()).toEqual(
      [
        `${second!.key}: MD5 does not match active_storage_blobs.checksum`,
        `${first!.key}: MD5 does not match active_storage_blobs.checksum`,
        `${third!.key}: ${third!.plainSize} bytes, expected ${third!.plainSize + 1}`,
        'nosuchkey0000000000000000000: not in the restored active_storage_blobs',
      ].sort(),
    );
  });
});

describe('a drill of a database that lost what Primero needs', () => {
  test('a missing extension, an empty system_settings and counts or a version the manifest does not promise fail, each named', async () => {
    const { repo } = await copyOfRepository(broken);
    const manifest = broken.manifest;
    // Sealed with the site's key, as a create that counted wrong would write it: only the drill can notice.
    const { mac: _mac, ...body } = structuredClone(manifest);
    const counts: Record<string, number> = { ...body.database.rowCounts, cases: 3, nonexistent: 5 };
    delete counts.users;
    body.database.rowCounts = counts;
    body.database.primeroVersion = '2.11.0';
    await repo.store.putBytes(
      layout.manifest(repo.site, manifest.id),
      JSON.stringify(sealManifest(body, repo.macKey)),
    );
    const { report } = await drill(repo);
    expect(report.failedChecks).toEqual(['row-counts', 'primero-version', 'extensions', 'system-settings']);
    const checks = byName(report);
    expect(checks['row-counts']!.evidence).toBe('differ: cases 2 vs 3, nonexistent missing vs 5');
    expect(checks.extensions!.evidence).toBe('missing: pg_trgm');
    expect(checks['system-settings']!.evidence).toBe('system_settings has 0 row(s)');
    expect(checks['schema-migrations']).toMatchObject({
      status: 'ok',
      evidence: 'newest schema_migrations version none (manifest: none)',
    });
    expect(checks['primero-version']!.evidence).toBe(
      'system_settings.primero_version none (manifest: 2.11.0)',
    );
    expect(checks.attachments).toMatchObject({ status: 'ok', evidence: 'the set has no attachments' });
    expect(report.measures.bytesMoved).toBe(2 * manifest.database.size);
  });
});
