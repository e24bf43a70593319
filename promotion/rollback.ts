import { errorMessage, OperationError, UsageError } from '../core/errors.js';
import { getConfiguration, queueApply, readLiveConfiguration } from '../primero-api/index.js';
import { describeOutcome, operatorName, runId } from './apply.js';
import { type AuditRecord, appendAudit, auditHistory, readAudit } from './audit.js';
import { compareFingerprints } from './fingerprint.js';
import { fingerprint, normalizeConfiguration } from './normalize.js';
import { openSession, type PromotionContext } from './session.js';
import { waitForApply } from './wait.js';

/**
 * tier4 promote rollback: apply production's pre-promotion configuration state again, wait for it, and
 * check production matches what it was before (for the models Primero replaces; agencies, roles and
 * user groups a promotion added stay, because Primero never deletes those).
 */

export interface RollbackOptions {
  /** The configuration id to apply; default the rollback point of the newest promotion to this site. */
  configurationId?: string;
  /** The production site; default promotion.to. */
  site?: string;
  operator?: string;
}

export interface RollbackResult {
  id: string;
  site: string;
  configurationId: string;
  /** The promotion this undoes, when known from the audit log. */
  promotionId?: string;
  verified: boolean;
  /** Items that differ from the pre-promotion state but that Primero never deletes (added agencies, roles, user groups). */
  remaining: string[];
}

export async function rollbackPromotion(
  ctx: PromotionContext,
  options: RollbackOptions = {},
): Promise<RollbackResult> {
  const session = openSession(ctx, options.site ? { to: options.site } : {});
  const runs = auditHistory(readAudit(session.auditLogPath).records);
  let promotion: AuditRecord | undefined;
  if (options.configurationId) {
    promotion = runs.find((run) => run.kind === 'promotion' && run.rollbackPoint === options.configurationId);
  } else {
    promotion = runs.find(
      (run) => run.kind === 'promotion' && run.to === session.to.name && run.rollbackPoint,
    );
    if (!promotion) {
      throw new UsageError(
        `The audit log (${session.auditLogPath}) records no promotion to ${session.to.name} with a rollback point.`,
        'Pass --to <configuration id>: `GET /api/v2/configurations` on production lists them.',
      );
    }
  }
  const configurationId = options.configurationId ?? promotion!.rollbackPoint!;
  const id = runId(session.now());
  const base: Omit<AuditRecord, 'result'> = {
    id,
    kind: 'rollback',
    at: session.now().toISOString(),
    operator: operatorName(options.operator),
    to: session.to.name,
    configurationId,
    ...(promotion ? { rollbackPoint: configurationId } : {}),
  };

  const health = await session.to.client.health();
  if (health.status === undefined || health.status >= 300) {
    throw new OperationError(
      `${session.to.name} is not healthy (${health.status === undefined ? health.error : `HTTP ${health.status}`}); nothing was changed.`,
      'Bring the site back first, then run the rollback again.',
    );
  }
  const meta = await getConfiguration(session.to.client, configurationId);
  if (!meta) {
    throw new OperationError(
      `${session.to.name} has no configuration ${configurationId}; nothing was changed.`,
      'List the configuration states with GET /api/v2/configurations on production, and pass --to <id>.',
    );
  }
  if (meta.can_apply === false) {
    throw new OperationError(
      `${session.to.name}'s Primero is older than configuration ${meta.version} (${meta.primero_version}): Primero would silently skip it.`,
    );
  }

  appendAudit(session.auditLogPath, { ...base, result: 'started', configurationVersion: meta.version });
  let step = 'apply';
  try {
    session.progress(`applying configuration ${meta.version} on ${session.to.name}`);
    await queueApply(session.to.client, configurationId);
    const outcome = await waitForApply(session.to.client, configurationId, {
      pollIntervalMs: session.timing.pollInterval,
      timeoutMs: session.timing.applyTimeout,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      progress: session.progress,
    });
    if (outcome.status !== 'applied') {
      const { message, hint } = describeOutcome(session.to.name, session.timing.applyTimeout, outcome);
      throw new OperationError(message, hint);
    }

    step = 'verify';
    let verified = false;
    let remaining: string[] = [];
    if (promotion?.before) {
      session.progress(
        `verifying ${session.to.name} against its configuration before promotion ${promotion.id}`,
      );
      const now = fingerprint(normalizeConfiguration(await readLiveConfiguration(session.to.client)));
      const compared = compareFingerprints(promotion.before, now);
      if (compared.mismatched.length > 0) {
        throw new OperationError(
          `Verification failed: ${compared.mismatched.length} item(s) on ${session.to.name} differ from before promotion ${promotion.id}: ${compared.mismatched.slice(0, 10).join(', ')}.`,
          'Run `tier4 promote plan` to see the live differences, and check the worker log.',
        );
      }
      verified = true;
      remaining = compared.remaining;
    }
    appendAudit(session.auditLogPath, {
      ...base,
      result: 'succeeded',
      finishedAt: session.now().toISOString(),
      configurationVersion: meta.version,
    });
    return {
      id,
      site: session.to.name,
      configurationId,
      ...(promotion ? { promotionId: promotion.id } : {}),
      verified,
      remaining,
    };
  } catch (error) {
    const message = errorMessage(error);
    appendAudit(session.auditLogPath, {
      ...base,
      result: 'failed',
      finishedAt: session.now().toISOString(),
      failedStep: step,
      error: message,
    });
    if (error instanceof OperationError) throw error;
    throw new OperationError(`Rollback ${id} failed at step ${step}: ${message}`);
  }
}
