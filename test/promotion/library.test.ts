import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, test } from 'vitest';
import { loadConfig } from '../../core/config/load.js';
import type { SiteConfig } from '../../core/config/schema.js';
import { PrimeroClient } from '../../primero-api/client.js';
import { compareVersions } from '../../primero-api/version.js';
import { applyPromotion } from '../../promotion/apply.js';
import { configurationDrift } from '../../promotion/drift.js';
import { planPromotion } from '../../promotion/plan.js';
import { BACKUPS_UNAVAILABLE } from '../../promotion/preflight.js';
import { readStoredConfiguration } from '../../promotion/transfer.js';
import { tier4 } from '../support/cli.js';
import { primeroDatabase } from '../support/pg.js';
import { PrimeroSimulator } from '../support/primero-simulator.js';
import {
  additiveConfiguration,
  baselineConfiguration,
  comparable,
  mirrorConfigurations,
  type PromotionSites,
  type SiteSetup,
  startPromotionSites,
} from '../support/primero-simulator-sites.js';
import { testSecret } from '../support/secrets.js';

let sites: PromotionSites | undefined;
const simulators: PrimeroSimulator[] = [];

afterEach(async () => {
  await sites?.stop();
  sites = undefined;
  for (const simulator of simulators.splice(0)) await simulator.stop();
});

async function start(setup: SiteSetup = {}): Promise<PromotionSites> {
  sites = await startPromotionSites(setup);
  return sites;
}

async function simulator(options: Partial<ConstructorParameters<typeof PrimeroSimulator>[0]> = {}) {
  const password = testSecret('sim-api');
  const sim = new PrimeroSimulator({
    name: 'sim',
    version: '2.15.2',
    users: [{ username: 'svc', password, token: testSecret('sim-token'), manageConfiguration: true }],
    configuration: baselineConfiguration(),
    ...options,
  });
  await sim.start();
  simulators.push(sim);
  return { sim, password };
}

