import { describe, expect, test } from 'vitest';
import type { LiveConfiguration } from '../../primero-api/live-configuration.js';
import { diffConfigurations, diffProperties, summarize } from '../../promotion/diff.js';
import { normalizeConfiguration } from '../../promotion/normalize.js';
import { live } from '../support/live-configuration.js';

// The plan's diff (promotion/diff.ts), stated exactly: what applying demo's configuration on production would
// do to each item and each of its properties, fields and lookup values, and the counts people decide on.

const plan = (demo: Partial<LiveConfiguration['models']>, production: Partial<LiveConfiguration['models']>) =>
  diffConfigurations(normalizeConfiguration(live(demo)), normalizeConfiguration(live(production)));

const NO_CHANGES = { added: 0, changed: 0, removed: 0, kept: 0 };

describe('property changes', () => {
  test('down to the translation or permission; lists compared whole; added and removed have one side only', () => {
    const changes = diffProperties(
      {
        name: { en: 'Identity', fr: 'Identité' },
        permissions: { case: ['read', 'write'], incident: ['read'] },
        order: 10,
        help_text: { en: 'Old help' },
        visible: true,
        module_ids: ['primeromodule-cp'],
        same: { deep: [1, { a: 1, b: 2 }] },
        shape: { en: 'was an object' },
      },
      {
        name: { en: 'Basic identity', fr: 'Identité' },
        permissions: { case: ['read', 'write', 'export_custom'], incident: ['read'], report: ['read'] },
        order: 10,
        description: 'New',
        visible: true,
        module_ids: ['primeromodule-cp', 'primeromodule-gbv'],
        same: { deep: [1, { b: 2, a: 1 }] },
        shape: 'now text',
      },
    );
    // toStrictEqual: a new property has no `before` key at all, a removed one no `after` (render tells them apart).
    expect(changes).toStrictEqual([
      { path: 'description', after: 'New' },
      { path: 'help_text', before: { en: 'Old help' } },
      { path: 'module_ids', before: ['primeromodule-cp'], after: ['primeromodule-cp', 'primeromodule-gbv'] },
      { path: 'name.en', before: 'Identity', after: 'Basic identity' },
      {
        path: 'permissions.case',
        before: ['read', 'write'],
        after: ['read', 'write', 'export_custom'],
      },
      { path: 'permissions.report', after: ['read'] },
      { path: 'shape', before: { en: 'was an object' }, after: 'now text' },
    ]);
    expect(diffProperties({ a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }, 'root')).toStrictEqual([
      { path: 'root.a.b.c', before: 1, after: 2 },
    ]);
    expect(diffProperties({ list: [1, 2] }, { list: [2, 1] })).toStrictEqual([
      { path: 'list', before: [1, 2], after: [2, 1] },
    ]);
    expect(diffProperties({ a: 'x', b: { c: 1 } }, { a: 'x', b: { c: 1 } })).toEqual([]);
    // Called on its own with a null (normalized items have none): one change, not a walk into null.
    expect(diffProperties({ a: null }, { a: { x: 1 } })).toStrictEqual([
      { path: 'a', before: null, after: { x: 1 } },
    ]);
  });
});

