import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
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
    try {
      const { stdout } = await execa(candidate, ['--version']);
      const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
      if (match)
        return { path: candidate, version: `${match[1]}.${match[2] ?? '0'}`, major: Number(match[1]) };
    } catch {
      // try the next candidate
    }
  }
  throw new UsageError(
    `${name} was not found.`,
    'Install the PostgreSQL client of the server major version or newer (Debian: postgresql-client-15), or set TIER4_PG_BIN.',
  );
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
