/**
 * Which backup sets a retention policy keeps. Pure, so it can be tested over many random histories.
 *
 * last N keeps the N newest sets; daily D keeps the newest set of each of the D newest days that have a set;
 * weekly W and monthly M likewise per ISO week and per month (UTC). The newest verified set is always kept.
 * A set whose last recorded verification FAILED counts toward none of them: it must not take the place of a
 * good set (a damaged newest set would otherwise push out the only one that restores).
 */
export interface RetentionPolicy {
  last: number;
  daily: number;
  weekly: number;
  monthly: number;
}

export interface RetainableSet {
  id: string;
  time: Date;
  /** The last recorded verification passed. */
  verified: boolean;
  /** The last recorded verification failed. */
  failed?: boolean;
}

export interface RetentionDecision {
  keep: Map<string, string[]>;
  remove: string[];
}

function dayKey(time: Date): string {
  return time.toISOString().slice(0, 10);
}

function monthKey(time: Date): string {
  return time.toISOString().slice(0, 7);
}

function isoWeekKey(time: Date): string {
  const date = new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate()));
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of this week decides the ISO year
  const yearStart = Date.UTC(date.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((date.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${date.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

export function selectRetained(sets: readonly RetainableSet[], policy: RetentionPolicy): RetentionDecision {
  const newestFirst = [...sets].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : -1));
  const keep = new Map<string, string[]>();
  const mark = (id: string, reason: string) => keep.set(id, [...(keep.get(id) ?? []), reason]);

  const counted = newestFirst.filter((set) => !set.failed);
  for (const set of counted.slice(0, policy.last)) mark(set.id, 'last');
  for (const [rule, count, key] of [
    ['daily', policy.daily, dayKey],
    ['weekly', policy.weekly, isoWeekKey],
    ['monthly', policy.monthly, monthKey],
  ] as const) {
    const seen = new Set<string>();
    for (const set of counted) {
      const bucket = key(set.time);
      if (seen.has(bucket)) continue;
      if (seen.size >= count) break;
      seen.add(bucket);
      mark(set.id, rule);
    }
  }
  const newestVerified = counted.find((set) => set.verified);
  if (newestVerified) mark(newestVerified.id, 'newest verified');
  return { keep, remove: newestFirst.filter((set) => !keep.has(set.id)).map((set) => set.id) };
}
