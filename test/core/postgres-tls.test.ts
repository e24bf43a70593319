import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SiteConfig } from '../../core/config/schema.js';
import {
  connectDatabase,
  type DatabaseTarget,
  openClient,
  toolConnection,
} from '../../core/postgres/connection.js';
import { defaultRootCert } from '../../core/postgres/tls.js';
import { readStoredConfiguration } from '../../promotion/transfer.js';
import { type PostgresServer, startPostgres } from '../../rehearsal/postgres-server.js';
import { connect } from '../../rehearsal/primero-db.js';
import { createRootCa, issueLeaf } from '../support/certs-factory.js';
import { pgInfo } from '../support/pg.js';
import { testSecret } from '../support/secrets.js';

/**
 * Every sslmode against a real PostgreSQL 15 with ssl=on and a certificate from a throwaway CA, asking the
 * server what it saw (pg_stat_ssl), for tier4's own connection and for libpq (psql, run as pg_dump/pg_restore
 * are: toolConnection's URL and environment). The certificate names `localhost` only, so 127.0.0.1 and
 * 0.0.0.0 reach the server under a name it does not hold.
 */
const SSL_SQL = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';
const TLS_ONLY = 'tier4_tls_only';

let server: PostgresServer;
let dir: string;
let caFile: string;
let otherCaFile: string;
const password = testSecret('tls-superuser');
const tlsOnlyPassword = testSecret('tls-only-role');

beforeAll(async () => {
  const ca = await createRootCa('tier4 test database CA');
  const other = await createRootCa('some other CA');
  const leaf = await issueLeaf(ca, { names: ['localhost'] });
  dir = await mkdtemp(join(tmpdir(), 'tier4-pg-tls-'));
  caFile = join(dir, 'ca.crt');
  otherCaFile = join(dir, 'other.crt');
  await writeFile(caFile, ca.pem);
  await writeFile(otherCaFile, other.pem);
  server = await startPostgres({
    password,
    tls: { cert: leaf.cert, key: leaf.key },
    // One role the server refuses in plaintext: a successful login as it proves the connection was TLS.
    hbaFirst: [`hostnossl all ${TLS_ONLY} all reject`],
  });
  const admin = await connect(server, 'postgres');
  try {
    await admin.query(`CREATE ROLE ${TLS_ONLY} LOGIN PASSWORD '${tlsOnlyPassword}'`);
    await admin.query(`CREATE DATABASE demo OWNER ${TLS_ONLY}`);
  } finally {
    await admin.end();
  }
}, 60_000);

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function url(query: string, host = '127.0.0.1', user = server.user, database = 'postgres'): string {
  return `postgres://${user}@${host}:${server.port}/${database}${query ? `?${query}` : ''}`;
}

/** What the server saw of tier4's own connection: TLS or not. */
async function ours(target: DatabaseTarget, env: NodeJS.ProcessEnv = {}): Promise<boolean> {
  const client = await openClient(target, { env });
  try {
    return (await client.query<{ ssl: boolean }>(SSL_SQL)).rows[0]!.ssl;
  } finally {
    await client.end();
  }
}

/** What the server saw of libpq's connection, given what pg_dump/pg_restore are given. */
async function libpq(target: DatabaseTarget, env: NodeJS.ProcessEnv = {}): Promise<boolean | string> {
  const tool = toolConnection(target, env);
  const result = await execa(
    join(server.binDir, 'psql'),
    ['--no-psqlrc', '--tuples-only', '--no-align', '--command', SSL_SQL, `--dbname=${tool.url}`],
    { env: { ...tool.env, ...env }, extendEnv: false, reject: false },
  );
  if (result.exitCode !== 0) return `failed: ${result.stderr}`;
  return result.stdout.trim() === 't';
}

const asSuperuser = (u: string): DatabaseTarget => ({ url: u, password });
const asTlsOnly = (u: string): DatabaseTarget => ({ url: u, password: tlsOnlyPassword });

