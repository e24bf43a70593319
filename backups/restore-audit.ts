import { join } from 'node:path';
import {
  type AuditLine,
  appendAuditLine,
  auditError,
  auditRuns,
  operatorName,
  readAuditLog,
  runId,
} from '../core/audit-log.js';
import type { CheckStatus } from '../core/checks.js';
import type { LoadedConfig } from '../core/config/load.js';
import { redact } from '../core/redact.js';
import { compactTime } from './layout.js';
import type { SiteRepository } from './site-repository.js';
import type { TargetKind } from './target-guard.js';

/**
 * The audit log of restores and drills, kept as promotions are (core/audit-log.ts): who, when, which set,
 * which target (its URL, without secrets), what was restored (counts and sizes), the result. A refused or
 * failed run is recorded too. Ids, counts, sizes and times only: never a row, a name or a file name.
 */

export interface RestoreAuditRecord extends AuditLine {
  kind: 'restore' | 'drill';
  result: 'started' | 'succeeded' | 'failed' | 'refused';
  finishedAt?: string;
  operator: string;
  /** The site whose backup set it is. */
  site: string;
  /** The set id, once known ("latest" is resolved). */
  set?: string;
  /** The target database (a restore) or the drill server, without secrets. */
  target: string;
  targetKind?: TargetKind;
  /** The operator passed --allow-non-production-target and confirmed. */
  allowNonProductionTarget?: boolean;
  attachmentsTo?: string;
  restored?: {
    /** Row counts of Primero's key tables: the set's manifest (a restore), or read back (a drill). */
    rows: Record<string, number>;
    tables?: number;
    databaseBytes?: number;
    attachments?: number;
    attachmentBytes?: number;
  };
  drill?: { id: string; ok: boolean; failedChecks: string[]; rtoSeconds: number };
  seconds?: number;
}

/** Beside tier4.yaml: .tier4/restores.jsonl. */
export function restoreAuditPath(loaded: LoadedConfig): string {
  return join(loaded.baseDir, '.tier4', 'restores.jsonl');
}

/** A URL as the audit keeps it: no password, no query (sslrootcert paths and the like are not needed). A folder as it is. */
export function auditTarget(url: string): string {
  if (url.startsWith('/')) return redact(url);
  try {
    const parsed = new URL(url);
    parsed.password = '';
    parsed.search = '';
    return redact(parsed.toString());
  } catch {
    return '(not a URL)';
  }
}

/** One run's audit: a start line once the target has been accepted, then one end line. */
export class RunAudit {
  readonly record: RestoreAuditRecord;
  /** Why the local log could not be written, when `tolerant` (a drill in a pod with a read-only config folder). */
  localProblem: string | undefined;

  constructor(
    readonly path: string,
    base: Pick<RestoreAuditRecord, 'kind' | 'site' | 'target'> & { operator?: string | undefined },
    readonly options: { tolerant?: boolean; now?: () => Date } = {},
  ) {
    const now = options.now ?? (() => new Date());
    const at = now();
    this.record = {
      ...base,
      id: runId(at),
      at: at.toISOString(),
      operator: operatorName(base.operator),
      result: 'started',
    };
  }

  private write(): void {
    try {
      appendAuditLine(this.path, this.record);
    } catch (error) {
      if (!this.options.tolerant) throw error;
      this.localProblem = `${this.path}: ${(error as NodeJS.ErrnoException).code ?? 'cannot write'}`;
    }
  }

  /** Writes the start line; unless tolerant, throws when the log cannot be written (nothing is touched yet). */
  begin(fields: Partial<RestoreAuditRecord> = {}): void {
    Object.assign(this.record, fields);
    if (this.record.attachmentsTo) this.record.attachmentsTo = auditTarget(this.record.attachmentsTo);
    this.write();
  }

  /** Writes the end line. */
  finish(
    result: 'succeeded' | 'failed' | 'refused',
    fields: Partial<RestoreAuditRecord> = {},
  ): RestoreAuditRecord {
    const at = (this.options.now ?? (() => new Date()))();
    Object.assign(this.record, fields, {
      result,
      finishedAt: at.toISOString(),
      seconds: (at.getTime() - Date.parse(this.record.at)) / 1000,
    });
    if (this.record.error) this.record.error = auditError(this.record.error);
    this.write();
    return { ...this.record };
  }
}

/** Restores and drills on record, newest first (one entry per run). */
export function restoreHistory(path: string): { runs: RestoreAuditRecord[]; skipped: number } {
  const { records, skipped } = readAuditLog<RestoreAuditRecord>(path);
  return { runs: auditRuns(records), skipped };
}

/** Drills run in the cluster leave no log on a workstation: their audit records are kept in the repository too. */
export function auditKey(site: string, record: RestoreAuditRecord): string {
  return `${site}/audit/${compactTime(new Date(record.at))}-${record.id}.json`;
}

export async function saveAuditRecord(repo: SiteRepository, record: RestoreAuditRecord): Promise<void> {
  await repo.store.putBytes(auditKey(repo.site, record), `${JSON.stringify(record)}\n`);
}

export async function repositoryAuditRecords(repo: SiteRepository): Promise<RestoreAuditRecord[]> {
  const records: RestoreAuditRecord[] = [];
  for await (const object of repo.store.list(`${repo.site}/audit/`)) {
    const bytes = await repo.store.getBytes(object.key);
    if (!bytes) continue;
    try {
      const record = JSON.parse(bytes.toString('utf8')) as RestoreAuditRecord;
      if (typeof record.id === 'string' && typeof record.at === 'string') records.push(record);
    } catch {
      // not an audit record
    }
  }
  return records;
}

/**
 * For the doctor: the last restore and the last drill of a site in the local audit log. A refused or failed
 * last run is worth a look (someone aimed at the wrong target, or a restore broke half-way): a warning.
 */
export function lastRestoreAndDrill(
  path: string,
  site: string,
): { status: Exclude<CheckStatus, 'fail'>; message: string } {
  const runs = restoreHistory(path).runs.filter((run) => run.site === site);
  const last = (['restore', 'drill'] as const).map((kind) => runs.find((run) => run.kind === kind));
  if (!last[0] && !last[1]) return { status: 'skip', message: `no restore or drill on record in ${path}` };
  const describe = (run: RestoreAuditRecord | undefined, kind: string) => {
    if (!run) return `no ${kind} on record`;
    const facts = [
      ...(run.set ? [`set ${run.set}`] : []),
      ...(run.targetKind ? [`${run.targetKind} target`] : []),
      `by ${run.operator}`,
    ];
    return `last ${kind} ${run.at.slice(0, 16).replace('T', ' ')} ${run.result} (${facts.join(', ')})`;
  };
  const bad = last.some((run) => run?.result === 'failed' || run?.result === 'refused');
  return {
    status: bad ? 'warn' : 'ok',
    message: `${describe(last[0], 'restore')}; ${describe(last[1], 'drill')}${bad ? ': see `tier4 restore history`' : ''}`,
  };
}