describe('the plan, whole', () => {
  test('adds, changes, deletions and kept items of every model, in Primero’s order, with exact counts', () => {
    const diff = plan(
      {
        FormSection: [
          {
            unique_id: 'basic_identity',
            name: { en: 'Basic Identity' },
            visible: true,
            fields: [
              { name: 'age', type: 'numeric_field', display_name: { en: 'Age (years)' } },
              { name: 'name', type: 'text_field' },
              { name: 'date_of_birth', type: 'date_field' },
            ],
          },
          { unique_id: 'unchanged', name: { en: 'Unchanged' }, fields: [{ name: 'x', type: 'text_field' }] },
          {
            unique_id: 'psychosocial_support',
            name: { en: 'Psychosocial Support' },
            fields: [
              { name: 'pss_provided', type: 'tick_box' },
              { name: 'pss_date', type: 'date_field' },
            ],
          },
        ],
        Lookup: [
          {
            unique_id: 'lookup-protection-concerns',
            name: { en: 'Protection Concerns' },
            values: [
              { id: 'caafag', display_text: { en: 'CAAFAG' } },
              { id: 'separated', display_text: { en: 'Separated child' } },
              { id: 'trafficked', display_text: { en: 'Trafficked' } },
            ],
          },
        ],
        Agency: [{ unique_id: 'agency-unicef', name: { en: 'UNICEF' }, telephone: '2' }],
        Role: [
          {
            unique_id: 'role-cp-case-worker',
            name: 'CP Case Worker',
            permissions: { case: ['read', 'write'] },
          },
          { unique_id: 'role-pss-officer', name: 'PSS Officer', permissions: { case: ['read'] } },
        ],
        UserGroup: [{ unique_id: 'usergroup-new', name: 'New group' }],
        Report: [{ record_type: 'case', module_id: 'm', name: { en: 'Registrations' }, graph: true }],
        ContactInformation: [{ name: 'CP helpdesk', phone: '+1 555 0100' }],
      },
      {
        FormSection: [
          { unique_id: 'legacy_assessment', name: { en: 'Legacy Assessment' }, fields: [{ name: 'score' }] },
          {
            unique_id: 'basic_identity',
            name: { en: 'Basic Identity' },
            visible: false,
            fields: [
              { name: 'name', type: 'text_field' },
              { name: 'age', type: 'numeric_field', display_name: { en: 'Age' } },
              { name: 'nickname', type: 'text_field' },
            ],
          },
          { unique_id: 'unchanged', name: { en: 'Unchanged' }, fields: [{ name: 'x', type: 'text_field' }] },
        ],
        Lookup: [
          {
            unique_id: 'lookup-protection-concerns',
            name: { en: 'Protection Concerns' },
            values: [
              { id: 'caafag', display_text: { en: 'CAAFAG' } },
              { id: 'separated', display_text: { en: 'Separated' } },
              { id: 'unaccompanied', display_text: { en: 'Unaccompanied' } },
            ],
          },
          { unique_id: 'lookup-legacy', name: { en: 'Legacy' }, values: [] },
        ],
        Agency: [
          { unique_id: 'agency-unicef', name: { en: 'UNICEF' }, telephone: '1' },
          { unique_id: 'agency-local', name: { en: 'Local partner' } },
        ],
        Role: [
          { unique_id: 'role-cp-case-worker', name: 'CP Case Worker', permissions: { case: ['read'] } },
          { unique_id: 'role-prod-only', name: 'Prod only' },
        ],
        UserGroup: [{ unique_id: 'usergroup-old', name: 'Old group' }],
        Report: [
          { record_type: 'case', module_id: 'm', name: { en: 'Registrations' }, graph: false },
          { record_type: 'case', module_id: 'm', name: { en: 'Legacy scores' } },
        ],
        ContactInformation: [{ name: 'CP helpdesk', phone: '' }],
      },
    );
    expect(diff.items).toStrictEqual([
      {
        model: 'FormSection',
        key: 'basic_identity',
        name: 'Basic Identity',
        action: 'change',
        destructive: false,
        changes: [{ path: 'visible', before: false, after: true }],
        // Production's fields first, in its order, then the fields only demo has.
        children: [
          {
            kind: 'field',
            key: 'age',
            action: 'change',
            changes: [{ path: 'display_name.en', before: 'Age', after: 'Age (years)' }],
          },
          { kind: 'field', key: 'nickname', action: 'remove', changes: [] },
          { kind: 'field', key: 'date_of_birth', action: 'add', changes: [] },
        ],
      },
      {
        model: 'FormSection',
        key: 'psychosocial_support',
        name: 'Psychosocial Support',
        action: 'add',
        destructive: false,
        changes: [],
        children: [],
        childCount: 2,
      },
      {
        model: 'FormSection',
        key: 'legacy_assessment',
        name: 'Legacy Assessment',
        action: 'remove',
        destructive: true,
        changes: [],
        children: [],
        childCount: 1,
      },
      {
        model: 'Lookup',
        key: 'lookup-protection-concerns',
        name: 'Protection Concerns',
        action: 'change',
        destructive: false,
        changes: [],
        children: [
          {
            kind: 'value',
            key: 'separated',
            action: 'change',
            changes: [{ path: 'display_text.en', before: 'Separated', after: 'Separated child' }],
          },
          { kind: 'value', key: 'unaccompanied', action: 'remove', changes: [] },
          { kind: 'value', key: 'trafficked', action: 'add', changes: [] },
        ],
      },
      {
        model: 'Lookup',
        key: 'lookup-legacy',
        name: 'Legacy',
        action: 'remove',
        destructive: true,
        changes: [],
        children: [],
        childCount: 0,
      },
      {
        model: 'Agency',
        key: 'agency-unicef',
        name: 'UNICEF',
        action: 'change',
        destructive: false,
        changes: [{ path: 'telephone', before: '1', after: '2' }],
        children: [],
      },
      {
        model: 'Agency',
        key: 'agency-local',
        name: 'Local partner',
        action: 'keep',
        destructive: false,
        changes: [],
        children: [],
      },
      {
        model: 'Role',
        key: 'role-cp-case-worker',
        name: 'CP Case Worker',
        action: 'change',
        destructive: false,
        changes: [{ path: 'permissions.case', before: ['read'], after: ['read', 'write'] }],
        children: [],
      },
      {
        model: 'Role',
        key: 'role-pss-officer',
        name: 'PSS Officer',
        action: 'add',
        destructive: false,
        changes: [],
        children: [],
      },
      {
        model: 'Role',
        key: 'role-prod-only',
        name: 'Prod only',
        action: 'keep',
        destructive: false,
        changes: [],
        children: [],
      },
      {
        model: 'UserGroup',
        key: 'usergroup-new',
        name: 'New group',
        action: 'add',
        destructive: false,
        changes: [],
        children: [],
      },
      {
        model: 'UserGroup',
        key: 'usergroup-old',
        name: 'Old group',
        action: 'keep',
        destructive: false,
        changes: [],
        children: [],
      },
      {
        model: 'Report',
        key: 'case/m/Registrations',
        name: 'Registrations',
        action: 'change',
        destructive: false,
        changes: [{ path: 'graph', before: false, after: true }],
        children: [],
      },
      {
        model: 'Report',
        key: 'case/m/Legacy scores',
        name: 'Legacy scores',
        action: 'remove',
        destructive: true,
        changes: [],
        children: [],
      },
      {
        model: 'ContactInformation',
        key: 'contact_information',
        name: 'CP helpdesk',
        action: 'change',
        destructive: false,
        changes: [{ path: 'phone', before: '', after: '+1 555 0100' }],
        children: [],
      },
    ]);
    expect(diff.summary).toStrictEqual({
      changes: 12,
      added: 3,
      changed: 6,
      removed: 3,
      destructive: 3,
      kept: 3,
      byModel: {
        FormSection: { added: 1, changed: 1, removed: 1, kept: 0 },
        Lookup: { added: 0, changed: 1, removed: 1, kept: 0 },
        Agency: { added: 0, changed: 1, removed: 0, kept: 1 },
        Role: { added: 1, changed: 1, removed: 0, kept: 1 },
        UserGroup: { added: 1, changed: 0, removed: 0, kept: 1 },
        Report: { added: 0, changed: 1, removed: 1, kept: 0 },
        ContactInformation: { added: 0, changed: 1, removed: 0, kept: 0 },
      },
    });
  });

  test('a form whose only change is in a field, or only in itself, is one change', () => {
    const form = (visible: boolean, type: string) => ({
      unique_id: 'f',
      name: { en: 'F' },
      visible,
      fields: [{ name: 'a', type }],
    });
    expect(
      plan({ FormSection: [form(true, 'date_field')] }, { FormSection: [form(true, 'text_field')] }).items,
    ).toStrictEqual([
      {
        model: 'FormSection',
        key: 'f',
        name: 'F',
        action: 'change',
        destructive: false,
        changes: [],
        children: [
          {
            kind: 'field',
            key: 'a',
            action: 'change',
            changes: [{ path: 'type', before: 'text_field', after: 'date_field' }],
          },
        ],
      },
    ]);
    expect(
      plan({ FormSection: [form(false, 'date_field')] }, { FormSection: [form(true, 'date_field')] }).summary,
    ).toMatchObject({
      changes: 1,
      changed: 1,
      byModel: { FormSection: { added: 0, changed: 1, removed: 0, kept: 0 } },
    });
  });

  test('the same configuration is no change at all, and an empty plan counts nothing', () => {
    const config = {
      FormSection: [{ unique_id: 'f', fields: [{ name: 'a' }] }],
      Lookup: [{ unique_id: 'l', values: [{ id: 'v' }] }],
      Role: [{ unique_id: 'r', name: 'R' }],
    };
    expect(plan(config, config)).toStrictEqual({
      items: [],
      summary: {
        changes: 0,
        added: 0,
        changed: 0,
        removed: 0,
        destructive: 0,
        kept: 0,
        byModel: {
          FormSection: NO_CHANGES,
          Lookup: NO_CHANGES,
          Agency: NO_CHANGES,
          Role: NO_CHANGES,
          UserGroup: NO_CHANGES,
          Report: NO_CHANGES,
          ContactInformation: NO_CHANGES,
        },
      },
    });
  });

  test('summarize counts each action where it belongs; kept items are not changes', () => {
    const item = (model: 'Role' | 'Lookup', action: 'add' | 'change' | 'remove' | 'keep') => ({
      model,
      key: `${model}-${action}`,
      name: '',
      action,
      destructive: action === 'remove',
      changes: [],
      children: [],
    });
    expect(
      summarize([item('Role', 'keep'), item('Role', 'keep'), item('Lookup', 'remove'), item('Role', 'add')]),
    ).toStrictEqual({
      changes: 2,
      added: 1,
      changed: 0,
      removed: 1,
      destructive: 1,
      kept: 2,
      byModel: {
        FormSection: NO_CHANGES,
        Lookup: { added: 0, changed: 0, removed: 1, kept: 0 },
        Agency: NO_CHANGES,
        Role: { added: 1, changed: 0, removed: 0, kept: 2 },
        UserGroup: NO_CHANGES,
        Report: NO_CHANGES,
        ContactInformation: NO_CHANGES,
      },
    });
  });
});
