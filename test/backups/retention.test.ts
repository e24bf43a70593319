import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { type RetainableSet, type RetentionPolicy, selectRetained } from '../../backups/retention.js';

const DAY = 86_400_000;
const START = Date.UTC(2024, 0, 1);

/** Random histories: up to 120 sets over up to two years, some verified, with random retention policies. */
const history = fc
  .array(fc.record({ offset: fc.integer({ min: 0, max: 730 * DAY }), verified: fc.boolean() }), {
    maxLength: 120,
  })
  .map((items) =>
    items.map(
      (item, index): RetainableSet => ({
        id: `s${String(index).padStart(4, '0')}`,
        time: new Date(START + item.offset),
        verified: item.verified,
      }),
    ),
  );
const policy = fc.record({
  last: fc.integer({ min: 1, max: 10 }),
  daily: fc.integer({ min: 0, max: 14 }),
  weekly: fc.integer({ min: 0, max: 8 }),
  monthly: fc.integer({ min: 0, max: 12 }),
});

const newestFirst = (sets: RetainableSet[]) =>
  [...sets].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : -1));

describe('retention, over many random histories', () => {
  test('keep and remove partition the sets, and every kept set has a reason', () => {
    fc.assert(
      fc.property(history, policy, (sets, p) => {
        const { keep, remove } = selectRetained(sets, p);
        expect(keep.size + remove.length).toBe(sets.length);
        for (const id of remove) expect(keep.has(id)).toBe(false);
        for (const reasons of keep.values()) expect(reasons.length).toBeGreaterThan(0);
      }),
      { numRuns: 400 },
    );
  });

  test('never removes the newest set or the newest verified set', () => {
    fc.assert(
      fc.property(history, policy, (sets, p) => {
        const { keep } = selectRetained(sets, p);
        const ordered = newestFirst(sets);
        if (ordered[0]) expect(keep.has(ordered[0].id)).toBe(true);
        const verified = ordered.find((set) => set.verified);
        if (verified) expect(keep.has(verified.id)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  test('keeps the N newest, and the newest set of each of the D newest days', () => {
    fc.assert(
      fc.property(history, policy, (sets, p: RetentionPolicy) => {
        const { keep } = selectRetained(sets, p);
        const ordered = newestFirst(sets);
        for (const set of ordered.slice(0, p.last)) expect(keep.has(set.id)).toBe(true);
        const days = new Map<string, RetainableSet>();
        for (const set of ordered) {
          const day = set.time.toISOString().slice(0, 10);
          if (!days.has(day)) days.set(day, set);
        }
        for (const set of [...days.values()].slice(0, p.daily)) expect(keep.has(set.id)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  test('is bounded, and idempotent: pruning what it kept keeps it all', () => {
    fc.assert(
      fc.property(history, policy, (sets, p) => {
        const { keep } = selectRetained(sets, p);
        expect(keep.size).toBeLessThanOrEqual(p.last + p.daily + p.weekly + p.monthly + 1);
        const kept = sets.filter((set) => keep.has(set.id));
        expect(selectRetained(kept, p).remove).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  test('weekly buckets follow ISO weeks across a year boundary', () => {
    // 2026-12-31 (Thu) and 2027-01-03 (Sun) are both ISO week 2026-W53; 2027-01-04 starts 2027-W01.
    const sets = ['2026-12-31', '2027-01-03', '2027-01-04'].map((day, i) => ({
      id: `w${i}`,
      time: new Date(`${day}T12:00:00Z`),
      verified: false,
    }));
    const { keep } = selectRetained(sets, { last: 1, daily: 0, weekly: 2, monthly: 0 });
    expect([...keep.keys()].sort()).toEqual(['w1', 'w2']);
  });

  test('monthly buckets are calendar months (UTC), not years', () => {
    // Three months of one year and one of the year before; the newest set of each month is the one kept.
    const sets = ['2025-11-20', '2026-01-05', '2026-01-25', '2026-02-10', '2026-03-01', '2026-03-31'].map(
      (day, i) => ({ id: `m${i}`, time: new Date(`${day}T23:30:00Z`), verified: false }),
    );
    const { keep } = selectRetained(sets, { last: 0, daily: 0, weekly: 0, monthly: 3 });
    expect([...keep.keys()].sort()).toEqual(['m2', 'm3', 'm5']);
    expect(selectRetained(sets, { last: 0, daily: 0, weekly: 0, monthly: 4 }).keep.has('m0')).toBe(true);
  });

  test('a set whose verification failed counts toward nothing; the newest verified set is kept', () => {
    fc.assert(
      fc.property(history, fc.array(fc.boolean(), { maxLength: 120 }), policy, (sets, failures, p) => {
        const marked = sets.map((set, i) => (failures[i] ? { ...set, verified: false, failed: true } : set));
        const { keep } = selectRetained(marked, p);
        for (const set of marked) if (set.failed) expect(keep.has(set.id)).toBe(false);
        const good = newestFirst(marked).filter((set) => !set.failed);
        for (const set of good.slice(0, p.last)) expect(keep.has(set.id)).toBe(true);
        const verified = good.find((set) => set.verified);
        if (verified) expect(keep.get(verified.id)).toContain('newest verified');
      }),
      { numRuns: 400 },
    );
  });
});
