import { describe, expect, test } from 'vitest';
import { bulkTables } from '../../backups/postgres/snapshot.js';

const t = (table: string, bytes: number, schema = 'public') => ({ schema, table, bytes });

describe('the tables a restore loads over every job (decision 0019)', () => {
  test('the largest, and those at least half its size, at most three, largest first', () => {
    expect(bulkTables([t('alerts', 10), t('cases', 400), t('audit_logs', 200), t('incidents', 199)])).toEqual(
      [
        { schema: 'public', table: 'cases' },
        { schema: 'public', table: 'audit_logs' },
      ],
    );
    expect(bulkTables([t('a', 100), t('b', 90), t('c', 80), t('d', 70)]).map((x) => x.table)).toEqual([
      'a',
      'b',
      'c',
    ]);
  });

  test('equal sizes are ordered by schema and name, so the same database gives the same list', () => {
    const tables = [t('b', 8192), t('a', 8192, 'z'), t('a', 8192), t('c', 8192)];
    expect(bulkTables(tables)).toEqual(bulkTables([...tables].reverse()));
    expect(bulkTables(tables).map((x) => `${x.schema}.${x.table}`)).toEqual([
      'public.a',
      'public.b',
      'public.c',
    ]);
  });

  test('each keeps its largest index, when it has one', () => {
    expect(
      bulkTables([
        { schema: 'public', table: 'cases', bytes: 9, largestIndex: 'index_cases_on_data' },
        { schema: 'public', table: 'log', bytes: 8, largestIndex: null },
      ]),
    ).toEqual([
      { schema: 'public', table: 'cases', largestIndex: 'index_cases_on_data' },
      { schema: 'public', table: 'log' },
    ]);
  });

  test('empty tables are never chosen; a database of empty tables has none', () => {
    expect(bulkTables([t('a', 0), t('b', 0)])).toEqual([]);
    expect(bulkTables([])).toEqual([]);
    expect(bulkTables([t('a', 0), t('b', 1)])).toEqual([{ schema: 'public', table: 'b' }]);
  });
});
