import { describe, expect, test } from 'vitest';
import type { LiveConfiguration } from '../../primero-api/live-configuration.js';
import { diffConfigurations } from '../../promotion/diff.js';
import { compareFingerprints } from '../../promotion/fingerprint.js';
import { fingerprint, normalizeConfiguration } from '../../promotion/normalize.js';
import { renderDiff } from '../../promotion/render.js';

function live(models: Partial<LiveConfiguration['models']>): LiveConfiguration {
  return {
    site: 'x',
    models: {
      FormSection: [],
      Lookup: [],
      Agency: [],
      Role: [],
      UserGroup: [],
      Report: [],
      ContactInformation: [],
      ...models,
    },
  };
}

describe('semantic diff', () => {
  test('database ids, nulls versus missing keys and the server version are not changes', () => {
    const demo = live({
      FormSection: [
        {
          id: 1,
          unique_id: 'f',
          name: { en: 'F' },
          help: null,
          fields: [{ id: 7, form_section_id: 1, name: 'a', type: 'text_field' }],
        },
      ],
      ContactInformation: [{ name: 'Helpdesk', system_version: '2.15.2' }],
    });
    const production = live({
      FormSection: [
        {
          id: 99,
          unique_id: 'f',
          name: { en: 'F' },
          fields: [{ id: 3, form_section_id: 99, name: 'a', type: 'text_field' }],
        },
      ],
      ContactInformation: [{ name: 'Helpdesk', system_version: '2.15.1' }],
    });
    const diff = diffConfigurations(normalizeConfiguration(demo), normalizeConfiguration(production));
    expect(diff.items).toEqual([]);
    expect(diff.summary.changes).toBe(0);
  });

  test('a changed field type and a removed field are reported on the form', () => {
    const demo = live({
      FormSection: [{ unique_id: 'f', name: { en: 'F' }, fields: [{ name: 'a', type: 'date_field' }] }],
    });
    const production = live({
      FormSection: [
        {
          unique_id: 'f',
          name: { en: 'F' },
          fields: [
            { name: 'a', type: 'text_field' },
            { name: 'b', type: 'tick_box' },
          ],
        },
      ],
    });
    const diff = diffConfigurations(normalizeConfiguration(demo), normalizeConfiguration(production));
    expect(diff.items).toHaveLength(1);
    expect(diff.items[0]!.children).toEqual([
      {
        kind: 'field',
        key: 'a',
        action: 'change',
        changes: [{ path: 'type', before: 'text_field', after: 'date_field' }],
      },
      { kind: 'field', key: 'b', action: 'remove', changes: [] },
    ]);
    // Removing a field is a change to the form, not a deleted form.
    expect(diff.summary).toMatchObject({ changed: 1, destructive: 0 });
    expect(renderDiff(diff)).toContain('- field b (removed)');
  });

  test('two reports with the same record type, module and name are kept apart', () => {
    const report = { record_type: 'case', module_id: 'primeromodule-cp', name: { en: 'Same' } };
    const production = live({
      Report: [
        { id: 1, ...report },
        { id: 2, ...report, graph: true },
      ],
    });
    const normalized = normalizeConfiguration(production);
    expect([...normalized.Report.keys()]).toEqual([
      'case/primeromodule-cp/Same',
      'case/primeromodule-cp/Same#2',
    ]);
  });

  test('fingerprints: a changed form is a mismatch; an added role only remains', () => {
    const before = fingerprint(
      normalizeConfiguration(
        live({
          FormSection: [{ unique_id: 'f', name: { en: 'F' } }],
          Role: [{ unique_id: 'r1', name: 'R1' }],
        }),
      ),
    );
    const after = fingerprint(
      normalizeConfiguration(
        live({
          FormSection: [{ unique_id: 'f', name: { en: 'F2' } }],
          Role: [
            { unique_id: 'r1', name: 'R1' },
            { unique_id: 'r2', name: 'R2' },
          ],
        }),
      ),
    );
    expect(compareFingerprints(before, after)).toEqual({
      mismatched: ['FormSection:f'],
      remaining: ['Role:r2'],
    });
    expect(compareFingerprints(before, before)).toEqual({ mismatched: [], remaining: [] });
  });
});
