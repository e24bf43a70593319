import { describe, expect, test } from 'vitest';
import type { JsonObject, LiveConfiguration } from '../../primero-api/live-configuration.js';
import { diffConfigurations } from '../../promotion/diff.js';
import {
  canonical,
  fingerprint,
  itemDigest,
  type NormalizedConfiguration,
  normalizeConfiguration,
} from '../../promotion/normalize.js';
import { renderDiff, renderSummary } from '../../promotion/render.js';
import { live } from '../support/live-configuration.js';

// What promotion/normalize.ts makes of what Primero's read views return, model by model, stated exactly:
// the identity each item is compared by, its readable name, the properties compared and those left out
// because they differ between two sites by nature (database ids, blob URLs, report results, a site's own
// timestamps, the server's release). The views' shapes are Primero v2.15.2's
// (app/views/api/v2/<model>/_<model>.json.jbuilder; see the comments in promotion/normalize.ts).

/** A normalized configuration as plain data, in Primero's listing order (Maps become entry lists). */
function plain(config: NormalizedConfiguration) {
  return Object.fromEntries(
    Object.entries(config).map(([model, items]) => [
      model,
      [...items.values()].map((item) => ({
        key: item.key,
        name: item.name,
        properties: item.properties,
        children: [...item.children.entries()],
      })),
    ]),
  );
}

/** Database ids of one site: every row numbered from `first`, as each Primero numbers its own. */
interface SiteIds {
  first: number;
  /** When this site stamped rows whose configuration hash carries no timestamps. */
  stampedAt: string;
  release: string;
}
const DEMO: SiteIds = { first: 1, stampedAt: '2026-01-20T14:40:00.000Z', release: '2.15.2' };
const PRODUCTION: SiteIds = { first: 5001, stampedAt: '2026-02-11T08:15:00.000Z', release: '2.15.3' };

/** One site's views of the same configuration (as a promotion leaves it on both sites). */
function site(ids: SiteIds): LiveConfiguration {
  const id = (n: number) => ids.first + n;
  return live({
    // form_sections/_form_section.json.jbuilder: the form's columns (nulls dropped), its fields' columns,
    // module_ids, collapsed_field_names. Timestamps of forms and fields travel with a promotion.
    FormSection: [
      {
        id: id(0),
        unique_id: 'family_details_section',
        name: { en: 'Family details', fr: '' },
        is_nested: true,
        visible: false,
        order: 0,
        created_at: '2026-01-05T10:00:00.000Z',
        updated_at: '2026-01-05T10:00:00.000Z',
        module_ids: ['primeromodule-cp'],
        collapsed_field_names: ['relation_name'],
        fields: [
          {
            id: id(1),
            form_section_id: id(0),
            name: 'relation_name',
            type: 'text_field',
            display_name: { en: 'Name', fr: '' },
            visible: true,
            order: 0,
            collapsed_field_for_subform_section_id: id(0),
          },
        ],
      },
      {
        id: id(2),
        unique_id: 'basic_identity',
        name: { en: 'Basic Identity', fr: 'Identité' },
        visible: true,
        order: 10,
        created_at: '2026-01-05T10:00:00.000Z',
        updated_at: '2026-03-02T09:30:00.000Z',
        module_ids: ['primeromodule-cp'],
        collapsed_field_names: [],
        fields: [
          {
            id: id(3),
            form_section_id: id(2),
            name: 'age',
            type: 'numeric_field',
            display_name: { en: 'Age', fr: '' },
            visible: true,
            order: 1,
          },
          {
            id: id(4),
            form_section_id: id(2),
            name: 'family_details_section',
            type: 'subform',
            display_name: { en: 'Family details', fr: '' },
            visible: true,
            order: 3,
            subform_section_id: id(0),
          },
        ],
      },
    ],
    // lookups/_lookup.json.jbuilder: id, unique_id, name, locked, values (each value's own `id` is its key).
    Lookup: [
      {
        id: id(10),
        unique_id: 'lookup-nationality',
        name: { en: 'Nationality', fr: '' },
        locked: false,
        values: [
          { id: 'nationality1', display_text: { en: 'Nationality 1', fr: '' } },
          { id: 'nationality2', display_text: { en: 'Nationality 2', fr: '' } },
        ],
      },
    ],
    // agencies/_agency.json.jbuilder: logo and terms-of-use are blob paths of the site's own storage.
    Agency: [
      {
        id: id(20),
        unique_id: 'agency-unicef',
        agency_code: 'UNICEF',
        order: 0,
        name: { en: 'UNICEF', fr: '' },
        services: [],
        logo_enabled: true,
        logo_full: `/rails/active_storage/blobs/redirect/${ids.first}-full/unicef.png`,
        logo_icon: `/rails/active_storage/blobs/redirect/${ids.first}-icon/unicef.png`,
        terms_of_use: `/rails/active_storage/blobs/redirect/${ids.first}-terms/terms.pdf`,
        disabled: false,
      },
    ],
    // roles/_role.json.jbuilder
    Role: [
      {
        id: id(30),
        unique_id: 'role-cp-case-worker',
        name: 'CP Case Worker',
        group_permission: 'self',
        module_unique_ids: ['primeromodule-cp'],
        permissions: { case: ['read', 'write'], incident: ['read'] },
      },
    ],
    // user_groups/_user_group.json.jbuilder
    UserGroup: [{ id: id(40), unique_id: 'usergroup-primero-cp', name: 'Primero CP', disabled: false }],
    // reports/_report.json.jbuilder: no unique_id; report_data is the report run on the site's own records.
    Report: [
      {
        id: id(50),
        name: { en: 'Registration CP', fr: '' },
        graph: true,
        record_type: 'case',
        module_id: 'primeromodule-cp',
        report_data: { total: ids.first * 3 },
      },
    ],
    // contact_information/show.json.jbuilder: every column but id, and the server's release.
    ContactInformation: [
      {
        name: 'CP helpdesk',
        email: 'helpdesk@example.org',
        created_at: ids.stampedAt,
        updated_at: ids.stampedAt,
        system_version: ids.release,
      },
    ],
  });
}

