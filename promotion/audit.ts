import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { redact } from '../core/redact.js';
import type { DiffSummary } from './diff.js';

/**
 * tier4's own record of promotions and rollbacks: JSON lines, appended, one line when a run starts and
 * one when it ends. Ids, versions and counts only: no configuration content, no personal data.
 */

export interface AuditRecord {
  /** The run's id, shared by its start and end lines. */
  id: string;
  kind: 'promotion' | 'rollback';
  result: 'started' | 'succeeded' | 'failed' | 'refused';
  /** When the run started. */
  at: string;
  finishedAt?: string;
  operator: string;
  from?: string;
  to: string;
  fromVersion?: string;
  toVersion?: string;
  transfer?: 'promote' | 'database';
  /** Production's configuration state saved before the apply: what rollback applies. */
  rollbackPoint?: string;
  /** The configuration state promoted (or, for a rollback, applied). */
  configurationId?: string;
  configurationVersion?: string;
  backupId?: string;
  summary?: Pick<DiffSummary, 'changes' | 'added' | 'changed' | 'removed' | 'destructive' | 'kept'>;
  /** Model:unique_id → digest of production's configuration before the apply, to verify a rollback. */
  before?: Record<string, string>;
  failedStep?: string;
  error?: string;
}

export function appendAudit(path: string, record: AuditRecord): void {
  mkdirSync(dirname(path), { recursive: true });
  const safe = { ...record, ...(record.error ? { error: redact(record.error) } : {}) };
  appendFileSync(path, `${JSON.stringify(safe)}\n`, { mode: 0o640 });
}

/** Every line of the log, oldest first; unreadable lines are skipped and counted. */
export function readAudit(path: string): { records: AuditRecord[]; skipped: number } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], skipped: 0 };
    throw error;
  }
  const records: AuditRecord[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as AuditRecord);
    } catch {
      skipped += 1;
    }
  }
  return { records, skipped };
}

/** One entry per run: its last line, with what the start line knew. Newest first. */
export function auditHistory(records: AuditRecord[]): AuditRecord[] {
  const runs = new Map<string, AuditRecord>();
  for (const record of records) runs.set(record.id, { ...runs.get(record.id), ...record });
  return [...runs.values()].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}