describe('one TLS rule, libpq sslmode semantics, against a real ssl=on server', () => {
  test('precondition: no root certificate in libpq default location', () => {
    // verify-* without sslrootcert must find no file; a stray ~/.postgresql/root.crt would change the answers.
    expect(existsSync(defaultRootCert(process.env) ?? '/nonexistent')).toBe(false);
  });

  test.each([
    ['disable', false],
    ['allow', false],
    ['prefer', true],
    ['', true], // no sslmode to this machine: libpq's prefer
    ['require', true], // no CA anywhere: encrypted, not verified
  ])('sslmode=%s: tier4 and libpq both see ssl=%s', async (mode, encrypted) => {
    const target = asSuperuser(url(mode ? `sslmode=${mode}` : ''));
    expect(await ours(target)).toBe(encrypted);
    expect(await libpq(target)).toBe(encrypted);
  });

  test('allow: the server refuses plaintext, so the second attempt is TLS (both)', async () => {
    const target = asTlsOnly(url('sslmode=allow', '127.0.0.1', TLS_ONLY, 'demo'));
    expect(await ours(target)).toBe(true);
    expect(await libpq(target)).toBe(true);
  });

  test('disable where the server insists on TLS: a clear error naming the mode', async () => {
    const target = asTlsOnly(url('sslmode=disable', '127.0.0.1', TLS_ONLY, 'demo'));
    const error = await connectDatabase(target).catch((caught: Error) => caught);
    expect(String(error)).toContain('refuses connections without TLS, and sslmode disable did not encrypt');
    expect(String(error)).not.toContain(tlsOnlyPassword);
    expect(await libpq(target)).toMatch(/^failed: .*no encryption/s);
  });

  test('verify-ca with the right CA passes on 127.0.0.1, a name the certificate does not hold', async () => {
    const target = asSuperuser(url(`sslmode=verify-ca&sslrootcert=${encodeURIComponent(caFile)}`));
    expect(await ours(target)).toBe(true);
    expect(await libpq(target)).toBe(true);
  });

  test('verify-ca with the wrong CA fails (both)', async () => {
    const target = asSuperuser(url(`sslmode=verify-ca&sslrootcert=${encodeURIComponent(otherCaFile)}`));
    const error = await connectDatabase(target).catch((caught: Error) => caught);
    expect(String(error)).toContain(`failed verification against ${otherCaFile} (sslmode verify-ca)`);
    expect(await libpq(target)).toMatch(/^failed: .*certificate verify failed/s);
  });

  test('verify-full: 127.0.0.1 is not in the certificate and fails; localhost is and passes (both)', async () => {
    const query = `sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`;
    const byAddress = asSuperuser(url(query));
    const error = await connectDatabase(byAddress).catch((caught: Error) => caught);
    expect(String(error)).toContain('certificate does not name the host of');
    expect(String(error)).toContain('sslmode verify-full checks the host name');
    expect(await libpq(byAddress)).toMatch(/^failed: .*does not match host name "127\.0\.0\.1"/s);
    const byName = asSuperuser(url(query, 'localhost'));
    expect(await ours(byName)).toBe(true);
    expect(await libpq(byName)).toBe(true);
  });

  test('require with a root file present verifies the chain as verify-ca does (libpq compatibility)', async () => {
    const wrong = asSuperuser(url(`sslmode=require&sslrootcert=${encodeURIComponent(otherCaFile)}`));
    await expect(connectDatabase(wrong)).rejects.toThrow('failed verification');
    expect(await libpq(wrong)).toMatch(/^failed: .*certificate verify failed/s);
    const right = asSuperuser(url(`sslmode=require&sslrootcert=${encodeURIComponent(caFile)}`));
    expect(await ours(right)).toBe(true);
    expect(await libpq(right)).toBe(true);
  });

  test('PGSSLROOTCERT is the root file when the URL names none; the URL sslrootcert wins over it', async () => {
    const env = { PGSSLROOTCERT: caFile };
    const byName = asSuperuser(url('sslmode=verify-full', 'localhost'));
    expect(await ours(byName, env)).toBe(true);
    expect(await libpq(byName, env)).toBe(true);
    const urlWins = asSuperuser(
      url(`sslmode=verify-full&sslrootcert=${encodeURIComponent(otherCaFile)}`, 'localhost'),
    );
    await expect(openClient(urlWins, { env })).rejects.toMatchObject({ code: expect.any(String) });
    expect(await libpq(urlWins, env)).toMatch(/^failed: .*certificate verify failed/s);
  });

  test('verify-full with no root file anywhere fails, saying which file is missing (both)', async () => {
    const target = asSuperuser(url('sslmode=verify-full', 'localhost'));
    const error = await connectDatabase(target).catch((caught: Error) => caught);
    expect(String(error)).toContain('sslmode verify-full verifies the database server');
    expect(String(error)).toContain('root certificate file');
    expect(String(error)).toContain('does not exist');
    expect(await libpq(target)).toMatch(/^failed: .*root certificate file .* does not exist/s);
  });

  test('another machine without sslmode gets verify-full: 0.0.0.0 is not the certificate name', async () => {
    // 0.0.0.0 reaches this machine without being one of its loopback names.
    const env = { PGSSLROOTCERT: caFile };
    const byDefault = asSuperuser(url('', '0.0.0.0'));
    await expect(openClient(byDefault, { env })).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    expect(await libpq(byDefault, env)).toMatch(/^failed: .*does not match host name "0\.0\.0\.0"/s);
    expect(toolConnection(byDefault, env).env.PGSSLMODE).toBe('verify-full');
    // prefer to another machine is enforced as require, for libpq too (the URL carries sslmode=require).
    const prefer = asSuperuser(url('sslmode=prefer', '0.0.0.0'));
    expect(toolConnection(prefer, {}).url).toContain('sslmode=require');
    expect(await ours(prefer)).toBe(true);
    expect(await libpq(prefer)).toBe(true);
  });

  test('promotion reads a snapshot over TLS where plaintext is refused, and without sslmode verifies fully', async () => {
    const admin = await openClient(asTlsOnly(url('sslmode=require', '127.0.0.1', TLS_ONLY, 'demo')));
    const id = randomUUID();
    try {
      await admin.query(
        'CREATE TABLE primero_configurations (id uuid PRIMARY KEY, name text, description text, version text, primero_version text, data jsonb)',
      );
      await admin.query(
        "INSERT INTO primero_configurations VALUES ($1, 'May', NULL, '1', '2.15.2', '{\"roles\": []}')",
        [id],
      );
    } finally {
      await admin.end();
    }
    const site = (u: string) =>
      ({
        database: { url: u, password: { env: 'DEMO_DB_PASSWORD' } },
        primero: { url: 'https://demo.example.org' },
      }) as unknown as SiteConfig;
    const env = { DEMO_DB_PASSWORD: tlsOnlyPassword };
    // The role is refused in plaintext (hostnossl reject): reading the row proves the connection was TLS.
    const stored = await readStoredConfiguration(
      'demo',
      site(url('sslmode=prefer', '0.0.0.0', TLS_ONLY, 'demo')),
      id,
      env,
    );
    expect(stored).toMatchObject({ id, name: 'May', data: { roles: [] } });
    // Without sslmode to another machine: verify-full, so a certificate for another name is refused.
    const error = await readStoredConfiguration(
      'demo',
      site(url(`sslrootcert=${encodeURIComponent(caFile)}`, '0.0.0.0', TLS_ONLY, 'demo')),
      id,
      env,
    ).catch((caught: Error) => caught);
    expect(String(error)).toContain("Cannot read the snapshot from demo's database");
    expect(String(error)).toContain('sslmode verify-full (the default for this host) checks the host name');
  });
});

describe('a server with ssl=off', () => {
  const plain = (query: string) => {
    const info = pgInfo();
    return {
      url: `postgres://${info.user}@127.0.0.1:${info.port}/postgres${query ? `?${query}` : ''}`,
      password: info.password,
    };
  };

  test('sslmode=require fails clearly, before any login is sent', async () => {
    const error = await connectDatabase(plain('sslmode=require')).catch((caught: Error) => caught);
    expect(String(error)).toContain('does not support SSL (TLS), and sslmode require allows no plaintext');
    expect(String(error)).not.toContain(pgInfo().password);
  });

  test('prefer (the default to this machine) falls back to plaintext, as libpq does', async () => {
    expect(await ours(plain(''))).toBe(false);
    expect(await ours(plain('sslmode=prefer'))).toBe(false);
  });
});