describe('normalizing a site’s configuration', () => {
  test('each model: its key, its name, and exactly the properties compared', () => {
    expect(plain(normalizeConfiguration(site(DEMO)))).toEqual({
      FormSection: [
        {
          key: 'family_details_section',
          name: 'Family details',
          properties: {
            unique_id: 'family_details_section',
            name: { en: 'Family details', fr: '' },
            is_nested: true,
            visible: false,
            order: 0,
            created_at: '2026-01-05T10:00:00.000Z',
            updated_at: '2026-01-05T10:00:00.000Z',
            module_ids: ['primeromodule-cp'],
            collapsed_field_names: ['relation_name'],
          },
          children: [
            [
              'relation_name',
              {
                name: 'relation_name',
                type: 'text_field',
                display_name: { en: 'Name', fr: '' },
                visible: true,
                order: 0,
                // The database id of the form a collapsed field belongs to, named by that form's unique_id.
                collapsed_field_for_subform_unique_id: 'family_details_section',
              },
            ],
          ],
        },
        {
          key: 'basic_identity',
          name: 'Basic Identity',
          properties: {
            unique_id: 'basic_identity',
            name: { en: 'Basic Identity', fr: 'Identité' },
            visible: true,
            order: 10,
            created_at: '2026-01-05T10:00:00.000Z',
            updated_at: '2026-03-02T09:30:00.000Z',
            module_ids: ['primeromodule-cp'],
            collapsed_field_names: [],
          },
          children: [
            [
              'age',
              {
                name: 'age',
                type: 'numeric_field',
                display_name: { en: 'Age', fr: '' },
                visible: true,
                order: 1,
              },
            ],
            [
              'family_details_section',
              {
                name: 'family_details_section',
                type: 'subform',
                display_name: { en: 'Family details', fr: '' },
                visible: true,
                order: 3,
                subform_unique_id: 'family_details_section',
              },
            ],
          ],
        },
      ],
      Lookup: [
        {
          key: 'lookup-nationality',
          name: 'Nationality',
          properties: { unique_id: 'lookup-nationality', name: { en: 'Nationality', fr: '' }, locked: false },
          children: [
            ['nationality1', { display_text: { en: 'Nationality 1', fr: '' } }],
            ['nationality2', { display_text: { en: 'Nationality 2', fr: '' } }],
          ],
        },
      ],
      Agency: [
        {
          key: 'agency-unicef',
          name: 'UNICEF',
          properties: {
            unique_id: 'agency-unicef',
            agency_code: 'UNICEF',
            order: 0,
            name: { en: 'UNICEF', fr: '' },
            services: [],
            logo_enabled: true,
            disabled: false,
          },
          children: [],
        },
      ],
      Role: [
        {
          key: 'role-cp-case-worker',
          name: 'CP Case Worker',
          properties: {
            unique_id: 'role-cp-case-worker',
            name: 'CP Case Worker',
            group_permission: 'self',
            module_unique_ids: ['primeromodule-cp'],
            permissions: { case: ['read', 'write'], incident: ['read'] },
          },
          children: [],
        },
      ],
      UserGroup: [
        {
          key: 'usergroup-primero-cp',
          name: 'Primero CP',
          properties: { unique_id: 'usergroup-primero-cp', name: 'Primero CP', disabled: false },
          children: [],
        },
      ],
      Report: [
        {
          key: 'case/primeromodule-cp/Registration CP',
          name: 'Registration CP',
          properties: {
            name: { en: 'Registration CP', fr: '' },
            graph: true,
            record_type: 'case',
            module_id: 'primeromodule-cp',
          },
          children: [],
        },
      ],
      ContactInformation: [
        {
          key: 'contact_information',
          name: 'CP helpdesk',
          properties: { name: 'CP helpdesk', email: 'helpdesk@example.org' },
          children: [],
        },
      ],
    });
  });

  test('the same configuration on two sites is no change: their ids, blobs, report results, stamps and releases differ', () => {
    const demo = normalizeConfiguration(site(DEMO));
    const production = normalizeConfiguration(site(PRODUCTION));
    expect(diffConfigurations(demo, production).items).toEqual([]);
    expect(fingerprint(demo)).toEqual(fingerprint(production));
  });

  test('properties are compared with their keys sorted and nulls dropped, whatever order a site renders', () => {
    const value = { b: 1, a: { d: null, c: [{ z: 1, y: null, x: 'x' }] }, e: undefined, f: 'text' };
    expect(JSON.stringify(canonical(value))).toBe('{"a":{"c":[{"x":"x","z":1}]},"b":1,"f":"text"}');
    expect(canonical('text')).toBe('text');
    expect(canonical([3, 'a', null])).toEqual([3, 'a', null]);

    const form = normalizeConfiguration(
      live({ FormSection: [{ visible: true, unique_id: 'f', name: { fr: 'F', en: 'F' }, help: null }] }),
    ).FormSection.get('f')!;
    expect(JSON.stringify(form.properties)).toBe(
      '{"name":{"en":"F","fr":"F"},"unique_id":"f","visible":true}',
    );

    // The options of a select field are a list of objects: another key order is the same options.
    const field = (options: JsonObject[]) =>
      live({
        FormSection: [
          { unique_id: 'f', fields: [{ name: 'sex', type: 'select_box', option_strings_text: options }] },
        ],
      });
    const demo = normalizeConfiguration(field([{ id: 'female', display_text: { en: 'Female' } }]));
    const production = normalizeConfiguration(field([{ display_text: { en: 'Female' }, id: 'female' }]));
    expect(diffConfigurations(demo, production).items).toEqual([]);
  });

  test('the readable name: a plain name, else English, else the first translation given, else none', () => {
    const names = (models: Partial<LiveConfiguration['models']>) =>
      Object.fromEntries(
        Object.values(normalizeConfiguration(live(models))).flatMap((items) =>
          [...items.values()].map((item) => [item.key, item.name]),
        ),
      );
    expect(
      names({
        FormSection: [
          { unique_id: 'english', name: { fr: 'Identité', en: 'Identity' } },
          // fill_with_locales gives every available locale, '' where the form has no translation.
          { unique_id: 'french-only', name: { en: '', ar: '', fr: 'Identité' } },
          { unique_id: 'no-english-key', name: { es: 'Identidad' } },
          { unique_id: 'untranslated', name: { en: '', fr: '' } },
          { unique_id: 'not-text', name: { en: 5, fr: 7 } },
          { unique_id: 'text-after-a-number', name: { en: '', es: 3, fr: 'Texte' } },
          { unique_id: 'unnamed' },
          { unique_id: 'null-name', name: null },
        ],
        Lookup: [{ unique_id: 'by-display-text', display_text: { en: 'Shown' } }],
        Role: [{ unique_id: 'role', name: 'Case worker' }],
      }),
    ).toEqual({
      english: 'Identity',
      'french-only': 'Identité',
      'no-english-key': 'Identidad',
      untranslated: '',
      'not-text': '',
      'text-after-a-number': 'Texte',
      unnamed: '',
      'null-name': '',
      'by-display-text': 'Shown',
      role: 'Case worker',
    });
  });

  test('keys: unique_id; reports by record type, module(s) and English name; contact information is one', () => {
    const config = normalizeConfiguration(
      live({
        FormSection: [
          { id: 1, unique_id: 'f', name: { en: 'F' } },
          { id: 2, unique_id: '', name: { en: 'Empty id' } },
          { id: 3, name: { en: 'No id' } },
          { id: 4, unique_id: 7, name: { en: 'Numeric id' } },
        ],
        Report: [
          // A configuration state's report carries its unique_id; the reports view does not.
          { unique_id: 'report-with-id', record_type: 'case', module_id: 'm', name: { en: 'R' } },
          {
            unique_id: '',
            record_type: 'case',
            module_id: ['primeromodule-cp', 'primeromodule-gbv'],
            name: { en: 'Both' },
          },
          { name: { en: 'Bare' } },
          { record_type: 'incident', module_id: 'm', name: { en: 'Same' } },
          { record_type: 'incident', module_id: 'm', name: { en: 'Same' }, graph: true },
          { record_type: 'incident', module_id: 'm', name: { en: 'Same' }, graph: false },
        ],
        ContactInformation: [{ name: 'CP helpdesk' }],
      }),
    );
    expect([...config.FormSection.keys()]).toEqual([
      'f',
      '(no unique_id: Empty id)',
      '(no unique_id: No id)',
      '(no unique_id: Numeric id)',
    ]);
    expect([...config.Report.keys()]).toEqual([
      'report-with-id',
      'case/primeromodule-cp+primeromodule-gbv/Both',
      '//Bare',
      'incident/m/Same',
      'incident/m/Same#2',
      'incident/m/Same#3',
    ]);
    expect(config.Report.get('incident/m/Same#3')!.properties).toEqual({
      record_type: 'incident',
      module_id: 'm',
      name: { en: 'Same' },
      graph: false,
    });
    expect([...config.ContactInformation.keys()]).toEqual(['contact_information']);
  });

  test('renaming the helpdesk changes contact information; it neither adds one nor deletes one', () => {
    const diff = diffConfigurations(
      normalizeConfiguration(live({ ContactInformation: [{ name: 'New desk', email: 'a@example.org' }] })),
      normalizeConfiguration(live({ ContactInformation: [{ name: 'Old desk', email: 'a@example.org' }] })),
    );
    expect(diff.items).toEqual([
      {
        model: 'ContactInformation',
        key: 'contact_information',
        name: 'New desk',
        action: 'change',
        destructive: false,
        changes: [{ path: 'name', before: 'Old desk', after: 'New desk' }],
        children: [],
      },
    ]);
  });

  test('subform references: a form this site does not list, none, and children without a list or a key', () => {
    const config = normalizeConfiguration(
      live({
        FormSection: [
          { id: 10, name: { en: 'Form without unique_id' }, fields: [] },
          {
            id: 11,
            unique_id: 'parent',
            fields: [
              { id: 12, name: 'gone', type: 'subform', subform_section_id: 999 },
              { id: 13, name: 'orphan', type: 'subform', subform_section_id: 10 },
              { id: 14, name: 'plain', type: 'text_field', subform_section_id: null },
              { id: 15, type: 'text_field' },
            ],
          },
          { id: 16, unique_id: 'no-fields' },
          { id: 17, unique_id: 'fields-not-a-list', fields: { name: 'x' } },
        ],
        Lookup: [{ unique_id: 'l', values: [{ display_text: { en: 'No id' } }] }],
      }),
    );
    expect([...config.FormSection.get('parent')!.children.entries()]).toEqual([
      ['gone', { name: 'gone', type: 'subform', subform_unique_id: '(unknown form id 999)' }],
      ['orphan', { name: 'orphan', type: 'subform', subform_unique_id: '(unknown form id 10)' }],
      ['plain', { name: 'plain', type: 'text_field' }],
      ['', { type: 'text_field' }],
    ]);
    expect(config.FormSection.get('no-fields')!.children.size).toBe(0);
    expect(config.FormSection.get('fields-not-a-list')!.children.size).toBe(0);
    expect([...config.Lookup.get('l')!.children.entries()]).toEqual([
      ['', { display_text: { en: 'No id' } }],
    ]);
  });

  test('a model the site did not list is empty', () => {
    const partial = {
      site: 'x',
      models: { Role: [{ unique_id: 'r', name: 'R' }] },
    } as unknown as LiveConfiguration;
    const config = normalizeConfiguration(partial);
    expect(
      Object.fromEntries(Object.entries(config).map(([model, items]) => [model, [...items.keys()]])),
    ).toEqual({
      FormSection: [],
      Lookup: [],
      Agency: [],
      Role: ['r'],
      UserGroup: [],
      Report: [],
      ContactInformation: [],
    });
  });
});

