/**
 * Splits a dump's table of contents into the steps of a restore with more than one job (decision 0019):
 * - `data`: the TABLE DATA items the parallel loader takes (the bulk tables, or every table for older sets);
 * - `early`: the constraints and largest index of each bulk table, built as soon as their rows are in, beside
 * - `rest`: everything else pg_restore restores (other tables' rows, all indexes but those, sequence values…);
 * - `late`: what depends on `early` (a foreign key to a bulk table's key), after both.
 *
 * Read from `pg_restore --list --verbose`: each item is "<dumpId>; <tableoid> <oid> <desc> <schema> <name>
 * <owner>", followed by ";\tdepends on: <dumpId> …" when it has dependencies (src/bin/pg_dump/
 * pg_backup_archiver.c, PrintTOCSummary). `preData` holds the dumpIds of `pg_restore --list --section=pre-data`,
 * which the schema step has restored before any of these run.
 */
export interface RestoreLists {
  data: string[];
  early: string[];
  rest: string[];
  late: string[];
}

interface Item {
  id: number;
  line: string;
  deps: number[];
}

export function splitRestoreList(
  verboseListing: string,
  options: {
    /** An in-place restore leaves out COMMENT ON EXTENSION (the extension may belong to another role). */
    skipExtensionComments: boolean;
    /** The tables to load in parallel; undefined (a set written before 0019): every table. */
    bulkTables: ReadonlyArray<{ schema: string; table: string; largestIndex?: string }> | undefined;
    /** The dumpIds of the pre-data section. */
    preData: ReadonlySet<number>;
  },
): RestoreLists {
  const items = parseListing(verboseListing).filter(
    (item) => !(options.skipExtensionComments && /^\d+; \d+ \d+ COMMENT - EXTENSION /.test(item.line)),
  );
  // The bulk table an item's line names. A name holding a space could match another table's line: that only
  // moves the table between the lists, and every list restores what it holds.
  const bulkOf = (item: Item) =>
    options.bulkTables?.find(({ schema, table }) => item.line.includes(` ${schema} ${table} `));
  const isBulk = (item: Item) => !options.bulkTables || bulkOf(item) !== undefined;
  const tables = items.filter((item) => hasDesc(item.line, 'TABLE'));
  const bulkTableIds = new Set(tables.filter(isBulk).map((t) => t.id));
  const otherTableIds = new Set(tables.filter((t) => !bulkTableIds.has(t.id)).map((t) => t.id));

  const data = new Set(items.filter((item) => hasDesc(item.line, 'TABLE DATA') && isBulk(item)));
  // A bulk table's constraints (primary key, unique: ALTER TABLE, which locks out every index build on it) and its
  // largest index, one after the other; its other indexes build beside them (CREATE INDEX locks only writers out).
  const largestIndexOf = new Map(tables.filter((t) => bulkTableIds.has(t.id)).map((t) => [t.id, bulkOf(t)]));
  const early = new Set<Item>();
  if (options.bulkTables) {
    for (const item of items) {
      const index = hasDesc(item.line, 'INDEX');
      if (!(index || hasDesc(item.line, 'CONSTRAINT'))) continue;
      const table = item.deps.find((d) => bulkTableIds.has(d));
      if (table === undefined) continue;
      if (!item.deps.every((d) => options.preData.has(d) && !otherTableIds.has(d))) continue;
      const b = largestIndexOf.get(table);
      if (index && b?.largestIndex && !item.line.includes(` INDEX ${b.schema} ${b.largestIndex} `)) continue;
      early.add(item);
    }
  }
  // Whatever depends on an early item, directly or not, waits for it.
  const lateIds = new Set<number>();
  const earlyIds = new Set([...early].map((item) => item.id));
  for (let grew = true; grew; ) {
    grew = false;
    for (const item of items) {
      if (early.has(item) || lateIds.has(item.id) || options.preData.has(item.id)) continue;
      if (item.deps.some((d) => earlyIds.has(d) || lateIds.has(d))) {
        lateIds.add(item.id);
        grew = true;
      }
    }
  }
  const lines = (pick: (item: Item) => boolean) => items.filter(pick).map((item) => item.line);
  return {
    data: lines((item) => data.has(item)),
    early: lines((item) => early.has(item)),
    late: lines((item) => lateIds.has(item.id)),
    rest: lines((item) => !data.has(item) && !early.has(item) && !lateIds.has(item.id)),
  };
}

/** The dumpIds a non-verbose `pg_restore --list` names (one item per line, comments start with ";"). */
export function listedIds(listing: string): Set<number> {
  const ids = new Set<number>();
  for (const line of listing.split('\n')) {
    const match = /^(\d+); /.exec(line);
    if (match) ids.add(Number(match[1]));
  }
  return ids;
}

function parseListing(listing: string): Item[] {
  const items: Item[] = [];
  for (const line of listing.split('\n')) {
    const item = /^(\d+); \d+ \d+ /.exec(line);
    if (item) {
      items.push({ id: Number(item[1]), line, deps: [] });
      continue;
    }
    const deps = /^;\s*depends on:((?: \d+)+)\s*$/.exec(line);
    const last = items.at(-1);
    if (deps && last) last.deps = deps[1]!.trim().split(/\s+/).map(Number);
  }
  return items;
}

/** Whether the item line's description is exactly `desc` ("TABLE" is not "TABLE DATA", "INDEX" not "INDEX ATTACH"). */
function hasDesc(line: string, desc: string): boolean {
  const rest = line.replace(/^\d+; \d+ \d+ /, '');
  if (!rest.startsWith(`${desc} `)) return false;
  const longer = ['TABLE DATA', 'INDEX ATTACH', 'FK CONSTRAINT', 'CONSTRAINT TRIGGER'];
  return !longer.some(
    (other) => other !== desc && other.startsWith(`${desc} `) && rest.startsWith(`${other} `),
  );
}
