import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { openSiteRepository, planRestore, runRestore, siteIdentities } from '../../backups/index.js';
import { loadConfig } from '../../core/config/load.js';
import { findPgTool } from '../../core/postgres/pg-tools.js';
import {
  type BackupSite,
  backupSite,
  databaseOf,
  restoreArgs,
  scratchDatabaseUrl,
  tableDigests,
} from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import { pgInfo, queryDatabase } from '../support/pg.js';

// Decision 0019: with --jobs above 1, the largest tables' rows are split between psql sessions. These tests give
// it data that could break a line-based router (names with newlines and quotes, rows that look like statements,
// psql meta-commands or the end-of-data marker) and check that the restored database is the source, row for row.

const WEIRD_TABLE = 'public."we""ird\nname;"';
const WEIRD_COLUMN = '"a ""b"" FROM stdin;"';

async function hostileSite(): Promise<BackupSite> {
  const site = await backupSite({ cases: 60, blobs: 2 });
  const db = site.db.database;
  await queryDatabase(db, `CREATE TABLE ${WEIRD_TABLE} (id serial PRIMARY KEY, ${WEIRD_COLUMN} text)`);
  await queryDatabase(
    db,
    `INSERT INTO ${WEIRD_TABLE} (${WEIRD_COLUMN}) VALUES
       (E'\\\\.'), (E'\\\\.\\n'), (E'.\\n\\\\.\\n'), (E'\\r\\n\\\\.\\r\\n'), ('DROP TABLE cases;'),
       (E'\\\\! rm -rf /'), ('COPY public.cases (id) FROM stdin;'), (E'tab\\there'), (NULL), (''),
       ('\\unrestrict abc'), ('Üñíçødé ✓ 子供')`,
  );
  // The largest table by far: its rows are split between the sessions.
  await queryDatabase(
    db,
    `CREATE TABLE public.bulk (id bigserial PRIMARY KEY, v text);
     INSERT INTO public.bulk (v) SELECT repeat(md5(i::text), 4) || E'\\\\.\\t' || i FROM generate_series(1, 60000) i;`,
  );
  return site;
}

async function sequenceValue(database: string): Promise<unknown> {
  return (await queryDatabase(database, 'SELECT last_value::int AS v FROM public.bulk_id_seq'))[0]!.v;
}

/** Each psql session loads in its own transaction: the number of distinct xmin is the number of sessions used. */
async function loadingSessions(database: string): Promise<number> {
  return (await queryDatabase(database, 'SELECT count(DISTINCT xmin::text)::int AS n FROM public.bulk'))[0]!
    .n as number;
}

