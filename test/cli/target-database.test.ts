import { describe, expect, test } from 'vitest';
import { postgresUrlProblems } from '../../core/config/postgres-url.js';
import { tier4 } from '../support/cli.js';
import { testSecret } from '../support/secrets.js';

/**
 * `restore --target-database` is checked by the configuration's rule for a postgres:// URL (#19: the CLI
 * had a parser of its own, which let a `?password=` parameter through). Refused before any configuration,
 * repository or database is touched.
 */
describe('--target-database uses the configuration schema’s postgres:// rule', () => {
  const restore = (url: string) =>
    tier4(['restore', 'latest', '-c', 'does-not-exist.yaml', '--target-database', url]);

  test('a password parameter is refused and never printed', async () => {
    const secret = testSecret('target-password');
    const result = await restore(
      `postgres://primero@db:5432/restored?sslmode=verify-full&password=${secret}`,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--target-database must not carry a password parameter');
    expect(result.stderr).toContain('--target-password-env');
    expect(result.stderr).not.toContain(secret);
    // Refused before the (missing) configuration file was read.
    expect(result.stderr).not.toContain('does-not-exist.yaml');
  });

  test('each problem the schema names, and a database the restore needs', async () => {
    const cases: Array<[string, string]> = [
      ['mysql://primero@db/restored', 'must be a postgres:// URL'],
      ['postgres://db:5432/restored', 'must name a user'],
      ['postgres://primero@db:5432', 'must name a database'],
      ['postgres://primero@db:99999/x', 'is not a valid postgres:// URL'],
    ];
    for (const [url, message] of cases) {
      const result = await restore(url);
      expect(result.code, url).toBe(2);
      expect(result.stderr, url).toContain(`--target-database ${message}`);
    }
  });

  test('the same rule as tier4.yaml: one function, where the password goes said for each', () => {
    const url = 'postgres://primero:pw@db/x?password=pw';
    const inConfig = postgresUrlProblems(url, { passwordGoes: 'database.password' });
    expect(inConfig).toEqual([
      'must not contain a password; put it in database.password',
      'must not carry a password parameter; put it in database.password',
    ]);
    // A database is optional in tier4.yaml (libpq defaults it to the user name) but required for a restore.
    expect(postgresUrlProblems('postgres://primero@db', { passwordGoes: 'x' })).toEqual([]);
    expect(postgresUrlProblems('postgres://primero@db', { passwordGoes: 'x', database: 'required' })).toEqual(
      ['must name a database, like postgres://primero@host:5432/restored'],
    );
  });
});
