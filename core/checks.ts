/**
 * The one vocabulary for the outcome of a check, wherever a check runs: the doctor, promotion preflight,
 * restore drills, certificate status and the policy rules of the chart and the Azure stack.
 *
 * - `ok`: checked, and as it should be;
 * - `warn`: worth a look, but not a failure (a waived policy rule, a stale drift, an old backup in preflight);
 * - `fail`: checked, and wrong: the run fails;
 * - `skip`: not checked here (not configured, not reachable from this machine, not applicable).
 */
export const CHECK_STATUSES = ['ok', 'warn', 'fail', 'skip'] as const;

export type CheckStatus = (typeof CHECK_STATUSES)[number];

/** Only a failure fails a run; a warning or a skipped check does not. */
export function passes(status: CheckStatus): boolean {
  return status !== 'fail';
}

const RANK: Record<CheckStatus, number> = { skip: 0, ok: 1, warn: 2, fail: 3 };

/** The most serious of several statuses (fail, warn, ok, skip in that order); `ok` when there are none. */
export function worstStatus<S extends CheckStatus>(statuses: Iterable<S>): S | 'ok' {
  let worst: S | undefined;
  for (const status of statuses) if (worst === undefined || RANK[status] > RANK[worst]) worst = status;
  return worst ?? 'ok';
}

/** How many checks have each status. */
export function countStatuses(checks: Iterable<{ status: CheckStatus }>): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const check of checks) counts[check.status] += 1;
  return counts;
}
