import { describe, expect, test } from 'vitest';
import { listedIds, splitRestoreList } from '../../backups/postgres/restore-list.js';

// `pg_restore --list --verbose` of a Primero-shaped dump (PostgreSQL 15.20 on this machine), trimmed, plus a
// table whose name holds a space and a foreign key to the bulk table's key.
const VERBOSE = `;
; Archive created at 2026-12-07 17:20:42 UTC
;
3; 3079 16397 EXTENSION - pg_trgm 
; depends on: 
3976; 0 0 COMMENT - EXTENSION pg_trgm 
;\tdepends on: 3
245; 1259 16905 TABLE public cases tier4
246; 1259 16920 TABLE public incidents tier4
253; 1259 16987 TABLE public audit_logs tier4
252; 1259 16986 SEQUENCE public audit_logs_id_seq tier4
;\tdepends on: 253
280; 1259 17200 TABLE public case notes tier4
3940; 0 16905 TABLE DATA public cases tier4
;\tdepends on: 245
3941; 0 16920 TABLE DATA public incidents tier4
;\tdepends on: 246
3948; 0 16987 TABLE DATA public audit_logs tier4
;\tdepends on: 253
3970; 0 17200 TABLE DATA public case notes tier4
;\tdepends on: 280
4006; 0 0 SEQUENCE SET public audit_logs_id_seq tier4
;\tdepends on: 252
3717; 2606 16915 CONSTRAINT public cases cases_pkey tier4
;\tdepends on: 245
3718; 1259 16916 INDEX public index_cases_on_data tier4
;\tdepends on: 245
3719; 1259 16917 INDEX public index_cases_on_srch_name_trgm tier4
;\tdepends on: 3 3 3 245
3721; 2606 16926 CONSTRAINT public incidents incidents_pkey tier4
;\tdepends on: 246
3733; 2606 16995 CONSTRAINT public audit_logs audit_logs_pkey tier4
;\tdepends on: 253
3765; 2606 16927 FK CONSTRAINT public incidents incidents_incident_case_id_fkey tier4
;\tdepends on: 3717 245 246
3790; 0 0 COMMENT public CONSTRAINT incidents_incident_case_id_fkey tier4
;\tdepends on: 3765
`;
const PRE_DATA = new Set([3, 3976, 245, 246, 253, 252, 280]);
const CASES = [{ schema: 'public', table: 'cases' }];
/** The lists for these bulk tables, from VERBOSE (or `listing`), with PRE_DATA restored first. */
const split = (
  bulkTables: Parameters<typeof splitRestoreList>[1]['bulkTables'],
  skipExtensionComments = false,
  listing = VERBOSE,
) => splitRestoreList(listing, { skipExtensionComments, bulkTables, preData: PRE_DATA });
const ids = (lines: string[]) => lines.map((line) => Number(line.split(';')[0])).sort((a, b) => a - b);

describe('the restore lists (decision 0019)', () => {
  test('bulk rows to the loader; their own indexes early; what depends on those late; the rest to pg_restore', () => {
    const lists = split(CASES);
    expect(ids(lists.data)).toEqual([3940]);
    // The key and both indexes of cases: only the table (and the extension, restored with the schema) before them.
    expect(ids(lists.early)).toEqual([3717, 3718, 3719]);
    // The foreign key to cases' key, and the comment on it.
    expect(ids(lists.late)).toEqual([3765, 3790]);
    expect(ids(lists.rest)).toEqual([3, 245, 246, 252, 253, 280, 3721, 3733, 3941, 3948, 3970, 3976, 4006]);
    // Every item in exactly one list, as pg_restore printed it (no dependency comment lines).
    const all = [...lists.data, ...lists.early, ...lists.late, ...lists.rest];
    expect(all).toHaveLength(new Set(all).size);
    expect(all.every((line) => /^\d+; \d+ \d+ /.test(line))).toBe(true);
    expect(all).toContain('3940; 0 16905 TABLE DATA public cases tier4');
  });

  test('with the largest index known: the constraints and that index early, the other indexes beside them', () => {
    const lists = split([{ schema: 'public', table: 'cases', largestIndex: 'index_cases_on_data' }]);
    expect(ids(lists.early)).toEqual([3717, 3718]);
    expect(lists.rest).toContain('3719; 1259 16917 INDEX public index_cases_on_srch_name_trgm tier4');
    expect(ids(lists.late)).toEqual([3765, 3790]);
    // The largest index backing a constraint (the primary key): constraints are early anyway, no index is.
    const byKey = split([{ schema: 'public', table: 'cases', largestIndex: 'cases_pkey' }]);
    expect(ids(byKey.early)).toEqual([3717]);
    expect(ids(byKey.rest)).toEqual(expect.arrayContaining([3718, 3719]));
  });

  test('only plain indexes and constraints of the bulk tables alone are early; look-alike kinds never', () => {
    const more = `${VERBOSE}3800; 0 0 INDEX ATTACH public cases_part_idx tier4
;\tdepends on: 3718 245
3801; 2620 17300 CONSTRAINT TRIGGER public cases cases_check tier4
;\tdepends on: 245
3802; 1259 17301 INDEX public cases_with_incidents tier4
;\tdepends on: 245 246
3803; 1259 17302 INDEX public cases_after_audit tier4
;\tdepends on: 245 3733
3804; 1259 17303 INDEX public trgm_only tier4
;\tdepends on: 3
3805; 2606 17304 CONSTRAINT public cases cases_check_ok tier4
;\tdepends on: 245 3
`;
    const lists = split(CASES, false, more);
    expect(ids(lists.early)).toEqual([3717, 3718, 3719, 3805]);
    // Whatever depends on an early item waits for it; the rest go to pg_restore.
    expect(ids(lists.late)).toEqual([3765, 3790, 3800]);
    expect(ids(lists.rest)).toEqual(expect.arrayContaining([3801, 3802, 3803, 3804]));
    expect(ids(lists.early)).not.toContain(3802);
  });

  test('an index of a table whose rows pg_restore still loads is never early', () => {
    const lists = split([{ schema: 'public', table: 'audit_logs' }]);
    expect(ids(lists.data)).toEqual([3948]);
    expect(ids(lists.early)).toEqual([3733]);
    expect(lists.rest).toContain('3718; 1259 16916 INDEX public index_cases_on_data tier4');
    expect(lists.late).toEqual([]);
  });

  test('a set written before the manifest named its bulk tables: every table to the loader, nothing early', () => {
    const lists = split(undefined);
    expect(ids(lists.data)).toEqual([3940, 3941, 3948, 3970]);
    expect(lists.early).toEqual([]);
    expect(lists.late).toEqual([]);
  });

  test('a name with a space is matched whole; an in-place restore leaves extension comments out', () => {
    const lists = split([{ schema: 'public', table: 'case notes' }], true);
    expect(ids(lists.data)).toEqual([3970]);
    expect(ids(lists.rest)).not.toContain(3976);
    expect(ids(lists.rest)).toContain(3);
  });

  test('no bulk table (an empty list): no loader, nothing early; all of it to pg_restore', () => {
    const lists = split([]);
    expect(lists.data).toEqual([]);
    expect(lists.early).toEqual([]);
    expect(lists.rest).toHaveLength(19);
  });

  test('the ids of a plain list', () => {
    expect([
      ...listedIds(';\n; x\n3; 3079 16397 EXTENSION - pg_trgm \n245; 1259 16905 TABLE public cases tier4\n'),
    ]).toEqual([3, 245]);
  });
});
