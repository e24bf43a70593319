import { operatorName, runId } from '../core/audit-log.js';
import { errorMessage, OperationError, Tier4Error, UsageError } from '../core/errors.js';
import {
  type ConfigurationMeta,
  getConfiguration,
  queueApply,
  queuePromote,
  readLiveConfiguration,
  snapshotConfiguration,
  storeConfiguration,
} from '../primero-api/index.js';
import { type AuditRecord, appendAudit } from './audit.js';
import type { ConfigurationDiff } from './diff.js';
import { compareFingerprints } from './fingerprint.js';
import { fingerprint, MODEL_RULES, normalizeConfiguration } from './normalize.js';
import { compareLive, type PromotionPlan, planWithSession } from './plan.js';
import { BACKUPS_UNAVAILABLE } from './preflight.js';
import { openSession, type PromotionContext, type PromotionSession, type SiteChoice } from './session.js';
import { readStoredConfiguration } from './transfer.js';
import { type ApplyOutcome, waitForApply, waitForConfiguration } from './wait.js';

/**
 * tier4 promote apply: plan again, ask, save production's configuration (the rollback point), snapshot
 * demo, bring that snapshot to production, apply it, wait for Primero to finish, and prove production
 * now has demo's configuration.
 */

export interface ApplyOptions extends SiteChoice {
  allowDeletions?: boolean;
  /** Take a production backup first (needs the backup engine: hooks.takeBackup). */
  backup?: boolean;
  /** Who runs it, for the audit log; default the OS user. */
  operator?: string;
  /** Shown the plan as soon as it is known. */
  onPlan?: (plan: PromotionPlan) => void;
  /** Asked once the plan may go ahead; false stops with nothing changed. */
  confirm?: (plan: PromotionPlan) => Promise<boolean>;
}

export interface ApplyResult {
  id: string;
  status: 'applied' | 'nothing-to-do' | 'cancelled';
  plan: PromotionPlan;
  rollbackPoint?: string;
  configurationId?: string;
  configurationVersion?: string;
  backupId?: string;
  /** Production's live configuration equals demo's for every promoted model. */
  verified: boolean;
}

/** A promotion that failed after it started: the message says what, the hint how to roll back. */
export class PromotionFailedError extends OperationError {
  constructor(
    message: string,
    hint: string,
    readonly step: string,
    readonly rollbackPoint: string | undefined,
  ) {
    super(message, hint);
  }
}

export { operatorName, runId };

export function rollbackCommand(session: Pick<PromotionSession, 'ctx' | 'to'>, id: string): string {
  return `tier4 -c ${session.ctx.loaded.path} promote rollback --site ${session.to.name} --to ${id}`;
}

function summaryOf(diff: ConfigurationDiff | undefined) {
  if (!diff) return undefined;
  const { changes, added, changed, removed, destructive, kept } = diff.summary;
  return { changes, added, changed, removed, destructive, kept };
}

/** What an apply that did not finish means, and what to look at. */
export function describeOutcome(
  site: string,
  timeoutMs: number,
  outcome: ApplyOutcome,
): { message: string; hint: string } {
  if (outcome.status === 'failed') {
    return {
      message: `${site}: Primero did not apply the configuration: it locked its API, then unlocked it without setting applied_on.`,
      hint:
        'Primero rolled its transaction back and logged the cause only in the worker log ' +
        '("Could not apply configuration ..."): read it with `kubectl logs` on the worker. A Primero older than the ' +
        "configuration's primero_version also unlocks without applying anything.",
    };
  }
  if (outcome.status === 'timeout' && outcome.stillLocked) {
    return {
      message: `${site}: the apply was still running after ${Math.round(timeoutMs / 1000)}s (the API is locked, /health/api answers 503).`,
      hint:
        'Large configurations can take long: watch /health/api and the worker log; raise promotion.timing.applyTimeout. ' +
        'Do not start another apply meanwhile.',
    };
  }
  return {
    message: `${site}: applied_on was not set within ${Math.round(timeoutMs / 1000)}s${outcome.sawLock ? '' : ' and the apply never appeared to start'}.`,
    hint:
      "Primero's worker runs applies from the delayed_jobs queue: check that the worker is running and its log " +
      '("Could not apply configuration ..."), then raise promotion.timing.applyTimeout if it is only slow.',
  };
}

