import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseDocument } from 'yaml';
import { checkDatabaseTarget, DemoTargetRefused } from '../../backups/target-guard.js';
import { parseConfig } from '../../core/config/load.js';
import { databaseSpot, hostAddresses } from '../../core/postgres/server-identity.js';
import { REPO_ROOT } from '../support/cli.js';

/** The shipped example with both sites' databases on hosts that do not resolve: only names can be compared. */
async function exampleConfig() {
  const doc = parseDocument(await readFile(join(REPO_ROOT, 'examples', 'tier4.example.yaml'), 'utf8'));
  doc.setIn(['sites', 'demo', 'database', 'url'], 'postgres://primero@DB.Demo.invalid/primero_production');
  doc.setIn(
    ['sites', 'production', 'database', 'url'],
    'postgres://primero@db.production.invalid:5432/primero_production',
  );
  return parseConfig(doc.toString());
}

describe('how a database URL is read', () => {
  test('the default port is the same whether written or not (libpq and tier4 both default to 5432)', () => {
    expect(databaseSpot('postgres://u@db.example.org/primero')).toEqual(
      databaseSpot('postgresql://u@db.example.org:5432/primero?sslmode=require&application_name=x'),
    );
  });

  test('query parameters that libpq obeys count: ?host=, ?hostaddr=, ?port=, ?dbname=', () => {
    const spot = databaseSpot(
      'postgres://u@a.example.org:6000/one?host=b.example.org&hostaddr=10.1.2.3&port=7000&dbname=two',
    );
    expect(spot.endpoints).toEqual(
      expect.arrayContaining([
        { host: 'a.example.org', port: 6000 },
        { host: 'b.example.org', port: 7000 },
        { host: '10.1.2.3', port: 7000 },
      ]),
    );
    expect(spot.databases).toEqual(expect.arrayContaining(['one', 'two']));
  });

  test('without a port, PGPORT counts (pg_restore reads it); without a database, the user name, for both readers', () => {
    const spot = databaseSpot('postgres://u@db.example.org', { PGPORT: '6543' });
    expect(spot.endpoints).toEqual(expect.arrayContaining([{ host: 'db.example.org', port: 6543 }]));
    // tier4's client once fell back to "postgres" where libpq takes the user's database (#19); both read "u" now.
    expect(spot.databases).toEqual(['u']);
  });

  test('localhost, 127.0.0.1, ::1 and a Unix socket folder are one host: this machine', async () => {
    for (const host of ['localhost', '127.0.0.1', '::1', '/var/run/postgresql'])
      expect(await hostAddresses(host), host).toEqual(['this-machine']);
    expect(await hostAddresses('DB.Example.invalid.')).toEqual(['name:db.example.invalid']);
  });
});

describe("the guard when demo's server cannot be reached or identified", () => {
  test("demo's database spelled another way (case, default port, query) is refused by name, saying so", async () => {
    const config = await exampleConfig();
    const attempt = checkDatabaseTarget(
      config,
      'production',
      { url: 'postgres://primero@db.demo.invalid:5432/primero_production?sslmode=require', password: 'x' },
      { env: {} },
    );
    await expect(attempt).rejects.toBeInstanceOf(DemoTargetRefused);
    await expect(attempt).rejects.toThrow(/demo site "demo"'s[\s\S]*by address and port only/);
  });

  test("production's own database is a production target; another database on an unknown server is not", async () => {
    const config = await exampleConfig();
    const own = await checkDatabaseTarget(
      config,
      'production',
      { url: 'postgres://primero@db.production.invalid/primero_production', password: 'x' },
      { env: {} },
    );
    expect(own.kind).toBe('production');
    const elsewhere = await checkDatabaseTarget(
      config,
      'production',
      { url: 'postgres://primero@laptop.invalid/copy', password: 'x' },
      { env: {} },
    );
    expect(elsewhere.kind).toBe('non-production');
  });
});
