/**
 * Splits the SQL script pg_restore prints for a dump's TABLE DATA items (`pg_restore --file=- --use-list=…`)
 * between several psql sessions, so that one table's rows load over several connections at once (decision 0019).
 *
 * What the script holds, from pg_restore (PostgreSQL 15, src/bin/pg_dump/pg_backup_archiver.c):
 * - a preamble of single-line `SET …;` statements and `SELECT pg_catalog.set_config('search_path', '', false);`
 *   (_doSetFixedOutputState), which every session needs;
 * - from 15.14 on, `\restrict <key>` first and `\unrestrict <key>` last (psql meta-commands that keep a dump's
 *   content from running psql commands, CVE-2025-8714);
 * - per item, a comment header whose names are put on one line (sanitize_line), then the item's COPY statement
 *   (`COPY <schema>.<table> (<columns>) FROM stdin;`, identifiers quoted by fmtId, so one may hold a newline), the
 *   rows in COPY text format, and the line `\.` (restore_toc_entry).
 * In COPY text format no row is `\.`: a backslash in a value is written `\\`, and carriage return and newline as
 * `\r` and `\n` (PostgreSQL docs, COPY, "Text Format"). psql ends COPY data at a line `\.` or `\.\r` at a line
 * start (src/bin/psql/copy.c, handleCopyIn); this router ends it at the same lines, so each session sees the
 * script psql would: a row is never read as a statement.
 *
 * Anything else outside COPY data is refused rather than guessed at: it would otherwise run once per session.
 */

export type Routed =
  /** Preamble, comments, COPY statements and data terminators: every session gets them, in order. */
  | { to: 'every'; bytes: Buffer }
  /** Whole rows of the COPY in progress: any one session (the caller picks the least busy). */
  | { to: 'one'; bytes: Buffer };

export class DataScriptError extends Error {}

const NL = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const SEMICOLON = 0x3b;
const END_OF_DATA = Buffer.from('\n\\.');

/**
 * Lines outside COPY data that every session runs: the fixed preamble, comments and psql's \restrict. One statement
 * per line, as _doSetFixedOutputState prints them; a value holds no semicolon, so nothing can follow it.
 */
const BROADCAST_LINE =
  /^(?:|--.*|SET [a-z_]+ = [^;\n]*;|SELECT pg_catalog\.set_config\('[a-z_]+', '[^';\n]*', false\);|\\(?:un)?restrict [0-9A-Za-z]+)\r?$/;

export class DataScriptRouter {
  #carry: Buffer[] = [];
  #inData = false;
  /** A COPY statement read so far (its identifiers may span lines), and whether it ends inside quotes. */
  #statement: Buffer[] | undefined;
  #inQuotes = false;
  #line = 0;
  /** Rows routed so far (for tests and progress; no row content is kept). */
  rows = 0;

  push(chunk: Buffer): Routed[] {
    const out: Routed[] = [];
    const last = chunk.lastIndexOf(NL);
    if (last < 0) {
      this.#carry.push(chunk);
      return out;
    }
    let start = 0;
    if (this.#carry.length > 0) {
      // The line begun in earlier chunks ends in this one: join just that line.
      const first = chunk.indexOf(NL);
      this.#lines(Buffer.concat([...this.#carry, chunk.subarray(0, first + 1)]), out);
      this.#carry = [];
      start = first + 1;
    }
    if (start <= last) this.#lines(chunk.subarray(start, last + 1), out);
    if (last + 1 < chunk.length) this.#carry.push(chunk.subarray(last + 1));
    return out;
  }

  /** The script ended: it must end outside COPY data, on a whole line. */
  end(): Routed[] {
    if (this.#carry.length > 0 || this.#inData || this.#statement) {
      throw new DataScriptError(
        `pg_restore's data script ended inside ${this.#inData ? 'the rows of a table' : 'a statement'} (after line ${this.#line})`,
      );
    }
    return [];
  }

  /** `region` is whole lines (it ends with a newline). */
  #lines(region: Buffer, out: Routed[]): void {
    let pos = 0;
    while (pos < region.length) {
      if (this.#inData) {
        pos = this.#rows(region, pos, out);
        continue;
      }
      const nl = region.indexOf(NL, pos);
      this.#line += 1;
      this.#statementLine(region.subarray(pos, nl + 1), out);
      pos = nl + 1;
    }
  }

  /** Routes the rows from `pos` up to the end of data or of the region; returns where it stopped. */
  #rows(region: Buffer, pos: number, out: Routed[]): number {
    const end = endOfData(region, pos);
    if (end === undefined) {
      this.#emitRows(region.subarray(pos), out);
      return region.length;
    }
    this.#emitRows(region.subarray(pos, end.at), out);
    out.push({ to: 'every', bytes: region.subarray(end.at, end.next) });
    this.#line += 1;
    this.#inData = false;
    return end.next;
  }

  #emitRows(rows: Buffer, out: Routed[]): void {
    if (rows.length === 0) return;
    let count = 0;
    for (let i = rows.indexOf(NL); i >= 0; i = rows.indexOf(NL, i + 1)) count += 1;
    this.rows += count;
    this.#line += count;
    out.push({ to: 'one', bytes: rows });
  }

  #statementLine(line: Buffer, out: Routed[]): void {
    if (!this.#statement) {
      if (line.subarray(0, 5).toString('latin1') === 'COPY ') {
        this.#statement = [];
        this.#inQuotes = false;
      } else {
        const text = line.subarray(0, line.length - 1).toString('latin1');
        if (!BROADCAST_LINE.test(text)) {
          const word = /^[A-Za-z]{1,20}\b/.exec(text)?.[0];
          throw new DataScriptError(
            `line ${this.#line} of pg_restore's data script is not a statement tier4 routes${word ? ` (it begins with ${word})` : ''}`,
          );
        }
        out.push({ to: 'every', bytes: line });
        return;
      }
    }
    this.#statement.push(line);
    // A newline inside a quoted identifier does not end the statement; `""` inside quotes toggles twice.
    for (let i = 0; i < line.length; i += 1) if (line[i] === QUOTE) this.#inQuotes = !this.#inQuotes;
    if (this.#inQuotes) return;
    const end = line.length - (line.length > 1 && line[line.length - 2] === CR ? 3 : 2);
    if (line[end] !== SEMICOLON) return;
    const statement = Buffer.concat(this.#statement);
    this.#statement = undefined;
    if (!/ FROM stdin;\r?\n$/.test(statement.subarray(-16).toString('latin1'))) {
      throw new DataScriptError(`the COPY statement ending at line ${this.#line} does not read FROM stdin`);
    }
    out.push({ to: 'every', bytes: statement });
    this.#inData = true;
  }
}

/** The next line `\.` (or `\.\r`) at or after `pos`, which is a line start; `at` is its start, `next` after it. */
function endOfData(region: Buffer, pos: number): { at: number; next: number } | undefined {
  let at: number | undefined = isEndLine(region, pos) ? pos : undefined;
  for (
    let nl = region.indexOf(END_OF_DATA, pos);
    at === undefined && nl >= 0;
    nl = region.indexOf(END_OF_DATA, nl + 1)
  ) {
    if (isEndLine(region, nl + 1)) at = nl + 1;
  }
  return at === undefined ? undefined : { at, next: at + (region[at + 2] === CR ? 4 : 3) };
}

function isEndLine(region: Buffer, at: number): boolean {
  if (region[at] !== 0x5c || region[at + 1] !== 0x2e) return false;
  const after = region[at + 2];
  return after === NL || (after === CR && region[at + 3] === NL);
}
