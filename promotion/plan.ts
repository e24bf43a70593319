import type { ServiceAccount } from '../primero-api/index.js';
import { readLiveConfiguration } from '../primero-api/index.js';
import { type ConfigurationDiff, diffConfigurations } from './diff.js';
import { type NormalizedConfiguration, normalizeConfiguration } from './normalize.js';
import { type PreflightCheck, type PreflightResult, preflight } from './preflight.js';
import { openSession, type PromotionContext, type PromotionSession, type SiteChoice } from './session.js';

/** What promoting demo's configuration to production would do, and whether it may go ahead. */
export interface PromotionPlan {
  from: string;
  to: string;
  fromVersion?: string;
  toVersion?: string;
  generatedAt: string;
  preflight: PreflightResult;
  /** Absent when a site could not be read. */
  diff?: ConfigurationDiff;
  /** A preflight check failed: apply refuses. */
  blocked: boolean;
}

/** Reads both sites' live configuration and compares them. */
export async function compareLive(
  session: PromotionSession,
): Promise<{ diff: ConfigurationDiff; from: NormalizedConfiguration; to: NormalizedConfiguration }> {
  session.progress(`reading ${session.from.name}'s configuration`);
  const from = normalizeConfiguration(await readLiveConfiguration(session.from.client));
  session.progress(`reading ${session.to.name}'s configuration`);
  const to = normalizeConfiguration(await readLiveConfiguration(session.to.client));
  return { diff: diffConfigurations(from, to), from, to };
}

/** Every module a site's forms and roles name. */
function modulesInUse(config: NormalizedConfiguration): Set<string> {
  const modules = new Set<string>();
  const add = (list: unknown) => {
    if (Array.isArray(list)) for (const id of list) if (typeof id === 'string') modules.add(id);
  };
  for (const form of config.FormSection.values()) add(form.properties.module_ids);
  for (const role of config.Role.values()) add(role.properties.module_unique_ids);
  return modules;
}

/**
 * Primero's reports API lists only the reports of the caller's modules (Api::V2::ReportsController#index),
 * while a snapshot and an apply take every report: an account without every module would hide reports
 * from the plan and from the check after apply.
 */
function moduleCheck(site: string, account: ServiceAccount | undefined, config: NormalizedConfiguration) {
  const name = `${site} service account modules`;
  if (!account) return undefined;
  const missing = [...modulesInUse(config)].filter((module) => !account.modules.includes(module)).sort();
  if (missing.length === 0)
    return { name, status: 'ok', detail: `all ${account.modules.length} module(s)` } satisfies PreflightCheck;
  return {
    name,
    status: 'fail',
    detail:
      `lacks ${missing.join(', ')}: Primero lists only the reports of the account's own modules, so the plan ` +
      `could not see those reports; give the service account every module on ${site}`,
  } satisfies PreflightCheck;
}

/** The plan, plus production's normalized configuration (for the rollback fingerprint). */
export async function planWithSession(
  session: PromotionSession,
): Promise<{ plan: PromotionPlan; source?: NormalizedConfiguration; target?: NormalizedConfiguration }> {
  const checks = await preflight(session);
  const base = {
    from: session.from.name,
    to: session.to.name,
    ...(checks.fromVersion ? { fromVersion: checks.fromVersion } : {}),
    ...(checks.toVersion ? { toVersion: checks.toVersion } : {}),
    generatedAt: session.now().toISOString(),
    preflight: checks,
    blocked: checks.blocked,
  };
  if (!checks.sitesUp) return { plan: base };
  const compared = await compareLive(session);
  const moduleChecks = [
    moduleCheck(session.from.name, checks.accounts?.from, compared.from),
    moduleCheck(session.to.name, checks.accounts?.to, compared.to),
  ].filter((check) => check !== undefined);
  const preflightResult = { ...checks, checks: [...checks.checks, ...moduleChecks] };
  preflightResult.blocked = preflightResult.checks.some((check) => check.status === 'fail');
  return {
    plan: { ...base, preflight: preflightResult, blocked: preflightResult.blocked, diff: compared.diff },
    source: compared.from,
    target: compared.to,
  };
}

export async function planPromotion(ctx: PromotionContext, choice: SiteChoice = {}): Promise<PromotionPlan> {
  return (await planWithSession(openSession(ctx, choice))).plan;
}
