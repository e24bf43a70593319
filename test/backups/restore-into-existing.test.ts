import { describe, expect, test } from 'vitest';
import { backupSite, restoreArgs, tableDigests } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { pgInfo, queryDatabase, uniqueDatabaseName } from '../support/pg.js';
import { testSecret } from '../support/secrets.js';

// As CloudNativePG sets a database up: owned by the application role, which is not a superuser, with the
// extensions created by the superuser. The restore runs as the application role.
describe('restore into a database prepared by the cluster operator', () => {
  test('succeeds as a non-superuser owner, although the extensions belong to the superuser', async () => {
    const site = await backupSite({ blobs: 2 });
    const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
      env: site.env,
    });
    const setId = JSON.parse(created.stdout).id;

    const role = uniqueDatabaseName('app');
    const password = testSecret('app-role');
    const database = uniqueDatabaseName('cnpg');
    await queryDatabase('postgres', `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await queryDatabase('postgres', `CREATE DATABASE ${database} OWNER ${role}`);
    for (const extension of ['ltree', 'pg_trgm', 'pgcrypto'])
      await queryDatabase(database, `CREATE EXTENSION ${extension}`);

    const info = pgInfo();
    const restored = await tier4(
      restoreArgs(
        site,
        setId,
        `postgres://${role}@${info.host}:${info.port}/${database}`,
        '--target-password-env',
        'T4_APP_PASSWORD',
      ),
      { env: { ...site.env, T4_APP_PASSWORD: password } },
    );
    expect(restored.stderr).not.toContain('error:');
    expect(restored.code).toBe(0);
    expect(await tableDigests(database)).toEqual(await tableDigests(site.db.database));
  });
});
