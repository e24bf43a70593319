import { createHash } from 'node:crypto';
import type { ConfigurableModel, JsonObject, LiveConfiguration } from '../primero-api/index.js';

/**
 * Turns what Primero's read APIs return into comparable items: keyed by the identity Primero's apply
 * uses (unique_id), without what differs between sites by nature or what an apply cannot carry.
 *
 * What the read views return (Primero v2.15.2, app/views/api/v2/<model>/*.json.jbuilder) is not what a
 * configuration state carries (each model's `configuration_hash` in app/models/*.rb) nor what its apply
 * writes (`create_or_update!`/`update_properties`). The rules below hold the difference, model by model:
 * a property is ignored when it is a database id (each site numbers its own rows) or when apply cannot make
 * it equal on production; a database id that names another form is compared by that form's unique_id.
 */

export interface ModelRules {
  /** How people call it. */
  label: string;
  plural: string;
  /** Apply replaces these: items production has and the configuration lacks are deleted. */
  replaced: boolean;
  /** Properties never compared. */
  ignore: string[];
  /** A list property whose entries are compared one by one, by their own key. */
  children?: { property: string; key: string; label: string; ignore: string[] };
}

export const MODEL_RULES: Record<ConfigurableModel, ModelRules> = {
  // The forms view is the form's `as_json` (every column) with its fields' `as_json`. FormSection's
  // configuration_hash keeps every attribute but `id`, so created_at/updated_at carry over and are compared.
  // Field's keeps its timestamps too and sends subform references as unique ids (`subform_unique_id`,
  // `collapsed_field_for_subform_unique_id`), which update_properties resolves on the receiving site: the
  // view's `subform_section_id`/`collapsed_field_for_subform_section_id` are compared as the unique_id of
  // the form they name (see FORM_REFERENCES). `form_section_id` is the field's own form.
  FormSection: {
    label: 'form',
    plural: 'forms',
    replaced: true,
    ignore: ['id'],
    children: { property: 'fields', key: 'name', label: 'field', ignore: ['id', 'form_section_id'] },
  },
  // The lookups view has no timestamps; values are keyed by their id (a value's own key, not a row id).
  Lookup: {
    label: 'lookup',
    plural: 'lookups',
    replaced: true,
    ignore: ['id'],
    children: { property: 'values', key: 'id', label: 'value', ignore: ['id'] },
  },
  // `report_data` is the report run on the site's own records (reports/_report.json.jbuilder).
  Report: { label: 'report', plural: 'reports', replaced: true, ignore: ['id', 'report_data'] },
  Role: { label: 'role', plural: 'roles', replaced: false, ignore: ['id'] },
  UserGroup: { label: 'user group', plural: 'user groups', replaced: false, ignore: ['id'] },
  // Logo and terms-of-use URLs point at each site's own blob storage (agencies/_agency.json.jbuilder).
  Agency: {
    label: 'agency',
    plural: 'agencies',
    replaced: false,
    ignore: ['id', 'logo_full', 'logo_icon', 'terms_of_use'],
  },
  // The view returns every column but `id` (contact_information/show.json.jbuilder), timestamps included,
  // but ContactInformation's configuration_hash (ConfigurationRecord) drops created_at/updated_at: each site
  // stamps its own. `system_version` is the server's release.
  ContactInformation: {
    label: 'contact information',
    plural: 'contact information',
    replaced: false,
    ignore: ['id', 'created_at', 'updated_at', 'system_version'],
  },
};

/**
 * Field properties holding another form's database id, and the unique-id property Field#configuration_hash
 * sends in their place (app/models/field.rb).
 */
export const FORM_REFERENCES: Record<string, string> = {
  subform_section_id: 'subform_unique_id',
  collapsed_field_for_subform_section_id: 'collapsed_field_for_subform_unique_id',
};

/** A field with its references to other forms by their unique_id, as the forms of the same site name them. */
function withFormReferences(field: JsonObject, formIds: Map<unknown, string>): JsonObject {
  const out: JsonObject = { ...field };
  for (const [idProperty, uniqueIdProperty] of Object.entries(FORM_REFERENCES)) {
    const id = out[idProperty];
    delete out[idProperty];
    if (id === null || id === undefined) continue;
    out[uniqueIdProperty] = formIds.get(id) ?? `(unknown form id ${String(id)})`;
  }
  return out;
}

