import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { type BackupSite, backupSite, listFiles, tableDigests } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { pgInfo, primeroDatabase, queryDatabase, uniqueDatabaseName } from '../support/pg.js';
import { testSecret } from '../support/secrets.js';

/**
 * One real PostgreSQL server holds a production database and a demo database (as the repro did);
 * production's backup set must never be restored or drilled into demo's database, however its URL is spelled.
 */

interface ConfigDoc {
  sites: Record<
    string,
    { database: { url: string; password: unknown }; drills: { server?: string } } & Record<string, unknown>
  >;
}

/** Not `production`: drills of this file make scratch databases named after the site. */
const PROD = 'prod-main';
const SCRATCH = 'tier4_drill_prod_main_%';
const SENTINEL = 'Sentinel-Child-Name-5b1c';

let site: BackupSite;
let setId: string;
let demoDb: string;
let demoFolder: string;
let config: string;
let proxy: Server;
let proxyPort: number;

function demoSite(url: string, folder: string) {
  return {
    role: 'demo',
    platform: 'kubernetes',
    primero: { url: 'https://demo.rehearsal.invalid', version: 'v2.15.2' },
    database: { url, password: { env: 'TIER4_LOCAL_DB_PASSWORD' } },
    attachments: { type: 'local', path: folder },
  };
}

/** The site's tier4.yaml with a demo site added (and any other edit), written beside it. */
async function writeConfig(name: string, edit: (doc: ConfigDoc) => void = () => {}): Promise<string> {
  const doc = parse(await readFile(site.configPath, 'utf8'));
  const info = pgInfo();
  doc.sites.demo = demoSite(`postgres://${info.user}@${info.host}:${info.port}/${demoDb}`, demoFolder);
  edit(doc);
  const file = join(site.dir, name);
  await writeFile(file, stringify(doc));
  return file;
}

function restore(configFile: string, target: string, ...extra: string[]) {
  return tier4(
    [
      '-c',
      configFile,
      'restore',
      setId,
      '--site',
      PROD,
      '--target-database',
      target,
      '--yes',
      '--confirm',
      PROD,
      ...extra,
    ],
    { env: site.env },
  );
}

beforeAll(async () => {
  site = await backupSite({ cases: 20, blobs: 3, sentinel: SENTINEL, site: PROD });
  const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
    env: site.env,
  });
  expect(created.code).toBe(0);
  setId = JSON.parse(created.stdout).id;
  demoFolder = join(site.dir, 'demo-storage');
  await mkdir(demoFolder);
  await writeFile(join(demoFolder, 'demo-file'), 'demo only');
  demoDb = (await primeroDatabase({ cases: 3 })).database;
  config = await writeConfig('tier4-with-demo.yaml');
  // A plain TCP relay to the server: another address and port, the same server (only its identity tells).
  const info = pgInfo();
  proxy = createServer((socket) => {
    const upstream = connect(info.port, info.host);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyPort = (proxy.address() as { port: number }).port;
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
});

