import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IService } from 'kubernetes-models/v1/Service';
import { stringify } from 'yaml';
import { parseDurationSeconds } from '../../core/duration.js';
import { type KubeObject, labels, metadata, NAMES, selectorLabels } from './common.js';
import { grafanaDashboard } from './monitoring-dashboard.js';
import { alertRules } from './monitoring-rules.js';
import type { PrimeroValues } from './values.js';
import { serviceAccount } from './workloads.js';

/**
 * Monitoring the partner owns: `tier4 doctor serve` as a Deployment with a Service, scraped by the partner's
 * Prometheus (a ServiceMonitor when the prometheus-operator CRDs are in use, the conventional prometheus.io/*
 * annotations otherwise), the site's alert rules and a Grafana dashboard.
 *
 * The exporter's pod is the doctor CronJob's pod made long-running: the same image, tier4.yaml, secret env and
 * files, CA and Kubernetes access (its own ServiceAccount bound to whatever the doctor's is bound to), so the
 * two can never drift apart. Its labels include the ops component's, so the ops NetworkPolicy (egress to the
 * database, storage and nginx) covers it; one more policy lets Prometheus's namespace in on the metrics port.
 */

export const EXPORTER = 'tier4-exporter';
export const EXPORTER_PORT = 9464;
const JOB_LABEL = 'tier4.primero.org/job';

function exporterSelector(values: PrimeroValues): Record<string, string> {
  return { ...selectorLabels(values, 'ops'), [JOB_LABEL]: EXPORTER };
}

function exporterLabels(values: PrimeroValues): Record<string, string> {
  return { ...labels(values, 'ops'), [JOB_LABEL]: EXPORTER };
}

function doctorPodSpec(rendered: KubeObject[]): IPodSpec {
  const doctor = rendered.find(
    (object) => object.kind === 'CronJob' && object.metadata.name === NAMES.doctor,
  );
  const spec = (
    doctor as { spec?: { jobTemplate?: { spec?: { template?: { spec?: IPodSpec } } } } } | undefined
  )?.spec?.jobTemplate?.spec?.template?.spec;
  if (!spec) throw new Error(`the exporter is built from the ${NAMES.doctor} CronJob, which is not rendered`);
  return structuredClone(spec);
}

function exporterDeployment(values: PrimeroValues, doctor: IPodSpec): IDeployment {
  const [container, ...others] = doctor.containers;
  if (!container || others.length > 0) throw new Error('the doctor pod has one container');
  const monitoring = values.ops.monitoring;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { ...metadata(values, EXPORTER, 'ops'), labels: exporterLabels(values) },
    spec: {
      replicas: 1,
      // Never two exporters at once: each runs the checks, and two would double the load on the repository.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: exporterSelector(values) },
      template: {
        metadata: { labels: exporterLabels(values) },
        spec: {
          ...doctor,
          serviceAccountName: EXPORTER,
          restartPolicy: 'Always',
          // SIGTERM makes the exporter finish open requests and abort a run in progress (bounded, 15 s).
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              ...container,
              name: 'exporter',
              args: [
                'doctor',
                'serve',
                '--site',
                values.site,
                '--listen',
                `:${EXPORTER_PORT}`,
                '--interval',
                monitoring.interval,
              ],
              ports: [{ name: 'metrics', containerPort: EXPORTER_PORT, protocol: 'TCP' }],
              // Liveness: the process accepts connections. Readiness: it answers HTTP. A slow doctor run
              // blocks neither (a scrape never waits for a run).
              startupProbe: { tcpSocket: { port: 'metrics' }, periodSeconds: 2, failureThreshold: 30 },
              livenessProbe: { tcpSocket: { port: 'metrics' }, periodSeconds: 20, failureThreshold: 3 },
              readinessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 10 },
            },
          ],
        },
      },
    },
  };
}

function exporterService(values: PrimeroValues): IService {
  const monitoring = values.ops.monitoring;
  // Without the operator: the annotations the Prometheus example configuration (and the community chart's
  // kubernetes-service-endpoints job) keeps and relabels by. With it, the ServiceMonitor alone, so the
  // exporter is never scraped twice.
  const annotations = monitoring.prometheusOperator
    ? undefined
    : {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(EXPORTER_PORT),
        'prometheus.io/path': '/metrics',
      };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      ...metadata(values, EXPORTER, 'ops', annotations),
      labels: exporterLabels(values),
    },
    spec: {
      type: 'ClusterIP',
      selector: exporterSelector(values),
      ports: [{ name: 'metrics', port: EXPORTER_PORT, targetPort: 'metrics', protocol: 'TCP' }],
    },
  };
}

function exporterBudget(values: PrimeroValues): IPodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(values, EXPORTER, 'ops'),
    // One replica: a drain may always move it (the alert rules tolerate minutes without metrics).
    spec: { maxUnavailable: 1, selector: { matchLabels: exporterSelector(values) } },
  };
}