export interface NormalizedItem {
  key: string;
  /** A readable name (English), for people. */
  name: string;
  /** Compared properties, children removed. */
  properties: JsonObject;
  /** Children by their key, normalized. */
  children: Map<string, JsonObject>;
}

export type NormalizedConfiguration = Record<ConfigurableModel, Map<string, NormalizedItem>>;

/** Sorted keys, nulls dropped, so that two renderings of the same thing compare equal. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as JsonObject)[key];
      if (item === null || item === undefined) continue;
      out[key] = canonical(item);
    }
    return out;
  }
  return value;
}

function displayName(item: JsonObject): string {
  const name = item.name ?? item.display_text;
  if (typeof name === 'string') return name;
  if (name && typeof name === 'object') {
    const en = (name as JsonObject).en;
    if (typeof en === 'string' && en !== '') return en;
    const first = Object.values(name).find((text) => typeof text === 'string' && text !== '');
    if (typeof first === 'string') return first;
  }
  return '';
}

/**
 * Reports: Primero's report API does not return unique_id, so a report is known by its record type,
 * module and English name, which is what people see. Two reports sharing all three get a #n suffix.
 */
function reportKey(item: JsonObject): string {
  if (typeof item.unique_id === 'string' && item.unique_id !== '') return item.unique_id;
  const module = Array.isArray(item.module_id) ? item.module_id.join('+') : String(item.module_id ?? '');
  return `${String(item.record_type ?? '')}/${module}/${displayName(item)}`;
}

function itemKey(model: ConfigurableModel, item: JsonObject): string {
  if (model === 'ContactInformation') return 'contact_information';
  if (model === 'Report') return reportKey(item);
  const id = item.unique_id;
  return typeof id === 'string' && id !== '' ? id : `(no unique_id: ${displayName(item)})`;
}

function strip(item: JsonObject, ignore: string[]): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(item)) if (!ignore.includes(key)) out[key] = value;
  return canonical(out) as JsonObject;
}

export function normalizeConfiguration(live: LiveConfiguration): NormalizedConfiguration {
  const out = {} as NormalizedConfiguration;
  // Database ids of this site's forms, to read fields' subform references by unique_id.
  const formIds = new Map<unknown, string>();
  for (const form of live.models.FormSection ?? []) {
    if (typeof form.unique_id === 'string') formIds.set(form.id, form.unique_id);
  }
  for (const [model, rules] of Object.entries(MODEL_RULES) as Array<[ConfigurableModel, ModelRules]>) {
    const items = new Map<string, NormalizedItem>();
    for (const raw of live.models[model] ?? []) {
      let key = itemKey(model, raw);
      for (let n = 2; items.has(key); n += 1) key = `${itemKey(model, raw)}#${n}`;
      const children = new Map<string, JsonObject>();
      const ignore = [...rules.ignore];
      if (rules.children) {
        ignore.push(rules.children.property);
        const list = raw[rules.children.property];
        for (const child of Array.isArray(list) ? (list as JsonObject[]) : []) {
          const childKey = String(child[rules.children.key] ?? '');
          const resolved = model === 'FormSection' ? withFormReferences(child, formIds) : child;
          children.set(childKey, strip(resolved, rules.children.ignore));
        }
      }
      items.set(key, { key, name: displayName(raw), properties: strip(raw, ignore), children });
    }
    out[model] = items;
  }
  return out;
}

/** A short digest of an item: ids only, no content, for the audit log and rollback checks. */
export function itemDigest(item: NormalizedItem): string {
  const children = [...item.children.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256')
    .update(JSON.stringify([item.properties, children]))
    .digest('hex')
    .slice(0, 16);
}

/** `Model:key` → digest for every item of a configuration. */
export function fingerprint(config: NormalizedConfiguration): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [model, items] of Object.entries(config)) {
    for (const item of items.values()) out[`${model}:${item.key}`] = itemDigest(item);
  }
  return out;
}
