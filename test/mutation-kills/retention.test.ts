import { describe, expect, test } from 'vitest';
import { type RetainableSet, selectRetained } from '../../backups/retention.js';

// Exact retention decisions on small, named histories (backups/retention.ts): which set each rule keeps, with
// which reasons, and the ids removed. test/backups/retention.test.ts checks the properties over random ones.

const set = (id: string, iso: string, verified = false): RetainableSet => ({
  id,
  time: new Date(iso),
  verified,
});
const none = { last: 0, daily: 0, weekly: 0, monthly: 0 };
const decide = (sets: RetainableSet[], policy: Partial<typeof none>) => {
  const { keep, remove } = selectRetained(sets, { ...none, ...policy });
  return { keep: Object.fromEntries(keep), remove };
};

describe('selectRetained, exactly', () => {
  test('daily keeps the newest set of each day (UTC), not of each moment', () => {
    const sets = [
      set('late', '2026-11-20T13:00:00Z'),
      set('early', '2026-11-20T01:00:00Z'),
      set('before', '2026-11-19T12:00:00Z'),
    ];
    expect(decide(sets, { daily: 2 })).toEqual({
      keep: { late: ['daily'], before: ['daily'] },
      remove: ['early'],
    });
  });

  test('weekly buckets are ISO weeks, Monday to Sunday: a Sunday belongs to the week before its Monday', () => {
    const sets = [
      set('sun29', '2026-11-29T10:00:00Z'), // Sunday, ISO week 48
      set('mon23', '2026-11-23T10:00:00Z'), // Monday, ISO week 48
      set('sun22', '2026-11-22T10:00:00Z'), // Sunday, ISO week 47
      set('wed18', '2026-11-18T10:00:00Z'), // Wednesday, ISO week 47
    ];
    expect(decide(sets, { weekly: 2 })).toEqual({
      keep: { sun29: ['weekly'], sun22: ['weekly'] },
      remove: ['mon23', 'wed18'],
    });
  });

  test('each rule adds its reason: a set kept by several rules names them all, in order', () => {
    const sets = [set('newest', '2026-11-29T10:00:00Z', true), set('older', '2026-10-01T10:00:00Z')];
    expect(decide(sets, { last: 1, daily: 1, weekly: 1, monthly: 2 })).toEqual({
      keep: { newest: ['last', 'daily', 'weekly', 'monthly', 'newest verified'], older: ['monthly'] },
      remove: [],
    });
  });

  test('sets taken at the same moment order by id, the greater first, whatever order they are listed in', () => {
    const a = set('20261120T000000Z-aaaaaa', '2026-11-20T00:00:00Z');
    const b = set('20261120T000000Z-bbbbbb', '2026-11-20T00:00:00Z');
    for (const sets of [
      [a, b],
      [b, a],
    ]) {
      expect(decide(sets, { last: 1 })).toEqual({
        keep: { '20261120T000000Z-bbbbbb': ['last'] },
        remove: ['20261120T000000Z-aaaaaa'],
      });
    }
  });

  test('removed ids are listed newest first', () => {
    const sets = [
      set('s1', '2026-11-01T00:00:00Z'),
      set('s3', '2026-11-03T00:00:00Z'),
      set('s2', '2026-11-02T00:00:00Z'),
    ];
    expect(decide(sets, {}).remove).toEqual(['s3', 's2', 's1']);
  });
});