function exporterIngress(values: PrimeroValues): INetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metadata(values, EXPORTER, 'ops'),
    spec: {
      podSelector: { matchLabels: exporterSelector(values) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          // kubernetes.io/metadata.name is set on every namespace by the API server (Kubernetes 1.22+).
          from: [
            {
              namespaceSelector: {
                matchLabels: { 'kubernetes.io/metadata.name': values.ops.monitoring.prometheusNamespace },
              },
            },
          ],
          ports: [{ protocol: 'TCP', port: EXPORTER_PORT }],
        },
      ],
    },
  };
}

/** The doctor's RoleBindings, repeated for the exporter's ServiceAccount: the same access, no shared account. */
function exporterBindings(values: PrimeroValues, rendered: KubeObject[]): KubeObject[] {
  return rendered
    .filter((object) => object.kind === 'RoleBinding' || object.kind === 'ClusterRoleBinding')
    .filter((binding) =>
      ((binding.subjects as Array<{ kind: string; name: string }> | undefined) ?? []).some(
        (subject) => subject.kind === 'ServiceAccount' && subject.name === NAMES.doctor,
      ),
    )
    .map((binding) => ({
      ...structuredClone(binding),
      metadata: {
        ...structuredClone(binding.metadata),
        name: binding.metadata.name.includes(NAMES.doctor)
          ? binding.metadata.name.replace(NAMES.doctor, EXPORTER)
          : `${EXPORTER}-${binding.metadata.name}`,
        labels: labels(values, 'ops'),
      },
      subjects: ((binding.subjects as Array<Record<string, string>>) ?? []).map((subject) =>
        subject.kind === 'ServiceAccount' && subject.name === NAMES.doctor
          ? { ...subject, name: EXPORTER }
          : subject,
      ),
    }));
}

export const RULES_CONFIGMAP = 'tier4-alert-rules';
export const DASHBOARD_CONFIGMAP = 'tier4-grafana-dashboard';

export function rulesFileName(site: string): string {
  return `tier4-${site}.rules.yaml`;
}

/** The rule groups of the site, as rendered into the PrometheusRule and the rules ConfigMap. */
export function siteAlertRules(values: PrimeroValues) {
  const monitoring = values.ops.monitoring;
  return alertRules({
    site: values.site,
    runbookBaseUrl: monitoring.runbookBaseUrl,
    intervalSeconds: parseDurationSeconds(monitoring.interval) ?? 300,
  });
}

function rulesConfigMap(values: PrimeroValues): IConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(values, RULES_CONFIGMAP, 'ops'),
    data: { [rulesFileName(values.site)]: stringify({ groups: siteAlertRules(values) }, { lineWidth: 0 }) },
  };
}

function dashboardConfigMap(values: PrimeroValues): IConfigMap {
  // The Grafana chart's dashboard sidecar loads every ConfigMap carrying its label (sidecar.dashboards.label,
  // default grafana_dashboard; labelValue empty = any value, kube-prometheus-stack uses "1"); its
  // searchNamespace must include this namespace (grafana/helm-charts charts/grafana README).
  const meta = metadata(values, DASHBOARD_CONFIGMAP, 'ops');
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { ...meta, labels: { ...meta.labels, grafana_dashboard: '1' } },
    data: { [`tier4-${values.site}.json`]: `${JSON.stringify(grafanaDashboard(values.site), null, 2)}\n` },
  };
}

function operatorObjects(values: PrimeroValues): KubeObject[] {
  const monitoring = values.ops.monitoring;
  if (!monitoring.prometheusOperator) return [];
  const meta = (name: string) => {
    const base = metadata(values, name, 'ops');
    return { ...base, labels: { ...base.labels, ...monitoring.selectorLabels } };
  };
  // prometheus-operator's monitoring.coreos.com/v1 API: ServiceMonitor spec.selector, spec.namespaceSelector
  // and spec.endpoints[].port naming a Service port; PrometheusRule spec.groups as in a rule file.
  return [
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: meta(EXPORTER),
      spec: {
        selector: { matchLabels: exporterSelector(values) },
        namespaceSelector: { matchNames: [values.namespace] },
        endpoints: [{ port: 'metrics', path: '/metrics', interval: '60s', scrapeTimeout: '10s' }],
      },
    },
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: meta(`tier4-${values.site}`),
      spec: { groups: siteAlertRules(values) },
    },
  ];
}

/** Everything monitoring adds to a site's manifests, given what the chart rendered (for the doctor's pod). */
export function monitoringManifests(values: PrimeroValues, rendered: KubeObject[]): KubeObject[] {
  const doctor = doctorPodSpec(rendered);
  return [
    serviceAccount(values, EXPORTER, 'ops'),
    ...exporterBindings(values, rendered),
    exporterDeployment(values, doctor),
    exporterService(values),
    exporterBudget(values),
    exporterIngress(values),
    rulesConfigMap(values),
    dashboardConfigMap(values),
    ...operatorObjects(values),
  ] as KubeObject[];
}