describe('restore never targets the demo site', () => {
  test("demo's database, spelled as in its configuration, is refused: exit 2, demo's tables unchanged", async () => {
    const before = await tableDigests(demoDb);
    const info = pgInfo();
    const spellings = [
      `postgres://${info.user}@localhost:${info.port}/${demoDb}`,
      `postgresql://${info.user}@127.0.0.1:${info.port}/${demoDb}?sslmode=disable&application_name=restore`,
      // ::1 is this machine too; the server does not even listen there, the addresses alone decide.
      `postgres://${info.user}@[::1]:${info.port}/${demoDb}`,
      // pg_restore (libpq) lets ?host= and ?dbname= override the URL's own parts; tier4's client does not.
      `postgres://${info.user}@db.elsewhere.invalid:${info.port}/restored?host=localhost&dbname=${demoDb}`,
    ];
    for (const target of spellings) {
      const result = await restore(config, target, '--replace');
      expect(result.stderr, target).toContain('is the demo site "demo"\'s');
      expect(result.stderr).toContain('nothing was touched');
      expect(result.code, target).toBe(2);
    }
    expect(await tableDigests(demoDb)).toEqual(before);
  });

  test("another address and port that reach demo's server are caught by the server's identity", async () => {
    const before = await tableDigests(demoDb);
    const info = pgInfo();
    const result = await restore(
      config,
      `postgres://${info.user}@127.0.0.1:${proxyPort}/${demoDb}`,
      '--replace',
    );
    expect(result.stderr).toContain('is the demo site "demo"\'s');
    expect(result.code).toBe(2);
    expect(await tableDigests(demoDb)).toEqual(before);
  });

  test('no option makes demo a target: --allow-non-production-target is refused the same', async () => {
    const before = await tableDigests(demoDb);
    const info = pgInfo();
    const result = await restore(
      config,
      `postgres://${info.user}@localhost:${info.port}/${demoDb}`,
      '--replace',
      '--allow-non-production-target',
    );
    expect(result.stderr).toContain('No option overrides this');
    expect(result.code).toBe(2);
    expect(await tableDigests(demoDb)).toEqual(before);
  });

  test("when demo's server identity cannot be read, the addresses decide, and the operator is told", async () => {
    const info = pgInfo();
    const role = uniqueDatabaseName('demo_app');
    const password = testSecret('demo-app');
    await queryDatabase('postgres', `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    // Revoked in demo's database only: the rest of the suite's server is unaffected.
    await queryDatabase(demoDb, 'REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC');
    const file = await writeConfig('tier4-demo-unprivileged.yaml', (doc) => {
      doc.sites.demo!.database = {
        url: `postgres://${role}@127.0.0.1:${info.port}/${demoDb}`,
        password: { env: 'T4_DEMO_APP_PASSWORD' },
      };
    });
    const before = await tableDigests(demoDb);
    const result = await tier4(
      [
        '-c',
        file,
        'restore',
        setId,
        '--site',
        PROD,
        '--target-database',
        `postgres://${info.user}@localhost:${info.port}/${demoDb}`,
        '--replace',
        '--yes',
        '--confirm',
        PROD,
      ],
      { env: { ...site.env, T4_DEMO_APP_PASSWORD: password } },
    );
    expect(result.stderr).toContain('permission denied for pg_control_system()');
    expect(result.stderr).toContain('by address and port only');
    expect(result.stderr).toContain('is the demo site "demo"\'s');
    expect(result.code).toBe(2);
    expect(await tableDigests(demoDb)).toEqual(before);
  });

  test("--attachments-to demo's folder (through a symlink) is refused and the folder is untouched", async () => {
    const link = join(site.dir, 'looks-harmless');
    await symlink(demoFolder, link);
    const before = await listFiles(demoFolder);
    const target = `postgres://${pgInfo().user}@127.0.0.1:${pgInfo().port}/${uniqueDatabaseName('restored')}`;
    const result = await restore(config, target, '--attachments-to', join(link, 'sub'));
    expect(result.stderr).toContain('--attachments-to');
    expect(result.stderr).toContain('is the demo site "demo"\'s');
    expect(result.code).toBe(2);
    expect(await listFiles(demoFolder)).toEqual(before);
    const exists = await queryDatabase('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [
      new URL(target).pathname.slice(1),
    ]);
    expect(exists).toHaveLength(0);
  });

  test('a new database on a server only demo uses is refused too, even with --allow-non-production-target', async () => {
    // Production lives elsewhere in this configuration: the suite's server is demo's alone.
    const file = await writeConfig('tier4-demo-server.yaml', (doc) => {
      doc.sites[PROD]!.database.url = 'postgres://primero@db.production.invalid:5432/primero';
    });
    const info = pgInfo();
    const database = uniqueDatabaseName('on_demo_server');
    const result = await restore(
      file,
      `postgres://${info.user}@localhost:${info.port}/${database}`,
      '--allow-non-production-target',
    );
    expect(result.stderr).toContain('The target database server is the demo site "demo"\'s');
    expect(result.code).toBe(2);
    expect(
      await queryDatabase('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [database]),
    ).toHaveLength(0);
  });

  test('a production set outside production needs --allow-non-production-target and the typed confirmation', async () => {
    // Production and demo live elsewhere in this configuration: the suite's server is neither.
    const file = await writeConfig('tier4-elsewhere.yaml', (doc) => {
      doc.sites[PROD]!.database.url = `postgres://primero@db.production.invalid:5432/primero`;
      doc.sites.demo!.database.url = `postgres://primero@db.demo.invalid:5432/primero`;
    });
    const info = pgInfo();
    const database = uniqueDatabaseName('laptop');
    const target = `postgres://${info.user}@127.0.0.1:${info.port}/${database}`;
    const refused = await restore(file, target);
    expect(refused.stderr).toContain('would copy real data outside production');
    expect(refused.code).toBe(2);
    const unconfirmed = await tier4(
      [
        '-c',
        file,
        'restore',
        setId,
        '--site',
        PROD,
        '--target-database',
        target,
        '--allow-non-production-target',
      ],
      { env: site.env },
    );
    expect(unconfirmed.code).toBe(2);
    expect(
      await queryDatabase('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [database]),
    ).toHaveLength(0);

    const allowed = await restore(file, target, '--allow-non-production-target', '--operator', 'ops-7');
    expect(allowed.stderr).toContain(
      `--allow-non-production-target: restoring real data of ${PROD} outside production`,
    );
    expect(allowed.code).toBe(0);
    expect(await tableDigests(database)).toEqual(await tableDigests(site.db.database));

    const history = await tier4(['--json', '-c', file, 'restore', 'history'], { env: site.env });
    const runs = JSON.parse(history.stdout).runs;
    const run = runs.find((r: { operator: string }) => r.operator === 'ops-7');
    expect(run).toMatchObject({
      kind: 'restore',
      result: 'succeeded',
      targetKind: 'non-production',
      allowNonProductionTarget: true,
    });
  });
});

