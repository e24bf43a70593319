import { CONFIGURABLE_MODELS } from '../primero-api/index.js';
import type { ChildChange, ConfigurationDiff, ItemChange, PropertyChange } from './diff.js';
import { MODEL_RULES } from './normalize.js';
import type { PreflightCheck } from './preflight.js';

/** Plain-text renderings for a terminal. Colour comes from the caller's `style`; none by default. */

/** The two sites' names, for sentences. */
export interface SiteNames {
  from: string;
  to: string;
}
const DEFAULT_SITES: SiteNames = { from: 'demo', to: 'production' };

export type Styler = (text: string, style: 'red' | 'green' | 'yellow' | 'cyan' | 'bold' | 'dim') => string;
const plain: Styler = (text) => text;

const MAX_VALUE = 80;

function show(value: unknown): string {
  if (value === undefined) return '(none)';
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

function propertyLine(change: PropertyChange): string {
  if (!('before' in change)) return `${change.path}: added ${show(change.after)}`;
  if (!('after' in change)) return `${change.path}: removed (was ${show(change.before)})`;
  return `${change.path}: ${show(change.before)} → ${show(change.after)}`;
}

function childLines(child: ChildChange, style: Styler): string[] {
  if (child.action === 'add') return [style(`+ ${child.kind} ${child.key}`, 'green')];
  if (child.action === 'remove') return [style(`- ${child.kind} ${child.key} (removed)`, 'red')];
  return [`~ ${child.kind} ${child.key}`, ...child.changes.map((change) => `    ${propertyLine(change)}`)];
}

function itemTitle(item: ItemChange): string {
  return item.name && item.name !== item.key ? `${item.key} "${item.name}"` : item.key;
}

function itemLines(item: ItemChange, style: Styler, sites: SiteNames): string[] {
  const rules = MODEL_RULES[item.model];
  const count =
    item.childCount !== undefined && rules.children
      ? ` (${item.childCount} ${rules.children.label}${item.childCount === 1 ? '' : 's'})`
      : '';
  switch (item.action) {
    case 'add':
      return [style(`  + ${itemTitle(item)}${count}`, 'green')];
    case 'remove':
      return [
        style(`  - DELETE ${itemTitle(item)}${count}: ${sites.to} has it, ${sites.from} does not`, 'red'),
      ];
    case 'keep':
      return [
        style(
          `  = ${itemTitle(item)}: only on ${sites.to}; apply leaves it (never deletes ${rules.plural})`,
          'dim',
        ),
      ];
    default:
      return [
        `  ~ ${itemTitle(item)}`,
        ...item.changes.map((change) => `      ${propertyLine(change)}`),
        ...item.children.flatMap((child) => childLines(child, style).map((line) => `      ${line}`)),
      ];
  }
}

export function renderDiff(
  diff: ConfigurationDiff,
  style: Styler = plain,
  sites: SiteNames = DEFAULT_SITES,
): string {
  const lines: string[] = [];
  for (const model of CONFIGURABLE_MODELS) {
    const items = diff.items.filter((item) => item.model === model);
    const counts = diff.summary.byModel[model];
    const parts = [
      counts.added ? `${counts.added} added` : '',
      counts.changed ? `${counts.changed} changed` : '',
      counts.removed ? style(`${counts.removed} DELETED`, 'red') : '',
      counts.kept ? `${counts.kept} kept` : '',
    ].filter(Boolean);
    const title = MODEL_RULES[model].plural;
    const heading = `${title[0]!.toUpperCase()}${title.slice(1)}`;
    if (items.length === 0) {
      lines.push(style(`${heading}: no changes`, 'dim'));
      continue;
    }
    lines.push(style(`${heading} (${parts.join(', ')})`, 'bold'));
    for (const item of items) lines.push(...itemLines(item, style, sites));
  }
  return lines.join('\n');
}

export function renderSummary(
  diff: ConfigurationDiff,
  style: Styler = plain,
  sites: SiteNames = DEFAULT_SITES,
): string {
  const s = diff.summary;
  if (s.changes === 0)
    return style(`No changes: ${sites.to} already has ${sites.from}'s configuration.`, 'green');
  const text = `${s.changes} change${s.changes === 1 ? '' : 's'}: ${s.added} added, ${s.changed} changed, ${s.removed} deleted.`;
  if (s.destructive === 0) return text;
  const doomed = diff.items
    .filter((item) => item.destructive)
    .map((item) => `${MODEL_RULES[item.model].label} ${item.key}`)
    .join(', ');
  return `${text}\n${style(`DESTRUCTIVE: apply deletes ${s.destructive} item(s) from ${sites.to}: ${doomed}.`, 'red')}`;
}

const MARK: Record<PreflightCheck['status'], string> = {
  ok: 'ok',
  warn: 'WARN',
  fail: 'FAIL',
  skip: 'skip',
};

export function renderPreflight(checks: PreflightCheck[], style: Styler = plain): string {
  const width = Math.max(...checks.map((check) => check.name.length));
  return checks
    .map((check) => {
      const mark = MARK[check.status].padEnd(4);
      const colour =
        check.status === 'fail'
          ? 'red'
          : check.status === 'warn'
            ? 'yellow'
            : check.status === 'ok'
              ? 'green'
              : 'dim';
      return `  ${style(mark, colour)}  ${check.name.padEnd(width)}  ${check.detail}`;
    })
    .join('\n');
}
