import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { postgresUrlProblems } from '../../core/config/postgres-url.js';
import { UsageError } from '../../core/errors.js';
import { clientConfig, databaseName, toolConnection } from '../../core/postgres/connection.js';
import { tlsAttempts, tlsRule } from '../../core/postgres/tls.js';
import { testSecret } from '../support/secrets.js';

/** node-postgres finds the root certificate as libpq does: the URL's sslrootcert, else PGSSLROOTCERT. */
describe('clientConfig and the database CA', () => {
  test('PGSSLROOTCERT (set in the ops pods) is trusted for verify-full; the URL sslrootcert wins', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-ca-'));
    await writeFile(join(dir, 'env.crt'), 'ENV CA');
    await writeFile(join(dir, 'url.crt'), 'URL CA');
    const password = testSecret('db');
    const url = 'postgres://primero@primero-db-rw.primero.svc:5432/primero_production?sslmode=verify-full';
    const fromEnv = clientConfig({ url, password }, { PGSSLROOTCERT: join(dir, 'env.crt') });
    expect(fromEnv.ssl).toMatchObject({ rejectUnauthorized: true, ca: 'ENV CA' });
    const fromUrl = clientConfig(
      { url: `${url}&sslrootcert=${encodeURIComponent(join(dir, 'url.crt'))}`, password },
      { PGSSLROOTCERT: join(dir, 'env.crt') },
    );
    expect(fromUrl.ssl).toMatchObject({ ca: 'URL CA' });
    // No root file anywhere: libpq 15 refuses verify-full ("root certificate file ... does not exist"), so the
    // client trusts nothing rather than the system store, and fails at the handshake as pg_dump would.
    expect(clientConfig({ url, password }, {}).ssl).toMatchObject({ rejectUnauthorized: true, ca: [] });
  });
});

describe('databaseName: the database libpq would connect to', () => {
  test('the path names it; without one, PGDATABASE, else the user name (not "postgres")', () => {
    expect(databaseName('postgres://primero@db.example.org:5432/primero_production', {})).toBe(
      'primero_production',
    );
    expect(databaseName('postgres://primero@db.example.org:5432', {})).toBe('primero');
    expect(databaseName('postgres://primero@db.example.org:5432/', {})).toBe('primero');
    expect(databaseName('postgres://primero@db.example.org/', { PGDATABASE: 'other' })).toBe('other');
    expect(databaseName('postgres://db.example.org/', { PGUSER: 'ops' })).toBe('ops');
    expect(databaseName('postgres://na%C3%AFve@db.example.org', {})).toBe('naïve');
  });

  test('pg_dump/pg_restore get the same database: the URL is passed on with only sslmode set', () => {
    const tool = toolConnection({ url: 'postgres://primero@db.example.org:5432', password: 'x' }, {});
    expect(new URL(tool.url).pathname).toBe('');
    expect(new URL(tool.url).searchParams.get('sslmode')).toBe('verify-full');
  });
});

describe('tlsRule: one reading of sslmode for every connection', () => {
  test('no sslmode: verify-full to another machine, prefer to this one; prefer elsewhere is require', () => {
    expect(tlsRule('postgres://u@db.example.org/d', {}).mode).toBe('verify-full');
    expect(tlsRule('postgres://u@10.0.0.7/d', {}).mode).toBe('verify-full');
    for (const host of ['localhost', '127.0.0.1', '[::1]'])
      expect(tlsRule(`postgres://u@${host}/d`, {}).mode).toBe('prefer');
    expect(tlsRule('postgres://u@db.example.org/d?sslmode=prefer', {}).mode).toBe('require');
    expect(tlsRule('postgres://u@db.example.org/d', { PGSSLMODE: 'verify-ca' }).mode).toBe('verify-ca');
    expect(tlsRule('postgres://u@db.example.org/d?sslmode=disable', { PGSSLMODE: 'require' }).mode).toBe(
      'disable',
    );
  });

  test('a Unix-domain socket never uses TLS, as libpq ignores sslmode there', () => {
    const rule = tlsRule('postgres://u@%2Fvar%2Frun%2Fpostgresql/d?sslmode=verify-full', {});
    expect(rule.socket).toBe(true);
    expect(tlsAttempts(rule)).toEqual([false]);
  });

  test('allow and prefer try twice, in libpq order; the others once', () => {
    const attempts = (mode: string) => tlsAttempts(tlsRule(`postgres://u@127.0.0.1/d?sslmode=${mode}`, {}));
    expect(attempts('disable')).toEqual([false]);
    expect(attempts('allow')).toEqual([false, true]);
    expect(attempts('prefer')).toEqual([true, false]);
    expect(attempts('require')).toEqual([true]);
    expect(attempts('verify-full')).toEqual([true]);
  });

  test('config validate and --target-database catch an unknown sslmode before any connection', () => {
    const options = { passwordGoes: 'a secret reference' };
    expect(postgresUrlProblems('postgres://u@db.example.org/d?sslmode=on', options)).toEqual([
      'has sslmode on, which is not one of disable, allow, prefer, require, verify-ca, verify-full',
    ]);
    expect(postgresUrlProblems('postgres://u@db.example.org/d?sslmode=verify-full', options)).toEqual([]);
  });

  test('an unknown sslmode is a usage error naming the accepted values', () => {
    expect(() => tlsRule('postgres://u@db.example.org/d?sslmode=on', {})).toThrow(UsageError);
    expect(() => tlsRule('postgres://u@db.example.org/d?sslmode=on', {})).toThrow(
      'disable, allow, prefer, require, verify-ca, verify-full',
    );
  });
});
