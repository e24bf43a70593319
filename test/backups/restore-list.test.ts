import { describe, expect, test } from 'vitest';
import { splitRestoreList } from '../../backups/postgres/restore-list.js';

// Lines as pg_restore 15 lists them (a Primero-shaped dump on this machine, trimmed).
const LISTING = [
  ';',
  '; Archive created at 2026-12-07 17:20:42 UTC',
  ';',
  '2; 3079 17411 EXTENSION - pg_trgm ',
  '3985; 0 0 COMMENT - EXTENSION pg_trgm ',
  '245; 1259 17649 TABLE public cases tier4',
  '3940; 0 17649 TABLE DATA public cases tier4',
  '3948; 0 17732 TABLE DATA public audit_logs tier4',
  '3949; 0 0 SEQUENCE SET public audit_logs_id_seq tier4',
  '3970; 0 17900 TABLE DATA public case notes tier4',
  '3971; 0 17910 TABLE DATA public cases_archive tier4',
  '3718; 1259 17660 INDEX public index_cases_on_data tier4',
].join('\n');

describe('the restore lists (decision 0019)', () => {
  test('the bulk tables go to the parallel loader; every other item, other tables included, to pg_restore', () => {
    const { data, rest } = splitRestoreList(LISTING, {
      skipExtensionComments: false,
      bulkTables: [{ schema: 'public', table: 'cases' }],
    });
    expect(data).toEqual(['3940; 0 17649 TABLE DATA public cases tier4']);
    expect(rest).toContain('3948; 0 17732 TABLE DATA public audit_logs tier4');
    expect(rest).toContain('3971; 0 17910 TABLE DATA public cases_archive tier4');
    expect(rest).toContain('3949; 0 0 SEQUENCE SET public audit_logs_id_seq tier4');
    expect(rest).toContain('3985; 0 0 COMMENT - EXTENSION pg_trgm ');
    expect([...data, ...rest].sort()).toEqual(LISTING.split('\n').sort());
  });

  test('a set written before the manifest named its bulk tables: every TABLE DATA item goes to the loader', () => {
    const { data } = splitRestoreList(LISTING, { skipExtensionComments: false, bulkTables: undefined });
    expect(data).toHaveLength(4);
    expect(data.every((line) => line.includes(' TABLE DATA '))).toBe(true);
  });

  test('a name with a space is matched whole; an in-place restore leaves extension comments out', () => {
    const { data, rest } = splitRestoreList(LISTING, {
      skipExtensionComments: true,
      bulkTables: [{ schema: 'public', table: 'case notes' }],
    });
    expect(data).toEqual(['3970; 0 17900 TABLE DATA public case notes tier4']);
    expect(rest.some((line) => line.includes('COMMENT - EXTENSION'))).toBe(false);
    expect(rest).toContain('2; 3079 17411 EXTENSION - pg_trgm ');
  });

  test('no bulk table in the dump (an empty list): nothing for the loader', () => {
    expect(splitRestoreList(LISTING, { skipExtensionComments: false, bulkTables: [] }).data).toEqual([]);
  });
});
