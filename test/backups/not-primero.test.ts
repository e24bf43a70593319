import { describe, expect, test } from 'vitest';
import { backupSite } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { queryDatabase } from '../support/pg.js';

describe('a database that does not look like Primero', () => {
  test('backs up with a warning (text and --json); a Primero database gets none', async () => {
    const site = await backupSite({ cases: 5, blobs: 1 });
    const create = () =>
      tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], { env: site.env });
    const primero = await create();
    expect(primero.code, primero.stderr).toBe(0);
    expect(JSON.parse(primero.stdout).warnings).toEqual([]);
    expect(primero.stderr).not.toContain('does not look like Primero');

    await queryDatabase(
      site.db.database,
      'DROP TABLE schema_migrations, active_storage_attachments, active_storage_blobs CASCADE',
    );
    const other = await create();
    expect(other.code, other.stderr).toBe(0);
    const warning =
      "The database does not look like Primero's (it has no schema_migrations, active_storage_blobs, active_storage_attachments tables)";
    expect(other.stderr).toContain(warning);
    expect(JSON.parse(other.stdout).warnings).toEqual([`${warning}: check database.url of ${site.site}.`]);
  });
});