describe('fingerprints (audit log, rollback checks)', () => {
  const form = (fields: JsonObject[], extra: JsonObject = {}) =>
    normalizeConfiguration(
      live({ FormSection: [{ unique_id: 'f', name: { en: 'F' }, fields, ...extra }] }),
    ).FormSection.get('f')!;
  const a = { name: 'a', type: 'text_field' };
  const b = { name: 'b', type: 'tick_box' };

  test('16 hex digits per item, keyed Model:key; the order fields are listed in does not count', () => {
    const digest = itemDigest(form([a, b]));
    expect(digest).toMatch(/^[0-9a-f]{16}$/);
    expect(itemDigest(form([b, a]))).toBe(digest);
    expect(itemDigest(form([b, a, { name: 'c', type: 'date_field' }]))).toBe(
      itemDigest(form([{ name: 'c', type: 'date_field' }, a, b])),
    );
    expect(
      fingerprint(
        normalizeConfiguration(
          live({ FormSection: [{ unique_id: 'f', name: { en: 'F' }, fields: [a, b] }] }),
        ),
      ),
    ).toEqual({
      'FormSection:f': digest,
    });
  });

  test('a changed field, a changed property or a removed field changes the digest', () => {
    const digest = itemDigest(form([a, b]));
    const others = [
      itemDigest(form([a, { ...b, type: 'date_field' }])),
      itemDigest(form([a, b], { visible: false })),
      itemDigest(form([a])),
      itemDigest(form([])),
    ];
    expect(new Set([digest, ...others]).size).toBe(5);
  });
});

