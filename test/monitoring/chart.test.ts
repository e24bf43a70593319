import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import type { KubeObject } from '../../charts/primero/common.js';
import { monitoringManifests, rulesFileName } from '../../charts/primero/monitoring.js';
import { loadConfig } from '../../core/config/load.js';
import { checkPlan, planLoadedSite } from '../../stacks/production/render.js';
import { REPO_ROOT } from '../support/cli.js';
import { promtool } from '../support/promtool.js';

// biome-ignore lint/suspicious/noExplicitAny: tests inspect manifests freely
type Any = any;

let production: ReturnType<typeof planLoadedSite>;
let demo: ReturnType<typeof planLoadedSite>;
const objects = (plan: typeof production) => plan.manifests.map((manifest) => manifest.object);
const find = (list: KubeObject[], kind: string, name: string): Any => {
  const found = list.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name}`);
  return found;
};

beforeAll(() => {
  const loaded = loadConfig(join(REPO_ROOT, 'examples', 'tier4.example.yaml'));
  production = planLoadedSite(loaded, 'production');
  demo = planLoadedSite(loaded, 'demo');
});

describe('the production render: exporter, scrape, rules, dashboard', () => {
  test('the exporter is the doctor pod made long-running, and passes the chart policy and schema checks', async () => {
    const list = objects(production);
    const deployment = find(list, 'Deployment', 'tier4-exporter');
    const pod = deployment.spec.template.spec;
    const doctor = find(list, 'CronJob', 'tier4-doctor').spec.jobTemplate.spec.template.spec;
    const container = pod.containers[0];
    expect(container.args).toEqual([
      'doctor',
      'serve',
      '--site',
      'production',
      '--listen',
      ':9464',
      '--interval',
      '5m',
    ]);
    // The same identity, secrets and CA as the doctor CronJob: env, volumes, mounts, image, security.
    expect(container.env).toEqual(doctor.containers[0].env);
    expect(container.volumeMounts).toEqual(doctor.containers[0].volumeMounts);
    expect(pod.volumes).toEqual(doctor.volumes);
    expect(container.image).toBe(doctor.containers[0].image);
    expect(container.securityContext).toEqual(doctor.containers[0].securityContext);
    expect(pod.securityContext).toEqual(doctor.securityContext);
    expect(pod.serviceAccountName).toBe('tier4-exporter');
    expect(find(list, 'ServiceAccount', 'tier4-exporter').automountServiceAccountToken).toBe(false);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
    expect(deployment.spec.replicas).toBe(1);
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);

    expect(await checkPlan(production)).toEqual([]);
    expect(await checkPlan(demo)).toEqual([]);

    // The chart's policy rules bite on the exporter too: a privileged exporter is reported.
    const { checkPolicies } = await import('../../charts/primero/policy.js');
    const mutated = structuredClone(list);
    find(
      mutated,
      'Deployment',
      'tier4-exporter',
    ).spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation = true;
    expect(checkPolicies(mutated).map((finding) => `${finding.rule} ${finding.object}`)).toContain(
      'pss-restricted/allow-privilege-escalation Deployment/tier4-exporter',
    );
  });

  test('with the prometheus-operator CRDs: a ServiceMonitor and a PrometheusRule, no scrape annotations', () => {
    const list = objects(production);
    const service = find(list, 'Service', 'tier4-exporter');
    expect(service.metadata.annotations).toBeUndefined();
    const monitor = find(list, 'ServiceMonitor', 'tier4-exporter');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.metadata.labels.release).toBe('kube-prometheus-stack');
    expect(monitor.spec.selector.matchLabels).toEqual(service.spec.selector);
    // The ServiceMonitor selects the Service by its labels, and names its port.
    for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels))
      expect(service.metadata.labels[key]).toBe(value);
    expect(monitor.spec.endpoints[0].port).toBe(service.spec.ports[0].name);
    expect(monitor.spec.namespaceSelector).toEqual({ matchNames: ['primero'] });
    const rule = find(list, 'PrometheusRule', 'tier4-production');
    expect(rule.metadata.labels.release).toBe('kube-prometheus-stack');
    const fromMap = parse(find(list, 'ConfigMap', 'tier4-alert-rules').data[rulesFileName('production')]);
    expect(rule.spec.groups).toEqual(fromMap.groups);
    const policy = find(list, 'NetworkPolicy', 'tier4-exporter');
    expect(policy.spec.ingress[0].from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
  });

  test('without them: the conventional prometheus.io annotations and no custom resources', () => {
    const list = objects(demo);
    expect(find(list, 'Service', 'tier4-exporter').metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9464',
      'prometheus.io/path': '/metrics',
    });
    expect(list.some((object) => object.kind === 'ServiceMonitor' || object.kind === 'PrometheusRule')).toBe(
      false,
    );
    expect(find(list, 'ConfigMap', 'tier4-alert-rules').data[rulesFileName('demo')]).toContain('site="demo"');
  });

  test("the exporter gets the doctor's Kubernetes access through its own bindings", () => {
    const values = production.values;
    const rendered = objects(production);
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'tier4-doctor-certificates', namespace: 'primero' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tier4-certificate-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'tier4-doctor', namespace: 'primero' }],
    } as KubeObject;
    const added = monitoringManifests(values, [...rendered, binding]);
    const copy = find(added, 'RoleBinding', 'tier4-exporter-certificates');
    expect(copy.subjects).toEqual([{ kind: 'ServiceAccount', name: 'tier4-exporter', namespace: 'primero' }]);
    expect(copy.roleRef).toEqual(binding.roleRef);
  });

  test('the dashboard is a ConfigMap for the Grafana sidecar, over metrics the exporter exposes', async () => {
    const map = find(objects(production), 'ConfigMap', 'tier4-grafana-dashboard');
    expect(map.metadata.labels.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(map.data['tier4-production.json']);
    const titles = dashboard.panels.map((panel: Any) => panel.title);
    for (const wanted of [
      'Backup age over time',
      'Backup size over time',
      'Restore drill RTO trend',
      'Certificate days left',
    ])
      expect(titles).toContain(wanted);
    const exprs: string[] = dashboard.panels.flatMap((panel: Any) =>
      panel.targets.map((target: Any) => target.expr),
    );
    const used = new Set(exprs.flatMap((expr) => expr.match(/tier4_[a-z_]+/g) ?? []));
    const { readFile } = await import('node:fs/promises');
    const sources = (
      await Promise.all(
        ['doctor/run.ts', 'doctor/prometheus.ts'].map((file) => readFile(join(REPO_ROOT, file), 'utf8')),
      )
    ).join('\n');
    for (const name of used) expect(sources, name).toContain(`'${name}'`);
    expect(new Set(dashboard.panels.map((panel: Any) => panel.id)).size).toBe(dashboard.panels.length);
  });
});

describe('the alert rules, by promtool', () => {
  let dir: string;
  let rulesFile: string;
  let groups: Any[];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tier4-rules-'));
    rulesFile = join(dir, 'rules.yaml');
    const text = find(objects(production), 'ConfigMap', 'tier4-alert-rules').data[
      rulesFileName('production')
    ];
    groups = parse(text).groups;
    await writeFile(rulesFile, text);
  });

  test('promtool check rules accepts them, and each alert has a summary, description and runbook that exists', async () => {
    const checked = await promtool(['check', 'rules', rulesFile]);
    expect(checked.output).toMatch(/SUCCESS: 11 rules found/);
    expect(checked.code).toBe(0);
    const { existsSync } = await import('node:fs');
    for (const rule of groups[0].rules) {
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      expect(rule.annotations.description, rule.alert).toBeTruthy();
      const file = /\/runbooks\/([a-z-]+\.md)$/.exec(rule.annotations.runbook_url)?.[1];
      expect(file, rule.alert).toBeDefined();
      expect(existsSync(join(REPO_ROOT, 'runbooks', file!)), file).toBe(true);
      expect(rule.expr, rule.alert).toContain('site="production"');
    }
  });

  test('promtool test rules: every alert fires and resolves', async () => {
    const base = { site: 'production', instance: 'exporter:9464', job: 'tier4' };
    const series = (name: string, values: string, extra: Record<string, string> = {}) => ({
      series: `${name}{${Object.entries({ ...base, ...extra })
        .map(([key, value]) => `${key}="${value}"`)
        .join(',')}}`,
      values,
    });
    const rules = new Map(groups[0].rules.map((rule: Any) => [rule.alert, rule]));
    // The annotations as Prometheus expands them for these labels and value.
    const expand = (alert: string, labels: Record<string, string>, value: string) => {
      const rule: Any = rules.get(alert);
      const out: Record<string, string> = {};
      for (const [key, text] of Object.entries(rule.annotations as Record<string, string>))
        out[key] = text
          .replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_, label) => labels[label] ?? '')
          .replace(/\{\{ \$value \}\}/g, value);
      return out;
    };
    const fires = (alert: string, at: string, labels: Record<string, string>, value = '') => {
      const rule: Any = rules.get(alert);
      const all = { ...labels, ...rule.labels };
      return {
        eval_time: at,
        alertname: alert,
        exp_alerts: [{ exp_labels: all, exp_annotations: expand(alert, all, value) }],
      };
    };
    const resolved = (alert: string, at: string) => ({ eval_time: at, alertname: alert, exp_alerts: [] });
    const cert = { certificate: 'primero.example.org', where: 'served' };
    const cases: Array<{ alert: string; input: Any[]; checks: Any[] }> = [
      {
        alert: 'Tier4BackupTooOld',
        input: [
          series('tier4_backup_last_success_timestamp_seconds', '0x180 10800x120'),
          series('tier4_backup_rpo_seconds', '3600x300'),
          series('tier4_repository_up', '1x300'),
        ],
        checks: [
          resolved('Tier4BackupTooOld', '30m'),
          fires('Tier4BackupTooOld', '2h', base),
          resolved('Tier4BackupTooOld', '3h30m'),
        ],
      },
      {
        alert: 'Tier4BackupTooOld',
        input: [series('tier4_repository_up', '1x60'), series('tier4_backup_rpo_seconds', '3600x60')],
        checks: [fires('Tier4BackupTooOld', '30m', base)],
      },
      {
        alert: 'Tier4BackupHasProblems',
        input: [series('tier4_backup_last_problems', '0x10 1x30 0x30')],
        checks: [
          resolved('Tier4BackupHasProblems', '5m'),
          fires('Tier4BackupHasProblems', '25m', base, '1'),
          resolved('Tier4BackupHasProblems', '50m'),
        ],
      },
      {
        alert: 'Tier4DrillOverdue',
        input: [
          series('tier4_drill_last_success_timestamp_seconds', '0x180 10800x120'),
          series('tier4_drill_interval_seconds', '3600x300'),
        ],
        checks: [fires('Tier4DrillOverdue', '2h', base), resolved('Tier4DrillOverdue', '3h30m')],
      },
      {
        alert: 'Tier4DrillFailed',
        input: [series('tier4_drill_last_ok', '1x10 0x30 1x30')],
        checks: [fires('Tier4DrillFailed', '25m', base), resolved('Tier4DrillFailed', '50m')],
      },
      {
        alert: 'Tier4RepositoryUnreadable',
        input: [series('tier4_repository_up', '1x10 0x40 1x30')],
        checks: [
          fires('Tier4RepositoryUnreadable', '40m', base),
          resolved('Tier4RepositoryUnreadable', '70m'),
        ],
      },
      {
        alert: 'Tier4UntrustedBackupSets',
        input: [series('tier4_backup_untrusted_sets', '0x10 2x30 0x30')],
        checks: [
          fires('Tier4UntrustedBackupSets', '25m', base, '2'),
          resolved('Tier4UntrustedBackupSets', '50m'),
        ],
      },
      {
        alert: 'Tier4CertificateExpiring',
        input: [
          series('tier4_certificate_expiry_timestamp_seconds', '1728000x120 7776000x120', cert),
          series('tier4_certificate_warn_seconds', '2592000x240'),
          series('tier4_certificate_fail_seconds', '1209600x240'),
        ],
        checks: [
          fires('Tier4CertificateExpiring', '1h30m', { ...base, ...cert }),
          resolved('Tier4CertificateExpiring', '3h'),
        ],
      },
      {
        alert: 'Tier4CertificateExpiryCritical',
        input: [
          series('tier4_certificate_expiry_timestamp_seconds', '864000x60 7776000x60', cert),
          series('tier4_certificate_warn_seconds', '2592000x120'),
          series('tier4_certificate_fail_seconds', '1209600x120'),
        ],
        checks: [
          fires('Tier4CertificateExpiryCritical', '30m', { ...base, ...cert }),
          resolved('Tier4CertificateExpiryCritical', '1h30m'),
        ],
      },
      {
        alert: 'Tier4CertificateNotReloaded',
        input: [
          series('tier4_certificate_served_matches_stored', '1x10 0x60 1x30', {
            certificate: cert.certificate,
          }),
        ],
        checks: [
          fires('Tier4CertificateNotReloaded', '50m', { ...base, certificate: cert.certificate }),
          resolved('Tier4CertificateNotReloaded', '90m'),
        ],
      },
      {
        alert: 'Tier4DoctorDown',
        input: [
          series('tier4_doctor_up', '0x30 stale', { reason: 'config' }),
          series('tier4_doctor_up', '_x31 1x30'),
        ],
        checks: [
          fires('Tier4DoctorDown', '20m', { ...base, reason: 'config' }),
          resolved('Tier4DoctorDown', '50m'),
        ],
      },
      {
        alert: 'Tier4ExporterDown',
        input: [series('tier4_doctor_last_run_timestamp_seconds', '_x20 1200+60x40')],
        checks: [
          fires('Tier4ExporterDown', '15m', { site: 'production' }),
          resolved('Tier4ExporterDown', '40m'),
        ],
      },
      {
        alert: 'Tier4ExporterDown',
        input: [series('tier4_doctor_last_run_timestamp_seconds', '0x60')],
        checks: [resolved('Tier4ExporterDown', '10m'), fires('Tier4ExporterDown', '40m', base)],
      },
    ];
    // Each alert of the rendered rules has a case: adding an alert without one fails here.
    expect(new Set(cases.map((c) => c.alert))).toEqual(new Set(rules.keys()));
    const testFile = join(dir, 'tests.yaml');
    await writeFile(
      testFile,
      stringify({
        rule_files: ['rules.yaml'],
        evaluation_interval: '1m',
        tests: cases.map((c) => ({
          name: c.alert,
          interval: '1m',
          input_series: c.input,
          alert_rule_test: c.checks,
        })),
      }),
    );
    const result = await promtool(['test', 'rules', testFile]);
    expect(result.output).toContain('SUCCESS');
    expect(result.code, result.output).toBe(0);

    // And the test can fail: a wrong expectation is reported.
    const wrong = parse(await (await import('node:fs/promises')).readFile(testFile, 'utf8'));
    wrong.tests[2].alert_rule_test[1].exp_alerts = [];
    await writeFile(testFile, stringify(wrong));
    const failing = await promtool(['test', 'rules', testFile]);
    expect(failing.code).toBe(1);
  });
});
