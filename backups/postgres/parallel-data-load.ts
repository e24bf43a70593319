import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { execa } from 'execa';
import { toolErrorDetail } from '../../core/postgres/pg-tools.js';
import { DataScriptError, DataScriptRouter, type Routed } from './data-script-router.js';

/**
 * Loads a dump's table data over several connections (decision 0019): pg_restore prints the TABLE DATA items of
 * the list as a script, and DataScriptRouter hands each COPY's rows to whichever psql session has room, so a big
 * table loads on every core instead of one. pg_restore still reads the archive; psql still speaks COPY.
 */
export interface DataLoad {
  pgRestore: string;
  psql: string;
  dumpFile: string;
  /** A pg_restore list holding the TABLE DATA items to load. */
  listFile: string;
  /** From toolConnection: the URL and libpq environment (password, TLS) that pg_restore uses too. */
  url: string;
  env: Record<string, string>;
  sessions: number;
  signal?: AbortSignal;
}

export class DataLoadError extends Error {
  constructor(
    readonly tool: 'pg_restore' | 'psql' | 'tier4',
    readonly detail: string,
  ) {
    super(`${tool}: ${detail}`);
  }
}

/** Returns the number of rows loaded. Throws DataLoadError; every process it started has ended by then. */
export async function loadTableData(load: DataLoad): Promise<{ rows: number }> {
  const common = {
    env: load.env,
    reject: false,
    ...(load.signal ? { cancelSignal: load.signal } : {}),
  } as const;
  const script = execa(
    load.pgRestore,
    ['--no-owner', '--no-acl', `--use-list=${load.listFile}`, '--file=-', load.dumpFile],
    { ...common, buffer: { stdout: false, stderr: true } },
  );
  const sessions = Array.from({ length: Math.max(1, load.sessions) }, () =>
    // Not --quiet: psql prints each COPY's row count ("COPY <n>", its command tag), checked against the rows sent.
    execa(
      load.psql,
      ['--no-psqlrc', '--no-password', '--set=ON_ERROR_STOP=1', `--dbname=${load.url}`, '--file=-'],
      { ...common, stdin: 'pipe' },
    ),
  );
  // A session that fails stops reading; its pipe's errors are reported through its exit instead.
  for (const session of sessions) session.stdin.on('error', () => {});
  const stop = new AbortController();
  for (const child of [script, ...sessions]) {
    child.then(
      (result) => result.exitCode !== 0 && stop.abort(),
      () => stop.abort(),
    );
  }
  const router = new DataScriptRouter();
  const turn = { next: 0 };
  let routeError: DataScriptError | undefined;
  try {
    for await (const chunk of script.stdout) {
      if (stop.signal.aborted) break;
      await deliver(router.push(chunk as Buffer), sessions, stop.signal, turn);
    }
    if (!stop.signal.aborted) await deliver(router.end(), sessions, stop.signal, turn);
  } catch (error) {
    if (!(error instanceof DataScriptError)) throw error;
    routeError = error;
  } finally {
    if (routeError || stop.signal.aborted) {
      script.kill();
      for (const session of sessions) session.kill();
    } else {
      for (const session of sessions) session.stdin.end();
    }
  }
  const [scriptResult, ...sessionResults] = await Promise.all([script, ...sessions]);
  // The router's refusal first, then a psql session's failure, then pg_restore's.
  if (routeError) throw new DataLoadError('tier4', routeError.message);
  const sessionFailure = sessionResults.find(failed);
  if (sessionFailure) throw new DataLoadError('psql', toolErrorDetail(sessionFailure));
  if (failed(scriptResult)) throw new DataLoadError('pg_restore', toolErrorDetail(scriptResult));
  // The rows the server took are the rows routed: a session that stopped reading early cannot pass unseen.
  const loaded = sessionResults.reduce((sum, result) => sum + copiedRows(String(result.stdout ?? '')), 0);
  if (loaded !== router.rows) {
    throw new DataLoadError('tier4', `the database took ${loaded} rows of the ${router.rows} sent to it`);
  }
  return { rows: router.rows };
}

/** The rows of every COPY a psql session ran, from the command tags it printed ("COPY <n>", one line each). */
function copiedRows(stdout: string): number {
  let rows = 0;
  for (const match of stdout.matchAll(/^COPY (\d+)$/gm)) rows += Number(match[1]);
  return rows;
}

function failed(result: { exitCode?: number | undefined }): boolean {
  return result.exitCode !== 0;
}

type Session = { stdin: Writable };

/**
 * Writes routed pieces in order: rows to the session with the least waiting (equal ones in turn, since a pipe
 * that takes a write at once shows nothing waiting), the rest to every session.
 */
async function deliver(
  pieces: Routed[],
  sessions: Session[],
  stop: AbortSignal,
  turn: { next: number },
): Promise<void> {
  for (const piece of pieces) {
    if (stop.aborted) return;
    if (piece.to === 'every') {
      for (const session of sessions) session.stdin.write(piece.bytes);
      continue;
    }
    let chosenIndex = turn.next;
    for (let k = 1; k < sessions.length; k += 1) {
      const i = (turn.next + k) % sessions.length;
      if (sessions[i]!.stdin.writableLength < sessions[chosenIndex]!.stdin.writableLength) chosenIndex = i;
    }
    turn.next = (chosenIndex + 1) % sessions.length;
    const chosen = sessions[chosenIndex]!;
    chosen.stdin.write(piece.bytes);
    // Wait only when every session is full; then for the one just written to.
    if (sessions.every((session) => session.stdin.writableNeedDrain)) {
      await once(chosen.stdin, 'drain', { signal: stop }).catch(() => undefined);
    }
  }
}