describe('restore with more than one job: table data over several connections (decision 0019)', () => {
  test('hostile names and rows come back exactly; the largest table loads over every job; sequences are set', async () => {
    const site = await hostileSite();
    const c = ['-c', site.configPath];
    const created = await tier4(['--json', ...c, 'backup', 'create', '--site', site.site], { env: site.env });
    expect(created.code).toBe(0);
    const set = JSON.parse(created.stdout);
    const source = await tableDigests(site.db.database);
    expect(Object.keys(source)).toContain('we"ird\nname;');

    for (const jobs of ['2', '3']) {
      const target = scratchDatabaseUrl();
      const restored = await tier4([...restoreArgs(site, set.id, target, '--jobs', jobs)], { env: site.env });
      expect(restored.stderr).not.toMatch(/error/i);
      expect(restored.code).toBe(0);
      expect(await tableDigests(databaseOf(target))).toEqual(source);
      expect(await loadingSessions(databaseOf(target))).toBe(Number(jobs));
      expect(await sequenceValue(databaseOf(target))).toBe(60000);
    }
  });

  test('the manifest names the largest table; a set written before it (no bulkTables) splits every table', async () => {
    const site = await hostileSite();
    const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
      env: site.env,
    });
    const set = JSON.parse(created.stdout);
    const repo = await openSiteRepository(loadConfig(site.configPath), site.site, site.env);
    const target = scratchDatabaseUrl();
    const plan = await planRestore(
      repo,
      set.id,
      { url: target, password: pgInfo().password },
      siteIdentities(repo),
    );
    expect(plan.manifest.database.bulkTables).toEqual([
      { schema: 'public', table: 'bulk', largestIndex: 'bulk_pkey' },
    ]);
    delete plan.manifest.database.bulkTables;
    await runRestore(repo, plan, { identities: siteIdentities(repo), jobs: 2 });
    // Every table's rows came through the router (restore-list.test.ts shows which go where), exactly.
    expect(await tableDigests(databaseOf(target))).toEqual(await tableDigests(site.db.database));
    expect(await loadingSessions(databaseOf(target))).toBe(2);
  });

  describe("psql is needed, and its failures are the restore's", () => {
    async function toolsWith(site: BackupSite, psql: string): Promise<string> {
      const bin = join(site.dir, 'pg-bin');
      await mkdir(bin);
      await symlink((await findPgTool('pg_restore')).path, join(bin, 'pg_restore'));
      await symlink((await findPgTool('pg_dump')).path, join(bin, 'pg_dump'));
      if (psql) {
        await writeFile(join(bin, 'psql'), psql);
        await chmod(join(bin, 'psql'), 0o755);
      }
      return bin;
    }

    test('without psql beside pg_restore: refused by its prerequisite, with the way out; nothing created', async () => {
      const site = await backupSite({ cases: 20, blobs: 1 });
      const created = await tier4(
        ['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site],
        {
          env: site.env,
        },
      );
      const set = JSON.parse(created.stdout);
      const bin = await toolsWith(site, '');
      const target = scratchDatabaseUrl();
      const restored = await tier4(restoreArgs(site, set.id, target), {
        env: { ...site.env, TIER4_PG_BIN: bin },
      });
      expect(restored.code).not.toBe(0);
      expect(restored.stderr).toContain(`psql was not found beside pg_restore (${join(bin, 'psql')})`);
      expect(restored.stderr).toMatch(/restore with --jobs 1/);
      expect(
        await queryDatabase('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [databaseOf(target)]),
      ).toEqual([]);
      // --jobs 1 needs no psql.
      const streamed = await tier4(restoreArgs(site, set.id, target, '--jobs', '1'), {
        env: { ...site.env, TIER4_PG_BIN: bin },
      });
      expect(streamed.code).toBe(0);
    });

    test.each([
      [
        'fails',
        'cat > /dev/null; echo "psql:<stdin>:20: ERROR:  out of disk space" >&2; exit 3',
        /loading the table data, psql: .*out of disk space/,
      ],
      [
        'stops reading and says it succeeded',
        'head -c 100 > /dev/null; exit 0',
        /the database took \d+ rows of the \d+ sent to it/,
      ],
    ])(
      'a psql session that %s: the restore fails, the target is never created',
      async (_name, body, message) => {
        const site = await backupSite({ cases: 20, blobs: 1 });
        const created = await tier4(
          ['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site],
          {
            env: site.env,
          },
        );
        const set = JSON.parse(created.stdout);
        const version = (await findPgTool('pg_restore')).version;
        const bin = await toolsWith(
          site,
          `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "psql (PostgreSQL) ${version}"; exit 0; fi\n${body}\n`,
        );
        const target = scratchDatabaseUrl();
        const restored = await tier4(restoreArgs(site, set.id, target), {
          env: { ...site.env, TIER4_PG_BIN: bin },
        });
        expect(restored.code).not.toBe(0);
        expect(restored.stderr).toMatch(message);
        expect(restored.stderr).toMatch(/The target database was not changed/);
        expect(
          await queryDatabase('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [
            databaseOf(target),
          ]),
        ).toEqual([]);
      },
    );
  });
});
