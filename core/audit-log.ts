import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { redact } from './redact.js';

/**
 * The one writer and reader of tier4's audit logs (promotions, restores, drills): JSON lines, only ever
 * appended, one line when a run starts and one when it ends, both carrying the run's id. Callers put ids,
 * counts, sizes and times in a record, never configuration content or personal data; error texts are
 * redacted and cut to their first line here, so a value quoted by a database error cannot reach the log.
 */

export interface AuditLine {
  /** The run's id, shared by its start and end lines. */
  id: string;
  /** When the run started. */
  at: string;
  result: string;
  error?: string;
}

/** Who runs a command: --operator when given, else the OS user. */
export function operatorName(explicit?: string): string {
  if (explicit) return explicit;
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** 20261130-011500-3fa91c: sorts by time, unique enough for one log. */
export function runId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * An error as the audit log keeps it: its first line, redacted, without "Key (column)=(value)" details that
 * PostgreSQL adds to constraint errors (they quote row values), at most 300 characters.
 */
export function auditError(error: string): string {
  const first = error.split('\n')[0] ?? '';
  return redact(first)
    .replace(/\(([^()]*)\)=\([^)]*\)/g, '($1)=(…)')
    .slice(0, 300);
}

export function appendAuditLine<T extends AuditLine>(path: string, record: T): void {
  mkdirSync(dirname(path), { recursive: true });
  const safe = { ...record, ...(record.error ? { error: auditError(record.error) } : {}) };
  appendFileSync(path, `${JSON.stringify(safe)}\n`, { mode: 0o640 });
}

/** Every line of a log, oldest first; unreadable lines are skipped and counted. A missing log is empty. */
export function readAuditLog<T extends AuditLine>(path: string): { records: T[]; skipped: number } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], skipped: 0 };
    throw error;
  }
  const records: T[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const parsed = JSON.parse(line) as T;
      if (typeof parsed?.id === 'string' && typeof parsed.at === 'string') records.push(parsed);
      else skipped += 1;
    } catch {
      skipped += 1;
    }
  }
  return { records, skipped };
}

/** One entry per run: its last line, with what the start line knew. Newest first. */
export function auditRuns<T extends AuditLine>(records: T[]): T[] {
  const runs = new Map<string, T>();
  for (const record of records) runs.set(record.id, { ...runs.get(record.id), ...record });
  return [...runs.values()].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}