describe('the plan as people read it', () => {
  test('every model named by its label and plural; kept and deleted items by what apply does to them', () => {
    const production = live({
      FormSection: [{ unique_id: 'old_form', name: { en: 'Old form' }, fields: [{ name: 'x' }] }],
      Lookup: [{ unique_id: 'lookup-old', name: { en: 'Old' }, values: [{ id: 'a' }, { id: 'b' }] }],
      Agency: [{ unique_id: 'agency-prod', name: { en: 'Prod agency' } }],
      Role: [{ unique_id: 'role-prod', name: 'Prod role' }],
      UserGroup: [{ unique_id: 'group-prod', name: 'Prod group' }],
      Report: [{ record_type: 'case', module_id: 'm', name: { en: 'Old report' } }],
      ContactInformation: [{ name: 'Desk', phone: '1' }],
    });
    const demo = live({
      FormSection: [{ unique_id: 'new_form', name: { en: 'New form' }, fields: [{ name: 'y' }] }],
      Lookup: [{ unique_id: 'lookup-new', name: { en: 'New' }, values: [{ id: 'a' }] }],
      ContactInformation: [{ name: 'Desk', phone: '2' }],
    });
    const diff = diffConfigurations(normalizeConfiguration(demo), normalizeConfiguration(production));
    expect(renderDiff(diff).split('\n')).toEqual([
      'Forms (1 added, 1 DELETED)',
      '  + new_form "New form" (1 field)',
      '  - DELETE old_form "Old form" (1 field): production has it, demo does not',
      'Lookups (1 added, 1 DELETED)',
      '  + lookup-new "New" (1 value)',
      '  - DELETE lookup-old "Old" (2 values): production has it, demo does not',
      'Agencies (1 kept)',
      '  = agency-prod "Prod agency": only on production; apply leaves it (never deletes agencies)',
      'Roles (1 kept)',
      '  = role-prod "Prod role": only on production; apply leaves it (never deletes roles)',
      'User groups (1 kept)',
      '  = group-prod "Prod group": only on production; apply leaves it (never deletes user groups)',
      'Reports (1 DELETED)',
      '  - DELETE case/m/Old report "Old report": production has it, demo does not',
      'Contact information (1 changed)',
      '  ~ contact_information "Desk"',
      '      phone: "1" → "2"',
    ]);
    expect(renderSummary(diff).split('\n')).toEqual([
      '6 changes: 2 added, 1 changed, 3 deleted.',
      'DESTRUCTIVE: apply deletes 3 item(s) from production: form old_form, lookup lookup-old, report case/m/Old report.',
    ]);
  });

  test('production-only contact information is kept, never deleted', () => {
    const diff = diffConfigurations(
      normalizeConfiguration(live({})),
      normalizeConfiguration(live({ ContactInformation: [{ name: 'Desk' }] })),
    );
    expect(diff.items).toEqual([
      {
        model: 'ContactInformation',
        key: 'contact_information',
        name: 'Desk',
        action: 'keep',
        destructive: false,
        changes: [],
        children: [],
      },
    ]);
    expect(renderDiff(diff)).toContain(
      '  = contact_information "Desk": only on production; apply leaves it (never deletes contact information)',
    );
  });
});