describe('Primero API client', () => {
  test('follows pagination until metadata.total', async () => {
    const config = baselineConfiguration();
    for (let i = 0; i < 7; i += 1)
      config.Lookup.push({ unique_id: `lookup-extra-${i}`, name: { en: `Extra ${i}` }, values: [] });
    const { sim, password } = await simulator({ configuration: config, maxPer: 2 });
    const client = new PrimeroClient({ site: 'sim', baseUrl: sim.url, auth: { username: 'svc', password } });
    const lookups = await client.list<{ unique_id: string }>('lookups');
    expect(lookups).toHaveLength(10);
    expect(new Set(lookups.map((lookup) => lookup.unique_id)).size).toBe(10);
    expect(sim.requests.filter((line) => line === 'GET /api/v2/lookups')).toHaveLength(5);
  });

  test('waits out 503 + Retry-After while a configuration is applied, within its bound', async () => {
    const { sim, password } = await simulator();
    const retries: number[] = [];
    const client = new PrimeroClient({
      site: 'sim',
      baseUrl: sim.url,
      auth: { username: 'svc', password },
      retry: { retries: 5, maxDelayMs: 40 },
      onRetry: ({ waitMs }) => {
        retries.push(waitMs);
        // The apply ends during the second wait: decided by the retries, not by how fast this machine is.
        if (retries.length === 2) sim.locked = false;
      },
    });
    sim.locked = true;
    const roles = await client.list('roles');
    expect(roles).toHaveLength(2);
    expect(retries).toHaveLength(2);
    // Retry-After says 60 s; the cap keeps each wait at 40 ms.
    expect(Math.max(...retries)).toBe(40);

    sim.locked = true;
    const impatient = new PrimeroClient({
      site: 'sim',
      baseUrl: sim.url,
      auth: { username: 'svc', password },
      retry: { retries: 1, maxDelayMs: 10 },
    });
    await expect(impatient.get('roles')).rejects.toThrow('Primero stayed unavailable (503) after 2 attempts');
    sim.locked = false;
  });

  test('a bearer token works; a wrong one is a clear 401', async () => {
    const { sim } = await simulator();
    const token = sim.users[0]!.token!;
    const client = new PrimeroClient({ site: 'sim', baseUrl: sim.url, auth: { token } });
    expect(await client.list('agencies')).toHaveLength(1);
    const wrong = new PrimeroClient({ site: 'sim', baseUrl: sim.url, auth: { token: `${token}x` } });
    const error = await wrong.get('agencies').catch((caught: Error) => caught);
    expect(String(error)).toContain('the credentials were not accepted (401)');
    expect(String(error)).not.toContain(token);
  });

  test('connection errors are retried a bounded number of times, then named', async () => {
    const { sim, password } = await simulator();
    const url = sim.url;
    await sim.stop();
    const attempts: string[] = [];
    const client = new PrimeroClient({
      site: 'gone',
      baseUrl: url,
      auth: { username: 'svc', password },
      retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 10 },
      onRetry: ({ reason }) => attempts.push(reason),
    });
    await expect(client.get('roles')).rejects.toThrow(
      /gone: cannot reach Primero at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\) after 3 attempts/,
    );
    expect(attempts).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
  });

  test('TLS is verified: an unknown CA fails at once with the way out; caFile adds trust', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-tls-'));
    const openssl = (...args: string[]) => execa('openssl', args, { cwd: dir });
    await openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=Test National CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
    );
    await openssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
    );
    await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    await openssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
      '-out',
      'server.pem',
    );
    const server = createHttpsServer(
      { key: await readFile(join(dir, 'server.key')), cert: await readFile(join(dir, 'server.pem')) },
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ data: [{ unique_id: 'role-a' }], metadata: { total: 1, per: 20, page: 1 } }),
        );
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const retries: string[] = [];
      const untrusted = new PrimeroClient({
        site: 'prod',
        baseUrl: url,
        auth: { username: 'svc', password: 'x' },
        retry: { retries: 3, baseDelayMs: 5 },
        onRetry: ({ reason }) => retries.push(reason),
      });
      const error = await untrusted.get('roles').catch((caught: Error & { hint?: string }) => caught);
      expect(String(error)).toMatch(/prod: the TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted/);
      expect((error as { hint?: string }).hint).toContain('sites.prod.primero.caFile');
      expect(retries).toEqual([]);
      const trusted = new PrimeroClient({
        site: 'prod',
        baseUrl: url,
        auth: { username: 'svc', password: 'x' },
        ca: await readFile(join(dir, 'ca.pem'), 'utf8'),
      });
      expect(await trusted.list('roles')).toEqual([{ unique_id: 'role-a' }]);
    } finally {
      server.close();
    }
  });

  test('versions compare like releases, with or without the v', () => {
    expect(compareVersions('v2.15.2', '2.15.2')).toBe(0);
    expect(compareVersions('2.16.0', 'v2.15.10')).toBeGreaterThan(0);
    expect(compareVersions('2.15.2', '2.15.10')).toBeLessThan(0);
    expect(compareVersions('2.0.0.1', '2.0.0')).toBeGreaterThan(0);
    expect(compareVersions('develop', '2.15.2')).toBeUndefined();
  });

  test('versions order as Ruby Gem::Version does: a release candidate comes before its release', () => {
    // Primero's can_apply? compares with Gem::Version (rubygems lib/rubygems/version.rb).
    expect(compareVersions('2.16.0-rc2', '2.16.0')).toBeLessThan(0);
    expect(compareVersions('2.16.0', '2.16.0-rc2')).toBeGreaterThan(0);
    expect(compareVersions('v2.15.0-rc5', '2.15.0-rc10')).toBeLessThan(0);
    expect(compareVersions('2.16.0-rc1', '2.15.2')).toBeGreaterThan(0);
    expect(compareVersions('2.16.0.rc2', '2.16.0-rc2')).toBeGreaterThan(0);
    expect(compareVersions('2.16', '2.16.0')).toBe(0);
    expect(compareVersions('2.15.2+build', '2.15.2')).toBeUndefined();
  });
});

