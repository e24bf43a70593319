/**
 * Splits `pg_restore --list` output into the TABLE DATA items the parallel loader takes (decision 0019) and the
 * rest, which pg_restore restores. Lines read "<dumpId>; <tableoid> <oid> <desc> <schema> <name> <owner>"
 * (src/bin/pg_dump/pg_backup_archiver.c, PrintTOCSummary); comment lines start with ";".
 */
export function splitRestoreList(
  listing: string,
  options: {
    /** An in-place restore leaves out COMMENT ON EXTENSION (the extension may belong to another role). */
    skipExtensionComments: boolean;
    /** The tables to load in parallel; undefined (a set written before 0019): every table. */
    bulkTables: ReadonlyArray<{ schema: string; table: string }> | undefined;
  },
): { data: string[]; rest: string[] } {
  // A name holding a space could match another table's line: that only moves the table between the two lists,
  // and both restore it.
  const bulk = options.bulkTables?.map(({ schema, table }) => ` TABLE DATA ${schema} ${table} `);
  const data: string[] = [];
  const rest: string[] = [];
  for (const line of listing.split('\n')) {
    if (options.skipExtensionComments && /^\d+; \d+ \d+ COMMENT - EXTENSION /.test(line)) continue;
    const tableData = /^\d+; \d+ \d+ TABLE DATA /.test(line);
    (tableData && (!bulk || bulk.some((b) => line.includes(b))) ? data : rest).push(line);
  }
  return { data, rest };
}
