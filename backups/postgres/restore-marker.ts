import { hostname } from 'node:os';
import type pg from 'pg';

/**
 * A database being restored carries a comment (COMMENT ON DATABASE) saying so until the restore has finished,
 * attachments included; a restore killed half-way leaves it behind, so `restore` and doctor can say the
 * database is incomplete instead of it looking whole. A finished restore replaces it with what was restored.
 */
const INCOMPLETE = 'tier4: restore incomplete ';
const COMPLETE = 'tier4: restored ';

export interface IncompleteRestore {
  set: string;
  startedAt: string;
  host: string;
  pid: number;
  /** The database the restore was for (a work database is renamed to it once it succeeds). */
  target: string;
}

export function incompleteMarker(set: string, target: string): IncompleteRestore {
  return { set, target, startedAt: new Date().toISOString(), host: hostname(), pid: process.pid };
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Comments cannot take parameters; the text is ours (ids, times, a host name), quoted as a literal. */
export async function markIncomplete(client: pg.Client, database: string, marker: IncompleteRestore) {
  await client.query(
    `COMMENT ON DATABASE ${quoteIdent(database)} IS ${quoteLiteral(INCOMPLETE + JSON.stringify(marker))}`,
  );
}

export async function markComplete(client: pg.Client, database: string, set: string) {
  const text = COMPLETE + JSON.stringify({ set, at: new Date().toISOString() });
  await client.query(`COMMENT ON DATABASE ${quoteIdent(database)} IS ${quoteLiteral(text)}`);
}

/** The marker of an unfinished restore on a database, or undefined (none, or the database does not exist). */
export async function readIncomplete(
  client: pg.Client,
  database: string,
): Promise<IncompleteRestore | undefined> {
  const { rows } = await client.query<{ comment: string | null }>(
    "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
    [database],
  );
  return parseIncomplete(rows[0]?.comment ?? null);
}

export function parseIncomplete(comment: string | null): IncompleteRestore | undefined {
  if (!comment?.startsWith(INCOMPLETE)) return undefined;
  try {
    return JSON.parse(comment.slice(INCOMPLETE.length)) as IncompleteRestore;
  } catch {
    return { set: 'unknown', startedAt: 'unknown', host: 'unknown', pid: 0, target: 'unknown' };
  }
}

/** One line for an operator. */
export function describeIncomplete(database: string, marker: IncompleteRestore): string {
  return `database ${database} holds an unfinished restore of set ${marker.set} (started ${marker.startedAt} on ${marker.host}); it may lack tables or attachments`;
}

export { quoteIdent };
