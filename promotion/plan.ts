import { readLiveConfiguration } from '../primero-api/live-configuration.js';
import { type ConfigurationDiff, diffConfigurations } from './diff.js';
import { type NormalizedConfiguration, normalizeConfiguration } from './normalize.js';
import { type PreflightResult, preflight } from './preflight.js';
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
  return { plan: { ...base, diff: compared.diff }, source: compared.from, target: compared.to };
}

export async function planPromotion(ctx: PromotionContext, choice: SiteChoice = {}): Promise<PromotionPlan> {
  return (await planWithSession(openSession(ctx, choice))).plan;
}