describe('promotion library', () => {
  test('the backup hooks: an old backup warns, --backup runs takeBackup and records its id', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const loaded = loadConfig(s.configFile);
    const now = new Date('2026-11-21T12:00:00Z');
    const taken: string[] = [];
    const hooks = {
      newestBackupAt: async () => new Date('2026-11-19T12:00:00Z'),
      takeBackup: async (site: string) => {
        taken.push(site);
        return { id: 'backup-42' };
      },
    };
    const plan = await planPromotion({ loaded, env: s.env, hooks, now: () => now });
    const backup = plan.preflight.checks.find((check) => check.name === 'production backup');
    expect(backup).toMatchObject({ status: 'warn' });
    expect(backup!.detail).toContain('older than the RPO (24h)');
    expect(plan.blocked).toBe(false);

    const fresh = await planPromotion({
      loaded,
      env: s.env,
      hooks: { newestBackupAt: async () => now },
      now: () => now,
    });
    expect(fresh.preflight.checks.find((check) => check.name === 'production backup')?.status).toBe('ok');

    // Without a backup engine the check is not run: `skip`, the one check vocabulary (core/checks.ts).
    const unchecked = await planPromotion({ loaded, env: s.env, now: () => now });
    expect(unchecked.preflight.checks.find((check) => check.name === 'production backup')).toMatchObject({
      status: 'skip',
      detail: BACKUPS_UNAVAILABLE,
    });

    const result = await applyPromotion(
      { loaded, env: s.env, hooks },
      { backup: true, operator: 'lib-test' },
    );
    expect(result).toMatchObject({ status: 'applied', backupId: 'backup-42', verified: true });
    expect(taken).toEqual(['production']);
  });

  test('demo edited between the plan and the snapshot: stops before production receives anything', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const loaded = loadConfig(s.configFile);
    const attempt = applyPromotion(
      { loaded, env: s.env },
      {
        confirm: async () => {
          // Someone renames a form on demo while the operator reads the plan.
          const identity = s.demo.state.FormSection.find((form) => form.unique_id === 'basic_identity')!;
          (identity.name as Record<string, string>).en = 'Identity (edited)';
          return true;
        },
      },
    );
    await expect(attempt).rejects.toThrow(
      "demo's configuration changed after the plan was computed (FormSection:basic_identity)",
    );
    expect(s.production.configurations.size).toBe(1); // only the rollback point
    expect(s.production.writes().filter((line) => line.startsWith('PATCH'))).toEqual([]);
    await expect(attempt).rejects.toMatchObject({
      hint: expect.stringContaining('promote rollback --site production --to'),
    });
  });

  test('configurationDrift: out of sync, then in sync after a promotion; undefined without promotion', async () => {
    const s = await start();
    const loaded = loadConfig(s.configFile);
    expect(await configurationDrift(loaded, { env: s.env })).toEqual({
      from: 'demo',
      to: 'production',
      inSync: false,
      changes: 9,
      destructive: 3,
    });
    await applyPromotion({ loaded, env: s.env }, { allowDeletions: true });
    expect(await configurationDrift(loaded, { env: s.env })).toMatchObject({
      inSync: true,
      changes: 0,
      destructive: 0,
    });
    const { promotion: _promotion, ...rest } = loaded.config;
    expect(await configurationDrift({ ...loaded, config: rest }, { env: s.env })).toBeUndefined();
  });

  test('transfer: database — reads demo’s snapshot from its database and posts it to production as is', async () => {
    const built = await primeroDatabase({ cases: 2 });
    const { connectTestDatabase, pgInfo } = await import('../support/pg.js');
    const info = pgInfo();
    const writer = await connectTestDatabase(built.database);
    try {
      const s = await start({
        transfer: 'database',
        demoReachesProduction: false,
        // Production is newer than demo: it would stamp its own release on a configuration sent without one.
        productionVersion: '2.15.3',
        demoDatabase: {
          url: `postgres://${info.user}@${info.host}:${info.port}/${built.database}`,
          passwordEnv: 'DEMO_DB_PASSWORD',
          password: info.password,
          onStore: mirrorConfigurations(writer),
        },
      });
      const result = await tier4(
        s.args('--json', 'promote', 'apply', '--yes', '--confirm', 'production', '--allow-deletions'),
        { env: s.env, cwd: s.dir },
      );
      expect(result.stderr).not.toContain('error:');
      expect(result.code).toBe(0);
      const done = JSON.parse(result.stdout);
      expect(done).toMatchObject({ status: 'applied', verified: true });
      expect(comparable(s.production)).toEqual(comparable(s.demo));
      // Production holds demo's configuration under demo's id and version: stored as is.
      const onProduction = s.production.configurations.get(done.configurationId)!;
      expect(onProduction.version).toBe(s.demo.configurations.get(done.configurationId)!.version);
      // primero_version travels too, as Primero's own promote job sends it, so Primero's version guard holds.
      expect(onProduction.primero_version).toBe('2.15.2');
      expect(s.demo.log.join('\n')).not.toContain('sync');
      expect(s.demo.writes().some((line) => line.startsWith('PATCH'))).toBe(false);
    } finally {
      await writer.end();
    }
  });

  test('transfer: database speaks TLS where the URL asks for it, and never sends a login in plaintext', async () => {
    // A server that records the first message of each connection and, like a PostgreSQL with ssl=off,
    // answers an SSLRequest with "N".
    const firstMessages: number[] = [];
    const server = createNetServer((socket) => {
      socket.once('data', (data) => {
        firstMessages.push(data.readUInt32BE(4));
        socket.end('N');
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const password = testSecret('transfer-db');
    const site = (url: string) =>
      ({
        database: { url, password: { env: 'DEMO_DB_PASSWORD' } },
        primero: { url: 'https://demo.example.org' },
      }) as unknown as SiteConfig;
    const env = { DEMO_DB_PASSWORD: password };
    try {
      // Without sslmode (libpq's default, prefer) to a host that is not this machine's loopback name:
      // TLS or nothing. 0.0.0.0 reaches this machine without being named as loopback.
      for (const url of [
        `postgres://primero@0.0.0.0:${port}/primero_production`,
        `postgres://primero@0.0.0.0:${port}/primero_production?sslmode=prefer`,
        `postgres://primero@127.0.0.1:${port}/primero_production?sslmode=require`,
      ]) {
        const error = await readStoredConfiguration('demo', site(url), randomUUID(), env).catch(
          (caught: Error) => caught,
        );
        expect(String(error)).toContain("Cannot read the snapshot from demo's database");
        expect(String(error)).toContain('does not support SSL');
        expect(String(error)).not.toContain(password);
      }
      // Each connection opened with an SSLRequest (80877103), never a StartupMessage carrying the user.
      expect(firstMessages).toEqual([80877103, 80877103, 80877103]);
    } finally {
      server.close();
    }
  });
});
