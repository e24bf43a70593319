import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { PolicyFinding, PolicyRule } from '../../core/policy.js';
import type { KubeObject } from './common.js';

/**
 * Our policy rules for rendered manifests. Each is named after the Pod Security Standards control,
 * kube-linter check, kube-score check (or benchmark item) it mirrors; `tier4/` rules are our own.
 * They run without a cluster, in tests and in `tier4 site render`.
 */

/** A finding names the rule, the `Kind/name` of the object and what is wrong (the shape in core/policy.ts). */
export type Finding = PolicyFinding;

export interface PolicyContext {
  /** The Secret holding the age identity: only the drill CronJob may use it. */
  drillIdentitySecret?: string;
}

export type ChartRule = PolicyRule<KubeObject[], PolicyContext>;

// ------------------------------------------------------------------------------------------- helpers

interface PodTemplate {
  object: KubeObject;
  ref: string;
  spec: IPodSpec;
  labels: Record<string, string>;
  longRunning: boolean;
}

const ref = (object: KubeObject) => `${object.kind}/${object.metadata.name}`;

function get(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Every pod template in the set, wherever it sits (Deployment, StatefulSet, Job, CronJob, Pod). */
export function podTemplates(objects: KubeObject[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const object of objects) {
    let template: unknown;
    if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(object.kind)) {
      template = get(object, 'spec', 'template');
    } else if (object.kind === 'CronJob') {
      template = get(object, 'spec', 'jobTemplate', 'spec', 'template');
    } else if (object.kind === 'Pod') {
      template = { metadata: object.metadata, spec: object.spec };
    }
    const spec = get(template, 'spec') as IPodSpec | undefined;
    if (!spec) continue;
    out.push({
      object,
      ref: ref(object),
      spec,
      labels: (get(template, 'metadata', 'labels') as Record<string, string> | undefined) ?? {},
      longRunning: ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(object.kind),
    });
  }
  return out;
}

function allContainers(spec: IPodSpec): IContainer[] {
  return [...(spec.initContainers ?? []), ...spec.containers];
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** A label selector with matchLabels only (what we render); an empty selector selects everything. */
function selects(selector: unknown, labels: Record<string, string>): boolean {
  if (selector === undefined || selector === null) return false;
  const matchLabels = (get(selector, 'matchLabels') as Record<string, string> | undefined) ?? {};
  if (get(selector, 'matchExpressions') !== undefined) return false;
  return matches(matchLabels, labels);
}

function perContainer(
  objects: KubeObject[],
  rule: string,
  test: (container: IContainer, pod: PodTemplate) => string | undefined,
): Finding[] {
  const findings: Finding[] = [];
  for (const pod of podTemplates(objects)) {
    for (const container of allContainers(pod.spec)) {
      const message = test(container, pod);
      if (message)
        findings.push({ rule, object: pod.ref, message: `container ${container.name}: ${message}` });
    }
  }
  return findings;
}

const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);

const RESTRICTED_VOLUME_TYPES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/** Endpoints whose answer depends on the database or Solr: fine for readiness, wrong for liveness. */
const DEPENDENT_HEALTH_PATHS = new Set(['/health', '/health/database', '/health/solr', '/health/api']);

const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|BASIC_AUTH|_KEY$|_KEY_BASE$|ACCESS_KEY)/i;
const NOT_SECRET = /(_PATH|_FILE|_DIR|_NAME|_ID)$/i;

function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET.test(name);
}

function effective<T>(container: IContainer, pod: PodTemplate, field: string): T | undefined {
  const own = get(container.securityContext, field) as T | undefined;
  return own !== undefined ? own : (get(pod.spec.securityContext, field) as T | undefined);
}

function probeKey(probe: IProbe | undefined): string {
  return JSON.stringify({
    httpGet: probe?.httpGet,
    tcpSocket: probe?.tcpSocket,
    exec: probe?.exec,
    grpc: probe?.grpc,
  });
}

// --------------------------------------------------------------------------------------------- rules

