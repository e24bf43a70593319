import { describe, expect, test } from 'vitest';
import { diffConfigurations } from '../../promotion/diff.js';
import { compareFingerprints } from '../../promotion/fingerprint.js';
import { fingerprint, normalizeConfiguration } from '../../promotion/normalize.js';
import { renderDiff } from '../../promotion/render.js';
import { live } from '../support/live-configuration.js';

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

  test('hiding a form or one of its fields is a change to review (visible)', () => {
    const form = (visible: boolean, fieldVisible: boolean) => ({
      unique_id: 'f',
      name: { en: 'F' },
      visible,
      fields: [{ name: 'a', type: 'text_field', visible: fieldVisible }],
    });
    const production = live({ FormSection: [form(true, true)] });
    const hidden = diffConfigurations(
      normalizeConfiguration(live({ FormSection: [form(false, true)] })),
      normalizeConfiguration(production),
    );
    expect(hidden.items).toHaveLength(1);
    expect(hidden.items[0]).toMatchObject({
      action: 'change',
      changes: [{ path: 'visible', before: true, after: false }],
      children: [],
    });
    expect(renderDiff(hidden)).toContain('visible: true → false');
    const fieldHidden = diffConfigurations(
      normalizeConfiguration(live({ FormSection: [form(true, false)] })),
      normalizeConfiguration(production),
    );
    expect(fieldHidden.items[0]!.children).toEqual([
      {
        kind: 'field',
        key: 'a',
        action: 'change',
        changes: [{ path: 'visible', before: true, after: false }],
      },
    ]);
  });

  test('two sites number their rows apart: subform references compare by the referenced form', () => {
    // The forms view returns database ids (subform_section_id, collapsed_field_for_subform_section_id);
    // Field#configuration_hash sends the referenced forms' unique ids, which apply resolves on production.
    const site = (ids: { parent: number; sub: number; other: number }, subform: 'sub' | 'other') =>
      live({
        FormSection: [
          {
            id: ids.sub,
            unique_id: 'sub',
            name: { en: 'Sub' },
            is_nested: true,
            fields: [
              {
                id: ids.sub + 1,
                form_section_id: ids.sub,
                name: 'x',
                type: 'text_field',
                collapsed_field_for_subform_section_id: ids.sub,
              },
            ],
          },
          { id: ids.other, unique_id: 'other', name: { en: 'Other' }, is_nested: true, fields: [] },
          {
            id: ids.parent,
            unique_id: 'parent',
            name: { en: 'Parent' },
            fields: [
              {
                id: ids.parent + 1,
                form_section_id: ids.parent,
                name: 'link',
                type: 'subform',
                subform_section_id: ids[subform],
              },
            ],
          },
        ],
        // Contact information: each site stamps its own timestamps (its configuration hash carries none).
        ContactInformation: [
          { name: 'Helpdesk', created_at: `2026-0${ids.parent % 9}-01T00:00:00Z`, updated_at: '2026-05-01' },
        ],
      });
    const demo = normalizeConfiguration(site({ parent: 1, sub: 3, other: 5 }, 'sub'));
    const production = normalizeConfiguration(site({ parent: 5004, sub: 5001, other: 5007 }, 'sub'));
    expect(diffConfigurations(demo, production).items).toEqual([]);

    const repointed = normalizeConfiguration(site({ parent: 5004, sub: 5001, other: 5007 }, 'other'));
    const diff = diffConfigurations(demo, repointed);
    expect(diff.items).toHaveLength(1);
    expect(diff.items[0]).toMatchObject({ key: 'parent', action: 'change' });
    expect(diff.items[0]!.children).toEqual([
      {
        kind: 'field',
        key: 'link',
        action: 'change',
        changes: [{ path: 'subform_unique_id', before: 'other', after: 'sub' }],
      },
    ]);
  });
});