describe('drills never target the demo site', () => {
  test("a drill whose server is demo's database is refused before any scratch database is made", async () => {
    const info = pgInfo();
    const file = await writeConfig('tier4-drill-demo.yaml', (doc) => {
      doc.sites[PROD]!.drills.server =
        `postgres://${info.user}@localhost:${info.port}/${demoDb}?application_name=drill`;
    });
    const before = await tableDigests(demoDb);
    const scratchBefore = await queryDatabase(
      'postgres',
      'SELECT datname FROM pg_database WHERE datname LIKE $1',
      [SCRATCH],
    );
    const result = await tier4(['-c', file, 'drill', '--site', PROD], { env: site.env });
    expect(result.stderr).toContain('is the demo site "demo"\'s');
    expect(result.code).toBe(2);
    expect(await tableDigests(demoDb)).toEqual(before);
    expect(
      await queryDatabase('postgres', 'SELECT datname FROM pg_database WHERE datname LIKE $1', [SCRATCH]),
    ).toEqual(scratchBefore);
  });
});

describe('the audit log of restores and drills', () => {
  test('records a restore and a drill (and a refusal); restore history prints them, --json too; no personal data', async () => {
    const file = await writeConfig('tier4-audit.yaml');
    const info = pgInfo();
    const database = uniqueDatabaseName('restored');
    const restored = await restore(
      file,
      `postgres://${info.user}@127.0.0.1:${info.port}/${database}`,
      '--attachments-to',
      join(site.dir, 'restored-files'),
    );
    expect(restored.code).toBe(0);
    const drill = await tier4(['-c', file, 'drill', '--site', PROD, '--operator', 'drill-bot'], {
      env: site.env,
    });
    expect(drill.code).toBe(0);
    const refused = await restore(file, `postgres://${info.user}@localhost:${info.port}/${demoDb}`);
    expect(refused.code).toBe(2);

    const text = await tier4(['-c', file, 'restore', 'history'], { env: site.env });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /restore\s+prod-main\s+\S+\s+postgres:\/\/\S+\/restored_\w+ \(scratch\)\s+succeeded/,
    );
    expect(text.stdout).toMatch(/drill\s+prod-main\s+\S+.*succeeded\s+drill-bot\s+drill passed/);
    expect(text.stdout).toMatch(/refused/);

    const json = JSON.parse(
      (await tier4(['--json', '-c', file, 'restore', 'history'], { env: site.env })).stdout,
    );
    const kinds = json.runs.map((run: { kind: string; result: string }) => `${run.kind}:${run.result}`);
    expect(kinds.slice(0, 3)).toEqual(['restore:refused', 'drill:succeeded', 'restore:succeeded']);
    const restoreRun = json.runs[2];
    expect(restoreRun.set).toBe(setId);
    expect(restoreRun.restored.rows.cases).toBe(20);
    expect(restoreRun.restored.attachments).toBe(3);
    expect(restoreRun.finishedAt >= restoreRun.at).toBe(true);
    expect(json.runs[1].restored.rows.cases).toBe(20);

    const log = await readFile(json.log, 'utf8');
    expect(log).not.toContain(SENTINEL);
    expect(log).not.toContain(info.password);
    // Each run has a start line and an end line, except the refusal, which never started.
    expect(log.trim().split('\n').length).toBeGreaterThanOrEqual(5);

    // The doctor shows the last restore and drill; the last restore was refused, which is worth a look.
    const doctor = JSON.parse(
      (await tier4(['--json', '-c', file, 'doctor', '--site', PROD], { env: site.env })).stdout,
    );
    const restores = doctor.checks.find((check: { check: string }) => check.check === 'restores');
    expect(restores.status).toBe('warn');
    expect(restores.message).toMatch(
      /^last restore \S+ \S+ refused \(by \S+\); last drill \S+ \S+ succeeded \(set \S+, scratch target, by drill-bot\)/,
    );

    // The drill's record is in the repository too (drills in the cluster leave no local log).
    const fromRepo = JSON.parse(
      (await tier4(['--json', '-c', file, 'restore', 'history', '--site', PROD], { env: site.env })).stdout,
    );
    expect(fromRepo.runs.some((run: { kind: string }) => run.kind === 'drill')).toBe(true);
    const stored = (await listFiles(site.repository.replace('file://', ''))).filter((f) =>
      f.includes('/audit/'),
    );
    expect(stored.length).toBeGreaterThanOrEqual(1);
  });
});