export async function applyPromotion(
  ctx: PromotionContext,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  if (options.backup && !ctx.hooks?.takeBackup) {
    throw new UsageError(
      `--backup cannot run: ${BACKUPS_UNAVAILABLE.replace('skipped: ', '')}.`,
      'Take a database backup by your usual means first, then run apply without --backup.',
    );
  }
  const session = openSession(ctx, options);
  const { plan, source, target } = await planWithSession(session);
  options.onPlan?.(plan);
  const id = runId(session.now());
  const operator = operatorName(options.operator);
  const started = session.now().toISOString();
  const base: Omit<AuditRecord, 'result'> = {
    id,
    kind: 'promotion',
    at: started,
    operator,
    from: session.from.name,
    to: session.to.name,
    ...(plan.fromVersion ? { fromVersion: plan.fromVersion } : {}),
    ...(plan.toVersion ? { toVersion: plan.toVersion } : {}),
    transfer: session.settings.transfer,
    ...(plan.diff ? { summary: summaryOf(plan.diff)! } : {}),
  };
  const refuse = (message: string, hint: string): never => {
    appendAudit(session.auditLogPath, {
      ...base,
      result: 'refused',
      finishedAt: session.now().toISOString(),
      error: message,
    });
    throw new OperationError(message, hint);
  };

  if (plan.blocked || !plan.diff) {
    const failed = plan.preflight.checks.filter((check) => check.status === 'fail');
    refuse(
      `Preflight failed; nothing was changed: ${failed.map((check) => `${check.name}: ${check.detail}`).join('; ')}.`,
      'Fix what the failed checks name, then run `tier4 promote plan` again.',
    );
  }
  const diff = plan.diff!;
  if (diff.summary.changes === 0) return { id, status: 'nothing-to-do', plan, verified: true };
  if (diff.summary.destructive > 0 && !options.allowDeletions) {
    const doomed = diff.items
      .filter((item) => item.destructive)
      .map((item) => `${MODEL_RULES[item.model].label} ${item.key}`);
    refuse(
      `Refused: this promotion would delete ${doomed.length} item(s) from ${session.to.name} (${doomed.join(', ')}); nothing was changed.`,
      `Check that ${session.from.name} should really lack them (records keep their data, but the forms, lookups or ` +
        'reports disappear), then run again with --allow-deletions.',
    );
  }
  if (options.confirm && !(await options.confirm(plan)))
    return { id, status: 'cancelled', plan, verified: false };

  appendAudit(session.auditLogPath, {
    ...base,
    result: 'started',
    ...(target ? { before: fingerprint(target) } : {}),
  });
  const state: {
    step: string;
    rollbackPoint?: string;
    promoted?: ConfigurationMeta;
    backupId?: string;
    applyQueued: boolean;
  } = {
    step: 'backup',
    applyQueued: false,
  };
  try {
    if (options.backup) {
      session.progress(`backing up ${session.to.name}`);
      state.backupId = (await ctx.hooks!.takeBackup!(session.to.name)).id;
    }

    state.step = 'snapshot-production';
    session.progress(`saving ${session.to.name}'s current configuration (the rollback point)`);
    const rollbackPoint = await snapshotConfiguration(session.to.client, {
      name: `tier4 rollback point ${id}`,
      description: `${session.to.name}'s configuration before promotion ${id} from ${session.from.name}`,
    });
    state.rollbackPoint = rollbackPoint.id;

    state.step = 'snapshot-demo';
    session.progress(`snapshotting ${session.from.name}'s configuration`);
    const promoted = await snapshotConfiguration(session.from.client, {
      name: `tier4 promotion ${id}`,
      description: `Promoted by tier4 from ${session.from.name} to ${session.to.name} (${operator})`,
    });
    state.promoted = promoted;
    // The snapshot must be what was shown and confirmed: stop if someone changed demo meanwhile.
    const demoNow = normalizeConfiguration(await readLiveConfiguration(session.from.client));
    const changedOnDemo = compareFingerprints(fingerprint(source!), fingerprint(demoNow));
    if (changedOnDemo.mismatched.length > 0 || changedOnDemo.remaining.length > 0) {
      throw new OperationError(
        `${session.from.name}'s configuration changed after the plan was computed (${[...changedOnDemo.mismatched, ...changedOnDemo.remaining].slice(0, 5).join(', ')}); nothing was sent to ${session.to.name}.`,
        `Run \`tier4 promote plan\` again once nobody is editing ${session.from.name}'s configuration.`,
      );
    }

    state.step = 'transfer';
    const waits = {
      pollIntervalMs: session.timing.pollInterval,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      progress: session.progress,
    };
    if (session.settings.transfer === 'promote') {
      session.progress(
        `${session.from.name} is sending configuration ${promoted.version} to ${session.to.name}`,
      );
      await queuePromote(session.from.client, promoted.id);
      const arrived = await waitForConfiguration(session.to.client, promoted.id, {
        ...waits,
        timeoutMs: session.timing.transferTimeout,
      });
      if (!arrived) {
        throw new OperationError(
          `${session.to.name} did not receive configuration ${promoted.id} from ${session.from.name} within ${Math.round(session.timing.transferTimeout / 1000)}s.`,
          `${session.from.name}'s promote job needs PRIMERO_PROMOTE_CONFIG_PROD_HOST/_PORT/_TLS/_BASIC_AUTH pointing at ` +
            `${session.to.name} and must be able to reach it; errors appear only in ${session.from.name}'s worker log. ` +
            'Where demo cannot reach production, set promotion.transfer: database.',
        );
      }
    } else {
      session.progress(`reading configuration ${promoted.version} from ${session.from.name}'s database`);
      const stored = await readStoredConfiguration(
        session.from.name,
        session.from.site,
        promoted.id,
        ctx.env,
      );
      session.progress(`storing it on ${session.to.name}`);
      await storeConfiguration(session.to.client, stored);
    }

    state.step = 'check';
    const onTarget = await getConfiguration(session.to.client, promoted.id);
    if (!onTarget)
      throw new OperationError(
        `${session.to.name} lost configuration ${promoted.id} before it could be applied.`,
      );
    if (onTarget.can_apply === false) {
      throw new OperationError(
        `${session.to.name}'s Primero is older than configuration ${promoted.version} (made on ${onTarget.primero_version ?? 'a newer release'}): Primero would silently skip the apply.`,
        `Upgrade ${session.to.name} to at least ${onTarget.primero_version ?? "demo's release"} first.`,
      );
    }

    state.step = 'apply';
    session.progress(`applying configuration ${promoted.version} on ${session.to.name}`);
    await queueApply(session.to.client, promoted.id);
    state.applyQueued = true;
    const outcome = await waitForApply(session.to.client, promoted.id, {
      ...waits,
      timeoutMs: session.timing.applyTimeout,
    });
    if (outcome.status !== 'applied') {
      const { message, hint } = describeOutcome(session.to.name, session.timing.applyTimeout, outcome);
      throw new OperationError(message, hint);
    }

    state.step = 'verify';
    session.progress(`verifying ${session.to.name} against ${session.from.name}`);
    const after = await compareLive(session);
    if (after.diff.summary.changes > 0) {
      const left = after.diff.items
        .filter((item) => item.action !== 'keep')
        .slice(0, 10)
        .map((item) => `${item.action} ${MODEL_RULES[item.model].label} ${item.key}`);
      throw new OperationError(
        `Verification failed: after the apply, ${session.to.name} still differs from ${session.from.name} in ${after.diff.summary.changes} item(s): ${left.join(', ')}.`,
        `Run \`tier4 promote plan\` to see the differences.`,
      );
    }

    appendAudit(session.auditLogPath, {
      ...base,
      result: 'succeeded',
      finishedAt: session.now().toISOString(),
      rollbackPoint: rollbackPoint.id,
      configurationId: promoted.id,
      configurationVersion: promoted.version,
      ...(state.backupId ? { backupId: state.backupId } : {}),
    });
    return {
      id,
      status: 'applied',
      plan,
      rollbackPoint: rollbackPoint.id,
      configurationId: promoted.id,
      configurationVersion: promoted.version,
      ...(state.backupId ? { backupId: state.backupId } : {}),
      verified: true,
    };
  } catch (error) {
    const message = errorMessage(error);
    appendAudit(session.auditLogPath, {
      ...base,
      result: 'failed',
      finishedAt: session.now().toISOString(),
      failedStep: state.step,
      error: message,
      ...(state.rollbackPoint ? { rollbackPoint: state.rollbackPoint } : {}),
      ...(state.promoted
        ? { configurationId: state.promoted.id, configurationVersion: state.promoted.version }
        : {}),
      ...(state.backupId ? { backupId: state.backupId } : {}),
    });
    const original = error instanceof Tier4Error && error.hint ? `${error.hint}\n` : '';
    const unchanged = state.applyQueued
      ? ''
      : `${session.to.name}'s configuration was not changed (the apply was never queued). `;
    const rollback = state.rollbackPoint
      ? `${unchanged}To put back ${session.to.name}'s configuration from before this promotion: ${rollbackCommand(session, state.rollbackPoint)}`
      : 'Nothing was changed on either site.';
    throw new PromotionFailedError(
      `Promotion ${id} failed at step ${state.step}: ${message}`,
      `${original}${rollback}`,
      state.step,
      state.rollbackPoint,
    );
  }
}
