import type { RestoreAuditRecord, RunAudit, SiteRepository, TargetVerdict } from '../backups/index.js';
import { EXIT_USAGE, errorMessage, Tier4Error } from '../core/errors.js';
import type { CommandContext } from './context.js';
import { withSiteRepository } from './site-repository.js';

/**
 * Runs a restore or a drill under its audit: whatever `work` throws is recorded (a usage error as refused,
 * anything else as failed) before it reaches the operator. `alsoTo` keeps the end line elsewhere too.
 */
export async function audited<T>(
  ctx: CommandContext,
  audit: RunAudit,
  work: () => Promise<T>,
  alsoTo?: (record: RestoreAuditRecord) => Promise<void>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const refused = error instanceof Tier4Error && error.exitCode === EXIT_USAGE;
    try {
      const record = audit.finish(refused ? 'refused' : 'failed', { error: errorMessage(error) });
      await alsoTo?.(record);
    } catch (logError) {
      ctx.out.warn(`The audit log could not be written: ${errorMessage(logError)}`);
    }
    throw error;
  }
}

/** Tells the operator how the target was compared with the demo site (e.g. by address only, and why). */
export function reportVerdict(ctx: CommandContext, verdict: TargetVerdict): void {
  for (const note of verdict.notes) ctx.out.info(note);
}

/**
 * A site's repository, opened for a restore or a drill that is audited: the audit is made once the repository
 * is open, and whatever the work throws is recorded before it reaches the operator. A drill (tolerant) also
 * keeps its end line in the repository, and a local log it cannot write is not an error.
 */
export async function withAuditedRepository<T>(
  ctx: CommandContext,
  site: string | undefined,
  run: { kind: 'restore' | 'drill'; target: (repo: SiteRepository) => string; operator?: string | undefined },
  work: (repo: SiteRepository, audit: RunAudit) => Promise<T>,
): Promise<T> {
  const { RunAudit, auditTarget, restoreAuditPath, saveAuditRecord } = await import('../backups/index.js');
  return withSiteRepository(ctx, site, (repo) => {
    const drill = run.kind === 'drill';
    const audit = new RunAudit(
      restoreAuditPath(ctx.config()),
      { kind: run.kind, site: repo.site, target: auditTarget(run.target(repo)), operator: run.operator },
      { tolerant: drill },
    );
    return audited(
      ctx,
      audit,
      () => work(repo, audit),
      drill ? (record) => saveAuditRecord(repo, record) : undefined,
    );
  });
}