export const POLICY_RULES: ChartRule[] = [
  {
    id: 'pss-admission/namespace-enforce-restricted',
    severity: 'fail',
    title: 'The namespace is labelled pod-security.kubernetes.io/enforce: restricted',
    check(objects) {
      const namespaces = objects.filter((object) => object.kind === 'Namespace');
      return namespaces
        .filter((ns) => ns.metadata.labels?.['pod-security.kubernetes.io/enforce'] !== 'restricted')
        .map((ns) => ({
          rule: this.id,
          object: ref(ns),
          message: 'label pod-security.kubernetes.io/enforce must be "restricted"',
        }));
    },
  },
  {
    id: 'pss-restricted/run-as-non-root',
    severity: 'fail',
    title: 'Pod Security Standards restricted: runAsNonRoot true for every container',
    check(objects) {
      return perContainer(objects, this.id, (container, pod) =>
        effective<boolean>(container, pod, 'runAsNonRoot') === true ? undefined : 'runAsNonRoot is not true',
      );
    },
  },
  {
    id: 'pss-restricted/run-as-user',
    severity: 'fail',
    title:
      'Pod Security Standards restricted: runAsUser is not 0; we also require it set, because Primero images name their user rather than number it',
    check(objects) {
      return perContainer(objects, this.id, (container, pod) => {
        const uid = effective<number>(container, pod, 'runAsUser');
        if (uid === undefined) return 'runAsUser is not set (the kubelet cannot verify a named image user)';
        return uid === 0 ? 'runAsUser is 0 (root)' : undefined;
      });
    },
  },
  {
    id: 'pss-restricted/seccomp-profile',
    severity: 'fail',
    title: 'Pod Security Standards restricted: seccompProfile RuntimeDefault or Localhost',
    check(objects) {
      return perContainer(objects, this.id, (container, pod) => {
        const type = get(effective(container, pod, 'seccompProfile'), 'type');
        return type === 'RuntimeDefault' || type === 'Localhost'
          ? undefined
          : 'seccompProfile is not RuntimeDefault';
      });
    },
  },
  {
    id: 'pss-restricted/allow-privilege-escalation',
    severity: 'fail',
    title: 'Pod Security Standards restricted (kube-linter privilege-escalation-container)',
    check(objects) {
      return perContainer(objects, this.id, (container) =>
        container.securityContext?.allowPrivilegeEscalation === false
          ? undefined
          : 'allowPrivilegeEscalation is not false',
      );
    },
  },
  {
    id: 'pss-restricted/capabilities',
    severity: 'fail',
    title: 'Pod Security Standards restricted: drop ALL, add nothing but NET_BIND_SERVICE',
    check(objects) {
      return perContainer(objects, this.id, (container) => {
        const caps = container.securityContext?.capabilities;
        if (!caps?.drop?.includes('ALL')) return 'capabilities do not drop ALL';
        const extra = (caps.add ?? []).filter((cap) => cap !== 'NET_BIND_SERVICE');
        return extra.length > 0 ? `adds capabilities ${extra.join(', ')}` : undefined;
      });
    },
  },
  {
    id: 'pss-restricted/volume-types',
    severity: 'fail',
    title:
      'Pod Security Standards restricted: only configMap, csi, downwardAPI, emptyDir, ephemeral, PVC, projected, secret volumes',
    check(objects) {
      const findings: Finding[] = [];
      for (const pod of podTemplates(objects)) {
        for (const volume of pod.spec.volumes ?? []) {
          const types = Object.keys(volume).filter((key) => key !== 'name');
          const bad = types.filter((type) => !RESTRICTED_VOLUME_TYPES.has(type));
          if (bad.length > 0) {
            findings.push({
              rule: this.id,
              object: pod.ref,
              message: `volume ${volume.name} is of type ${bad.join(', ')}`,
            });
          }
        }
      }
      return findings;
    },
  },
  {
    id: 'pss-baseline/host-namespaces',
    severity: 'fail',
    title: 'Pod Security Standards baseline: no hostNetwork, hostPID, hostIPC or hostPort',
    check(objects) {
      const findings: Finding[] = [];
      for (const pod of podTemplates(objects)) {
        for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
          if (pod.spec[field] === true)
            findings.push({ rule: this.id, object: pod.ref, message: `${field} is true` });
        }
        for (const container of allContainers(pod.spec)) {
          if ((container.ports ?? []).some((port) => port.hostPort !== undefined && port.hostPort !== 0)) {
            findings.push({
              rule: this.id,
              object: pod.ref,
              message: `container ${container.name} uses a hostPort`,
            });
          }
        }
      }
      return findings;
    },
  },
  {
    id: 'pss-baseline/privileged',
    severity: 'fail',
    title: 'Pod Security Standards baseline (kube-linter privileged-container): no privileged containers',
    check(objects) {
      return perContainer(objects, this.id, (container) =>
        container.securityContext?.privileged === true ? 'privileged is true' : undefined,
      );
    },
  },
  {
    id: 'pss-baseline/sysctls',
    severity: 'fail',
    title: 'Pod Security Standards baseline: only the safe, namespaced sysctls',
    check(objects) {
      const findings: Finding[] = [];
      for (const pod of podTemplates(objects)) {
        for (const sysctl of pod.spec.securityContext?.sysctls ?? []) {
          if (!SAFE_SYSCTLS.has(sysctl.name)) {
            findings.push({
              rule: this.id,
              object: pod.ref,
              message: `sysctl ${sysctl.name} is not in the safe set`,
            });
          }
        }
      }
      return findings;
    },
  },
  {
    id: 'kube-linter/no-read-only-root-fs',
    severity: 'fail',
    title: 'kube-linter no-read-only-root-fs (kube-score container-security-context-readonlyrootfilesystem)',
    check(objects) {
      return perContainer(objects, this.id, (container) =>
        container.securityContext?.readOnlyRootFilesystem === true
          ? undefined
          : 'readOnlyRootFilesystem is not true',
      );
    },
  },
  {
    id: 'kube-score/container-resources',
    severity: 'fail',
    title: 'kube-score container-resources (kube-linter unset-cpu-requirements, unset-memory-requirements)',
    check(objects) {
      return perContainer(objects, this.id, (container) => {
        const missing = [
          ['requests', 'cpu'],
          ['requests', 'memory'],
          ['limits', 'cpu'],
          ['limits', 'memory'],
        ].filter(([kind, resource]) => get(container.resources, kind!, resource!) === undefined);
        return missing.length > 0 ? `no ${missing.map((pair) => pair.join('.')).join(', ')}` : undefined;
      });
    },
  },
  {
    id: 'kube-score/container-image-tag',
    severity: 'fail',
    title:
      'kube-score container-image-tag (kube-linter latest-tag): images pinned to a tag or digest, never latest',
    check(objects) {
      return perContainer(objects, this.id, (container) => {
        const image = container.image ?? '';
        if (image.includes('@sha256:')) return undefined;
        const tag = /:([^/:]+)$/.exec(image)?.[1];
        if (!tag) return `image ${image} has no tag`;
        return tag === 'latest' ? `image ${image} uses latest` : undefined;
      });
    },
  },
  {
    id: 'kube-score/pod-probes',
    severity: 'fail',
    title:
      'kube-score pod-probes (kube-linter no-liveness-probe, no-readiness-probe): long-running containers have startup and liveness probes, served ones a different readiness probe, and liveness never depends on the database',
    check(objects) {
      const findings: Finding[] = [];
      const services = objects.filter((object) => object.kind === 'Service');
      for (const pod of podTemplates(objects).filter((candidate) => candidate.longRunning)) {
        const served = services.some((service) =>
          matches(get(service, 'spec', 'selector') as Record<string, string> | undefined, pod.labels),
        );
        for (const container of pod.spec.containers) {
          const say = (message: string) =>
            findings.push({
              rule: this.id,
              object: pod.ref,
              message: `container ${container.name}: ${message}`,
            });
          if (!container.livenessProbe) say('no liveness probe');
          if (!container.startupProbe) say('no startup probe');
          if (served && !container.readinessProbe) say('no readiness probe, yet a Service sends it traffic');
          if (
            container.livenessProbe &&
            container.readinessProbe &&
            probeKey(container.livenessProbe) === probeKey(container.readinessProbe)
          ) {
            say('liveness and readiness probes are identical');
          }
          const path = container.livenessProbe?.httpGet?.path;
          if (path && DEPENDENT_HEALTH_PATHS.has(path.replace(/\/$/, ''))) {
            say(`liveness probe ${path} depends on the database; use /health/server or a TCP check`);
          }
        }
      }
      return findings;
    },
  },
  {
    id: 'nsa-cisa/default-deny-network-policy',
    severity: 'fail',
    title: 'NSA/CISA Kubernetes Hardening Guidance: a default-deny NetworkPolicy for ingress and egress',
    check(objects) {
      const found = objects.some(
        (object) =>
          object.kind === 'NetworkPolicy' &&
          Object.keys((get(object, 'spec', 'podSelector') as object | undefined) ?? { x: 1 }).length === 0 &&
          ['Ingress', 'Egress'].every((type) =>
            ((get(object, 'spec', 'policyTypes') as string[]) ?? []).includes(type),
          ) &&
          get(object, 'spec', 'ingress') === undefined &&
          get(object, 'spec', 'egress') === undefined,
      );
      const hasPods = podTemplates(objects).length > 0;
      return found || !hasPods
        ? []
        : [
            {
              rule: this.id,
              object: 'NetworkPolicy/*',
              message: 'no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)',
            },
          ];
    },
  },
  {
    id: 'kube-linter/non-isolated-pod',
    severity: 'fail',
    title:
      'kube-linter non-isolated-pod (kube-score pod-networkpolicy): every pod has a NetworkPolicy for ingress and for egress',
    check(objects) {
      const policies = objects.filter((object) => object.kind === 'NetworkPolicy');
      const findings: Finding[] = [];
      for (const pod of podTemplates(objects)) {
        for (const type of ['Ingress', 'Egress']) {
          const covered = policies.some(
            (policy) =>
              ((get(policy, 'spec', 'policyTypes') as string[]) ?? []).includes(type) &&
              selects(get(policy, 'spec', 'podSelector'), pod.labels),
          );
          if (!covered)
            findings.push({
              rule: this.id,
              object: pod.ref,
              message: `no NetworkPolicy isolates its ${type.toLowerCase()}`,
            });
        }
      }
      return findings;
    },
  },
  {
    id: 'kube-score/deployment-has-poddisruptionbudget',
    severity: 'fail',
    title: 'kube-score deployment-has-poddisruptionbudget (and statefulset-has-poddisruptionbudget)',
    check(objects) {
      const budgets = objects.filter((object) => object.kind === 'PodDisruptionBudget');
      return podTemplates(objects)
        .filter((pod) => pod.object.kind === 'Deployment' || pod.object.kind === 'StatefulSet')
        .filter((pod) => !budgets.some((pdb) => selects(get(pdb, 'spec', 'selector'), pod.labels)))
        .map((pod) => ({
          rule: this.id,
          object: pod.ref,
          message: 'no PodDisruptionBudget selects its pods',
        }));
    },
  },
  {
    id: 'kube-linter/default-service-account',
    severity: 'fail',
    title:
      'kube-linter default-service-account and non-existent-service-account: a dedicated ServiceAccount, rendered here',
    check(objects) {
      const accounts = new Set(
        objects.filter((object) => object.kind === 'ServiceAccount').map((object) => object.metadata.name),
      );
      const findings: Finding[] = [];
      for (const pod of podTemplates(objects)) {
        const name = pod.spec.serviceAccountName;
        if (!name || name === 'default') {
          findings.push({ rule: this.id, object: pod.ref, message: 'runs as the default ServiceAccount' });
        } else if (!accounts.has(name)) {
          findings.push({
            rule: this.id,
            object: pod.ref,
            message: `ServiceAccount ${name} is not rendered`,
          });
        }
      }
      return findings;
    },
  },
  {
    id: 'tier4/dedicated-service-account',
    severity: 'fail',
    title: 'tier4: each workload has its own ServiceAccount, so a grant to one never reaches another',
    check(objects) {
      const users = new Map<string, string[]>();
      for (const pod of podTemplates(objects)) {
        const name = pod.spec.serviceAccountName;
        if (name) users.set(name, [...(users.get(name) ?? []), pod.ref]);
      }
      return [...users.entries()]
        .filter(([, refs]) => refs.length > 1)
        .map(([name, refs]) => ({
          rule: this.id,
          object: `ServiceAccount/${name}`,
          message: `shared by ${refs.join(', ')}`,
        }));
    },
  },
  {
    id: 'cis-5.1.6/automount-service-account-token',
    severity: 'fail',
    title:
      'CIS Kubernetes Benchmark 5.1.6: service account tokens are mounted only where needed (nowhere here)',
    check(objects) {
      const findings: Finding[] = [];
      for (const pod of podTemplates(objects)) {
        if (pod.spec.automountServiceAccountToken !== false) {
          findings.push({
            rule: this.id,
            object: pod.ref,
            message: 'automountServiceAccountToken is not false',
          });
        }
      }
      for (const account of objects.filter((object) => object.kind === 'ServiceAccount')) {
        if (get(account, 'automountServiceAccountToken') !== false) {
          findings.push({
            rule: this.id,
            object: ref(account),
            message: 'automountServiceAccountToken is not false',
          });
        }
      }
      return findings;
    },
  },
  {
    id: 'kube-linter/env-var-secret',
    severity: 'fail',
    title: 'kube-linter env-var-secret: no secret-looking value written literally in an env var or ConfigMap',
    check(objects) {
      const findings: Finding[] = perContainer(objects, this.id, (container) => {
        const literal = (container.env ?? []).filter(
          (env) => env.value !== undefined && looksSecret(env.name),
        );
        return literal.length > 0
          ? `literal value for ${literal.map((env) => env.name).join(', ')}`
          : undefined;
      });
      for (const map of objects.filter((object) => object.kind === 'ConfigMap')) {
        const keys = Object.keys((get(map, 'data') as Record<string, string> | undefined) ?? {}).filter(
          looksSecret,
        );
        if (keys.length > 0)
          findings.push({ rule: this.id, object: ref(map), message: `holds ${keys.join(', ')}` });
      }
      return findings;
    },
  },
  {
    id: 'kube-score/cronjob-has-deadline',
    severity: 'fail',
    title: 'kube-score cronjob-has-deadline: startingDeadlineSeconds is set',
    check(objects) {
      return objects
        .filter(
          (object) =>
            object.kind === 'CronJob' && get(object, 'spec', 'startingDeadlineSeconds') === undefined,
        )
        .map((object) => ({ rule: this.id, object: ref(object), message: 'no startingDeadlineSeconds' }));
    },
  },
  {
    id: 'tier4/cronjob-bounded',
    severity: 'fail',
    title:
      'tier4: ops CronJobs never overlap (Forbid), retry a bounded number of times, time out and clean up',
    check(objects) {
      const findings: Finding[] = [];
      for (const cron of objects.filter((object) => object.kind === 'CronJob')) {
        const say = (message: string) => findings.push({ rule: this.id, object: ref(cron), message });
        if (get(cron, 'spec', 'concurrencyPolicy') !== 'Forbid') say('concurrencyPolicy is not Forbid');
        const job = get(cron, 'spec', 'jobTemplate', 'spec');
        if (get(job, 'backoffLimit') === undefined) say('no backoffLimit');
        if (get(job, 'ttlSecondsAfterFinished') === undefined) say('no ttlSecondsAfterFinished');
        if (get(job, 'activeDeadlineSeconds') === undefined) say('no activeDeadlineSeconds');
      }
      return findings;
    },
  },
  {
    id: 'tier4/age-identity-drill-only',
    severity: 'fail',
    title:
      'tier4: the age identity (it decrypts every backup) reaches the restore-drill job and nothing else',
    check(objects, context) {
      const secret = context.drillIdentitySecret;
      if (!secret) return [];
      const findings: Finding[] = [];
      for (const pod of podTemplates(objects)) {
        if (pod.object.kind === 'CronJob' && pod.object.metadata.name === 'tier4-drill') continue;
        if (JSON.stringify(pod.spec).includes(`"${secret}"`)) {
          findings.push({
            rule: this.id,
            object: pod.ref,
            message: `uses the age identity Secret ${secret}`,
          });
        }
      }
      return findings;
    },
  },
  {
    id: 'kube-linter/dangling-service',
    severity: 'fail',
    title: 'kube-linter dangling-service: every Service selects some rendered pod',
    check(objects) {
      const pods = podTemplates(objects);
      return objects
        .filter((object) => object.kind === 'Service')
        .filter((service) => {
          const selector = get(service, 'spec', 'selector') as Record<string, string> | undefined;
          return !pods.some((pod) => matches(selector, pod.labels));
        })
        .map((service) => ({ rule: this.id, object: ref(service), message: 'selects no rendered pod' }));
    },
  },
  {
    id: 'tier4/migration-before-rollout',
    severity: 'fail',
    title: 'tier4: a primero-migrate Job exists, and every Rails pod waits for the schema before it starts',
    check(objects) {
      const findings: Finding[] = [];
      const rails = podTemplates(objects).filter(
        (pod) =>
          pod.longRunning &&
          pod.spec.containers.some((container) => /\/(application|worker):/.test(container.image ?? '')),
      );
      if (rails.length === 0) return [];
      const job = objects.find(
        (object) => object.kind === 'Job' && object.metadata.name.startsWith('primero-migrate'),
      );
      if (!job)
        findings.push({
          rule: this.id,
          object: 'Job/primero-migrate',
          message: 'no migration Job is rendered',
        });
      for (const pod of rails) {
        if (!(pod.spec.initContainers ?? []).some((container) => container.name === 'wait-for-migrations')) {
          findings.push({ rule: this.id, object: pod.ref, message: 'no wait-for-migrations init container' });
        }
      }
      return findings;
    },
  },
];

/** Runs every rule; an empty list means the manifests pass. */
export function checkPolicies(objects: KubeObject[], context: PolicyContext = {}): Finding[] {
  return POLICY_RULES.flatMap((rule) => rule.check(objects, context));
}
