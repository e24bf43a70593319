/**
 * A Grafana dashboard (JSON model, schemaVersion 39: panels with gridPos, `targets[].expr` for the Prometheus
 * data source, `fieldConfig.defaults.unit` from Grafana's unit ids: s, bytes, d) over the exporter's metrics.
 * The data source is a template variable of type `datasource`, so the dashboard loads into any Grafana whatever
 * its Prometheus data source is called. The site is a variable too, filled from the metrics' `site` label.
 */

interface Panel {
  id: number;
  type: 'timeseries' | 'stat' | 'table';
  title: string;
  description: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource: { type: 'prometheus'; uid: '${datasource}' };
  targets: Array<{ refId: string; expr: string; legendFormat: string; instant?: boolean }>;
  fieldConfig: { defaults: Record<string, unknown>; overrides: unknown[] };
  options?: Record<string, unknown>;
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

function panel(
  id: number,
  type: Panel['type'],
  title: string,
  description: string,
  gridPos: Panel['gridPos'],
  targets: Array<[string, string]>,
  defaults: Record<string, unknown>,
): Panel {
  return {
    id,
    type,
    title,
    description,
    gridPos,
    datasource: DATASOURCE,
    targets: targets.map(([expr, legendFormat], index) => ({
      refId: String.fromCharCode(65 + index),
      expr,
      legendFormat,
    })),
    fieldConfig: { defaults, overrides: [] },
  };
}

const thresholds = (steps: Array<[number | null, string]>) => ({
  mode: 'absolute',
  steps: steps.map(([value, color]) => ({ value, color })),
});

export function grafanaDashboard(site: string): Record<string, unknown> {
  const s = 'site="$site"';
  const panels: Panel[] = [
    panel(
      1,
      'stat',
      'Age of the newest good backup',
      'Time since the snapshot of the newest backup set without problems; red beyond the RPO.',
      { x: 0, y: 0, w: 6, h: 5 },
      [[`time() - tier4_backup_last_success_timestamp_seconds{${s}}`, '{{site}}']],
      { unit: 's', thresholds: thresholds([[null, 'green']]), color: { mode: 'thresholds' } },
    ),
    panel(
      2,
      'stat',
      'Problems in the newest backup',
      'Missing or damaged attachments in the newest set (plus one if its verification failed).',
      { x: 6, y: 0, w: 6, h: 5 },
      [[`tier4_backup_last_problems{${s}}`, '{{site}}']],
      {
        unit: 'none',
        thresholds: thresholds([
          [null, 'green'],
          [1, 'red'],
        ]),
        color: { mode: 'thresholds' },
      },
    ),
    panel(
      3,
      'stat',
      'Last drill',
      'Whether the newest restore drill passed (1) or failed (0).',
      { x: 12, y: 0, w: 6, h: 5 },
      [[`tier4_drill_last_ok{${s}}`, '{{site}}']],
      {
        unit: 'none',
        thresholds: thresholds([
          [null, 'red'],
          [1, 'green'],
        ]),
        color: { mode: 'thresholds' },
        mappings: [{ type: 'value', options: { '0': { text: 'failed' }, '1': { text: 'passed' } } }],
      },
    ),
    panel(
      4,
      'stat',
      'Doctor',
      'Whether the doctor runs (up) and every check passes (ok).',
      { x: 18, y: 0, w: 6, h: 5 },
      [
        [`min(tier4_doctor_up{${s}})`, 'up'],
        [`min(tier4_doctor_ok{${s}})`, 'ok'],
      ],
      {
        unit: 'none',
        thresholds: thresholds([
          [null, 'red'],
          [1, 'green'],
        ]),
        color: { mode: 'thresholds' },
      },
    ),
    panel(
      5,
      'timeseries',
      'Backup age over time',
      'Age of the newest good backup against the RPO.',
      { x: 0, y: 5, w: 12, h: 8 },
      [
        [`time() - tier4_backup_last_success_timestamp_seconds{${s}}`, 'age'],
        [`tier4_backup_rpo_seconds{${s}}`, 'RPO'],
      ],
      { unit: 's', custom: { lineWidth: 2 } },
    ),
    panel(
      6,
      'timeseries',
      'Backup size over time',
      'Stored (compressed, encrypted) size of the newest backup set.',
      { x: 12, y: 5, w: 12, h: 8 },
      [
        [`tier4_backup_last_size_bytes{${s}}`, 'newest set'],
        [`tier4_backup_last_success_size_bytes{${s}}`, 'newest good set'],
      ],
      { unit: 'bytes', custom: { lineWidth: 2 } },
    ),
    panel(
      7,
      'timeseries',
      'Restore drill RTO trend',
      'Recovery time measured by the newest passed drill, and the age of the data it restored.',
      { x: 0, y: 13, w: 12, h: 8 },
      [
        [`tier4_drill_rto_seconds{${s}}`, 'RTO'],
        [`tier4_drill_data_age_seconds{${s}}`, 'data age at the drill'],
      ],
      { unit: 's', custom: { lineWidth: 2 } },
    ),
    panel(
      8,
      'timeseries',
      'Certificate days left',
      'Days until each certificate expires, served and stored, against the warn and fail thresholds.',
      { x: 12, y: 13, w: 12, h: 8 },
      [
        [
          `(tier4_certificate_expiry_timestamp_seconds{${s}} - time()) / 86400`,
          '{{certificate}} ({{where}})',
        ],
        [`tier4_certificate_warn_seconds{${s}} / 86400`, 'warn'],
        [`tier4_certificate_fail_seconds{${s}} / 86400`, 'fail'],
      ],
      { unit: 'd', custom: { lineWidth: 2 } },
    ),
    panel(
      9,
      'timeseries',
      'Repository',
      'Complete, untrusted (MAC fails) and incomplete sets; whether the repository can be read.',
      { x: 0, y: 21, w: 24, h: 7 },
      [
        [`tier4_backup_sets{${s}}`, 'complete'],
        [`tier4_backup_untrusted_sets{${s}}`, 'untrusted'],
        [`tier4_backup_incomplete_sets{${s}}`, 'incomplete'],
        [`tier4_repository_up{${s}}`, 'readable'],
      ],
      { unit: 'none', custom: { lineWidth: 2 } },
    ),
  ];
  return {
    uid: `tier4-${site}`.slice(0, 40),
    title: `tier4: ${site}`,
    description: 'Backups, restore drills, certificates and the doctor of a Primero Tier 4 site.',
    tags: ['tier4', 'primero'],
    timezone: 'utc',
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: '5m',
    time: { from: 'now-30d', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Prometheus', current: {} },
        {
          name: 'site',
          type: 'query',
          datasource: DATASOURCE,
          query: { query: 'label_values(tier4_doctor_up, site)', refId: 'site' },
          definition: 'label_values(tier4_doctor_up, site)',
          current: { text: site, value: site },
          refresh: 2,
        },
      ],
    },
    annotations: { list: [] },
    panels,
  };
}
