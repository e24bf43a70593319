import { createHash } from 'node:crypto';
import type { ConfigurableModel, JsonObject, LiveConfiguration } from '../primero-api/live-configuration.js';

/**
 * Turns what Primero's read APIs return into comparable items: keyed by the identity Primero's apply
 * uses (unique_id), without what differs between sites by nature (database ids, rendered report data,
 * the server's own version).
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
  children?: { property: string; key: string; label: string };
}

export const MODEL_RULES: Record<ConfigurableModel, ModelRules> = {
  FormSection: {
    label: 'form',
    plural: 'forms',
    replaced: true,
    ignore: ['id'],
    children: { property: 'fields', key: 'name', label: 'field' },
  },
  Lookup: {
    label: 'lookup',
    plural: 'lookups',
    replaced: true,
    ignore: ['id'],
    children: { property: 'values', key: 'id', label: 'value' },
  },
  Report: { label: 'report', plural: 'reports', replaced: true, ignore: ['id', 'report_data'] },
  Role: { label: 'role', plural: 'roles', replaced: false, ignore: ['id'] },
  UserGroup: { label: 'user group', plural: 'user groups', replaced: false, ignore: ['id'] },
  // Logo URLs point at each site's own blob storage.
  Agency: { label: 'agency', plural: 'agencies', replaced: false, ignore: ['id', 'logo_full', 'logo_icon'] },
  ContactInformation: {
    label: 'contact information',
    plural: 'contact information',
    replaced: false,
    ignore: ['id', 'system_version'],
  },
};

/** Field properties that are database ids. */
const CHILD_IGNORE = ['id', 'form_section_id'];

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
          children.set(childKey, strip(child, CHILD_IGNORE));
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
