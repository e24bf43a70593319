import { CONFIGURABLE_MODELS, type ConfigurableModel, type JsonObject } from '../primero-api/index.js';
import { canonical, MODEL_RULES, type NormalizedConfiguration, type NormalizedItem } from './normalize.js';

/**
 * The semantic diff between the configuration being promoted (demo) and the target's (production):
 * what applying demo's configuration on production would do, item by item and down to the property.
 */

export interface PropertyChange {
  /** Dotted path inside the item, such as `name.en` or `permissions.case`. */
  path: string;
  /** Absent when the property is new. */
  before?: unknown;
  /** Absent when the property goes away. */
  after?: unknown;
}

export interface ChildChange {
  /** `field` or `value`. */
  kind: string;
  key: string;
  action: 'add' | 'remove' | 'change';
  changes: PropertyChange[];
}

export interface ItemChange {
  model: ConfigurableModel;
  key: string;
  name: string;
  /**
   * add / change: apply writes it. remove: apply deletes it (forms, lookups, reports only).
   * keep: production has it, demo does not, and apply leaves it alone (agencies, roles, user groups).
   */
  action: 'add' | 'remove' | 'change' | 'keep';
  /** True for `remove`: data entry forms, lookups or reports disappear from production. */
  destructive: boolean;
  changes: PropertyChange[];
  children: ChildChange[];
  /** Number of fields or values, for added and removed items. */
  childCount?: number;
}

export interface ModelSummary {
  added: number;
  changed: number;
  removed: number;
  kept: number;
}

export interface DiffSummary {
  /** Items apply would add, change or delete. */
  changes: number;
  added: number;
  changed: number;
  removed: number;
  /** Items that will be deleted: the removed forms, lookups and reports. */
  destructive: number;
  /** Production-only agencies, roles and user groups apply leaves in place. */
  kept: number;
  byModel: Record<ConfigurableModel, ModelSummary>;
}

export interface ConfigurationDiff {
  items: ItemChange[];
  summary: DiffSummary;
}

function isPlainObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Property-level differences, recursing into objects (translations, permissions) but not arrays. */
export function diffProperties(before: JsonObject, after: JsonObject, prefix = ''): PropertyChange[] {
  const changes: PropertyChange[] = [];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const key of keys) {
    const path = prefix ? `${prefix}.${key}` : key;
    const a = before[key];
    const b = after[key];
    if (a === undefined && b !== undefined) changes.push({ path, after: b });
    else if (b === undefined && a !== undefined) changes.push({ path, before: a });
    else if (isPlainObject(a) && isPlainObject(b)) changes.push(...diffProperties(a, b, path));
    else if (!same(a, b)) changes.push({ path, before: a, after: b });
  }
  return changes;
}

function diffChildren(model: ConfigurableModel, from: NormalizedItem, to: NormalizedItem): ChildChange[] {
  const kind = MODEL_RULES[model].children?.label ?? 'entry';
  const out: ChildChange[] = [];
  const keys = [...new Set([...to.children.keys(), ...from.children.keys()])];
  for (const key of keys) {
    const wanted = from.children.get(key);
    const current = to.children.get(key);
    if (wanted && !current) out.push({ kind, key, action: 'add', changes: [] });
    else if (!wanted && current) out.push({ kind, key, action: 'remove', changes: [] });
    else if (wanted && current) {
      const changes = diffProperties(current, wanted);
      if (changes.length > 0) out.push({ kind, key, action: 'change', changes });
    }
  }
  return out;
}

/**
 * `from` is the configuration to promote (demo's), `to` the target's current one (production's).
 * Items keep the order Primero listed them in.
 */
export function diffConfigurations(
  from: NormalizedConfiguration,
  to: NormalizedConfiguration,
): ConfigurationDiff {
  const items: ItemChange[] = [];
  for (const model of CONFIGURABLE_MODELS) {
    const rules = MODEL_RULES[model];
    const wanted = from[model];
    const current = to[model];
    for (const [key, item] of wanted) {
      const existing = current.get(key);
      if (!existing) {
        items.push({
          model,
          key,
          name: item.name,
          action: 'add',
          destructive: false,
          changes: [],
          children: [],
          ...(rules.children ? { childCount: item.children.size } : {}),
        });
        continue;
      }
      const changes = diffProperties(existing.properties, item.properties);
      const children = rules.children ? diffChildren(model, item, existing) : [];
      if (changes.length > 0 || children.length > 0) {
        items.push({ model, key, name: item.name, action: 'change', destructive: false, changes, children });
      }
    }
    for (const [key, item] of current) {
      if (wanted.has(key)) continue;
      items.push({
        model,
        key,
        name: item.name,
        action: rules.replaced ? 'remove' : 'keep',
        destructive: rules.replaced,
        changes: [],
        children: [],
        ...(rules.children ? { childCount: item.children.size } : {}),
      });
    }
  }
  return { items, summary: summarize(items) };
}

export function summarize(items: ItemChange[]): DiffSummary {
  const byModel = Object.fromEntries(
    CONFIGURABLE_MODELS.map((model) => [model, { added: 0, changed: 0, removed: 0, kept: 0 }]),
  ) as Record<ConfigurableModel, ModelSummary>;
  for (const item of items) {
    const counts = byModel[item.model];
    if (item.action === 'add') counts.added += 1;
    else if (item.action === 'change') counts.changed += 1;
    else if (item.action === 'remove') counts.removed += 1;
    else counts.kept += 1;
  }
  const total = (pick: keyof ModelSummary) =>
    Object.values(byModel).reduce((sum, counts) => sum + counts[pick], 0);
  const added = total('added');
  const changed = total('changed');
  const removed = total('removed');
  return {
    changes: added + changed + removed,
    added,
    changed,
    removed,
    destructive: items.filter((item) => item.destructive).length,
    kept: total('kept'),
    byModel,
  };
}
