import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { OperationError, UsageError } from '../errors.js';
import { redact } from '../redact.js';

export interface PgTool {
  path: string;
  version: string;
  major: number;
}

/**
 * Finds pg_dump/pg_restore: $TIER4_PG_BIN, else the newest /usr/lib/postgresql/<major>/bin, else the PATH.
 * A newer client can dump an older server, never the reverse, so we prefer the newest.
 */
export async function findPgTool(
  name: 'pg_dump' | 'pg_restore',
  env: NodeJS.ProcessEnv = process.env,
): Promise<PgTool> {
  const candidates: string[] = [];
  if (env.TIER4_PG_BIN) candidates.push(join(env.TIER4_PG_BIN, name));
  if (existsSync('/usr/lib/postgresql')) {
    const majors = readdirSync('/usr/lib/postgresql')
      .filter((dir) => /^\d+$/.test(dir))
      .sort((a, b) => Number(b) - Number(a));
    for (const major of majors) candidates.push(join('/usr/lib/postgresql', major, 'bin', name));
  }
  candidates.push(name);
  for (const candidate of candidates) {
    if (candidate.includes('/') && !existsSync(candidate)) continue;
    const tool = await versionOf(candidate);
    if (tool) return tool;
  }
  throw new UsageError(
    `${name} was not found.`,
    'Install the PostgreSQL client of the server major version or newer (Debian: postgresql-client-15), or set TIER4_PG_BIN.',
  );
}

/**
 * psql from the same installation as `beside` (its directory, or the PATH when it came from there), of the same
 * version: pg_restore writes scripts for its own psql (from 15.14 they begin with `\restrict`, which older psql
 * refuses).
 */
export async function findToolBeside(beside: PgTool, name: 'psql'): Promise<PgTool> {
  const path = beside.path.includes('/') ? join(dirname(beside.path), name) : name;
  const tool = await versionOf(path);
  if (tool?.version === beside.version) return tool;
  throw new UsageError(
    tool
      ? `${name} ${tool.version} (${path}) is not the version of pg_restore beside it (${beside.version}).`
      : `${name} was not found beside pg_restore (${path}).`,
    `A restore with --jobs 2 or more loads the table data through ${name}: install the PostgreSQL client package that has both (Debian: postgresql-client-${beside.major}), or restore with --jobs 1.`,
  );
}

/** The PostgreSQL tool at `path` and the version it reports; undefined when it does not run or is not one. */
async function versionOf(path: string): Promise<PgTool | undefined> {
  try {
    const { stdout } = await execa(path, ['--version']);
    const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
    if (match) return { path, version: `${match[1]}.${match[2] ?? '0'}`, major: Number(match[1]) };
  } catch {
    // not there, or not runnable
  }
  return undefined;
}

export function assertToolCanHandle(tool: PgTool, serverMajor: number, name: string): void {
  if (tool.major < serverMajor) {
    throw new OperationError(
      `${name} ${tool.version} is older than the database server (PostgreSQL ${serverMajor}); it cannot ${name === 'pg_dump' ? 'dump' : 'restore into'} it.`,
      `Install postgresql-client-${serverMajor} or newer, or point TIER4_PG_BIN at it.`,
    );
  }
}

/** The last lines a PostgreSQL tool printed on failure, redacted: enough to act on, never a secret. */
export function toolErrorDetail(result: {
  stderr?: unknown;
  exitCode?: number | undefined;
  signal?: string | undefined;
}): string {
  const lines = String(result.stderr ?? '')
    .trim()
    .split('\n');
  // With --verbose the tool chatters; the lines that say what went wrong are the ones to show.
  const errors = lines.filter((line) => /\b(error|fatal)\b/i.test(line));
  const tail = redact((errors.length > 0 ? errors : lines).slice(-3).join(' '));
  if (tail) return tail;
  // A tool stopped by a signal (an interrupted tier4 stops it) has no exit code: say so, not "exit code undefined".
  return result.exitCode === undefined
    ? `stopped by ${result.signal ?? 'a signal'}`
    : `exit code ${result.exitCode}`;
}
