import { appendAuditLine, auditRuns, readAuditLog } from '../core/audit-log.js';
import type { DiffSummary } from './diff.js';

/**
 * tier4's own record of promotions and rollbacks: JSON lines, appended, one line when a run starts and
 * one when it ends (written by core/audit-log.ts). Ids, versions and counts only: no configuration content,
 * no personal data.
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
  appendAuditLine(path, record);
}

export function readAudit(path: string): { records: AuditRecord[]; skipped: number } {
  return readAuditLog<AuditRecord>(path);
}

/** One entry per run: its last line, with what the start line knew. Newest first. */
export function auditHistory(records: AuditRecord[]): AuditRecord[] {
  return auditRuns(records);
}
