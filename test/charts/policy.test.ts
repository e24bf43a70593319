import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { KubeObject } from '../../charts/primero/common.js';
import { checkPolicies, POLICY_RULES, type PolicyContext } from '../../charts/primero/policy.js';
import { checkSchemas, SCHEMA_RULE, UNKNOWN_FIELD_RULE } from '../../charts/primero/schema-check.js';
import { loadConfig } from '../../core/config/load.js';
import { planLoadedSite } from '../../stacks/production/render.js';
import { REPO_ROOT } from '../support/cli.js';

// biome-ignore lint/suspicious/noExplicitAny: tests inspect and mutate manifests freely
type Any = any;

/**
 * Each rule is proved to bite on every branch that can make it fail: take the production site's rendered
 * manifests (which pass), change one hardening setting, and the findings must be exactly the ones listed (the
 * rule named after the check it mirrors, on the object changed, saying what is wrong). Entries with no
 * findings are boundaries a rule must accept.
 */

const CONTEXT: PolicyContext = { drillIdentitySecret: 'tier4-drill-identity' };
let baseline: KubeObject[];

beforeAll(() => {
  const loaded = loadConfig(join(REPO_ROOT, 'examples', 'tier4.example.yaml'));
  baseline = planLoadedSite(loaded, 'production').manifests.map((manifest) => manifest.object);
});

function find(objects: KubeObject[], kind: string, name: string): Any {
  const object = objects.find((candidate) => candidate.kind === kind && candidate.metadata.name === name);
  if (!object) throw new Error(`no ${kind}/${name}`);
  return object;
}

function podSpec(object: Any): Any {
  return object.kind === 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec;
}

function mainContainer(objects: KubeObject[], kind: string, name: string): Any {
  return podSpec(find(objects, kind, name)).containers[0];
}

function without(objects: KubeObject[], kind: string, name: string): KubeObject[] {
  return objects.filter((object) => !(object.kind === kind && object.metadata.name === name));
}

interface Mutation {
  rule: string;
  what: string;
  /** Changes the objects in place, or returns a new list. */
  mutate(objects: KubeObject[]): unknown;
  /** Exactly what the rule then reports, as [object, message]; [] for a boundary the rule must accept. */
  findings: Array<[string, string]>;
  /** Findings of other rules the same change must also produce, as [rule, object, message]. */
  alsoFails?: Array<[string, string, string]>;
}

const DEFAULT_DENY_MISSING: [string, string] = [
  'NetworkPolicy/*',
  'no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)',
];

const MUTATIONS: Mutation[] = [
  {
    rule: 'pss-admission/namespace-enforce-restricted',
    what: 'namespace enforces baseline only',
    findings: [['Namespace/primero', 'label pod-security.kubernetes.io/enforce must be "restricted"']],
    mutate: (o) => {
      find(o, 'Namespace', 'primero').metadata.labels['pod-security.kubernetes.io/enforce'] = 'baseline';
    },
  },
  {
    rule: 'pss-restricted/run-as-non-root',
    what: 'runAsNonRoot removed from the application pod and container',
    findings: [['Deployment/primero-application', 'container application: runAsNonRoot is not true']],
    mutate: (o) => {
      const spec = podSpec(find(o, 'Deployment', 'primero-application'));
      delete spec.securityContext.runAsNonRoot;
      delete spec.containers[0].securityContext.runAsNonRoot;
    },
  },
  {
    rule: 'pss-restricted/run-as-user',
    what: 'the worker runs as uid 0',
    findings: [['Deployment/primero-worker', 'container worker: runAsUser is 0 (root)']],
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-worker').securityContext.runAsUser = 0;
    },
  },
  {
    rule: 'pss-restricted/seccomp-profile',
    what: 'nginx is Unconfined',
    findings: [['Deployment/primero-nginx', 'container nginx: seccompProfile is not RuntimeDefault']],
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-nginx').securityContext.seccompProfile = { type: 'Unconfined' };
    },
  },
  {
    rule: 'pss-restricted/allow-privilege-escalation',
    what: 'the migration Job may escalate',
    findings: [['Job/primero-migrate-v2-15-2', 'container migrate: allowPrivilegeEscalation is not false']],
    mutate: (o) => {
      mainContainer(o, 'Job', 'primero-migrate-v2-15-2').securityContext.allowPrivilegeEscalation = true;
    },
  },
  {
    rule: 'pss-restricted/capabilities',
    what: 'nginx adds SYS_ADMIN',
    findings: [['Deployment/primero-nginx', 'container nginx: adds capabilities SYS_ADMIN']],
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-nginx').securityContext.capabilities.add = ['SYS_ADMIN'];
    },
  },
  {
    rule: 'pss-restricted/capabilities',
    what: 'the backup job no longer drops ALL',
    findings: [['CronJob/tier4-backup', 'container backup: capabilities do not drop ALL']],
    mutate: (o) => {
      mainContainer(o, 'CronJob', 'tier4-backup').securityContext.capabilities = {};
    },
  },
  {
    rule: 'pss-restricted/volume-types',
    what: 'a hostPath volume on the worker',
    findings: [['Deployment/primero-worker', 'volume host is of type hostPath']],
    mutate: (o) => {
      podSpec(find(o, 'Deployment', 'primero-worker')).volumes.push({
        name: 'host',
        hostPath: { path: '/' },
      });
    },
  },
  {
    rule: 'pss-baseline/host-namespaces',
    what: 'nginx on the host network',
    findings: [['Deployment/primero-nginx', 'hostNetwork is true']],
    mutate: (o) => {
      podSpec(find(o, 'Deployment', 'primero-nginx')).hostNetwork = true;
    },
  },
  {
    rule: 'pss-baseline/privileged',
    what: 'a privileged doctor',
    findings: [['CronJob/tier4-doctor', 'container doctor: privileged is true']],
    mutate: (o) => {
      mainContainer(o, 'CronJob', 'tier4-doctor').securityContext.privileged = true;
    },
  },
  {
    rule: 'pss-baseline/sysctls',
    what: 'an unsafe sysctl on nginx',
    findings: [['Deployment/primero-nginx', 'sysctl net.core.somaxconn is not in the safe set']],
    mutate: (o) => {
      podSpec(find(o, 'Deployment', 'primero-nginx')).securityContext.sysctls.push({
        name: 'net.core.somaxconn',
        value: '4096',
      });
    },
  },
  {
    rule: 'kube-linter/no-read-only-root-fs',
    what: 'a writable root filesystem for the application',
    findings: [
      ['Deployment/primero-application', 'container application: readOnlyRootFilesystem is not true'],
    ],
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-application').securityContext.readOnlyRootFilesystem = false;
    },
  },
  {
    rule: 'kube-score/container-resources',
    what: 'no memory limit on the worker',
    findings: [['Deployment/primero-worker', 'container worker: no limits.memory']],
    mutate: (o) => {
      delete mainContainer(o, 'Deployment', 'primero-worker').resources.limits.memory;
    },
  },
  {
    rule: 'kube-score/container-image-tag',
    what: 'nginx on latest',
    findings: [['Deployment/primero-nginx', 'container nginx: image primeroims/nginx:latest uses latest']],
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-nginx').image = 'primeroims/nginx:latest';
    },
  },
  {
    rule: 'kube-score/container-image-tag',
    what: 'an untagged ops image',
    findings: [['CronJob/tier4-backup', 'container backup: image ghcr.io/primero-tier4/tier4 has no tag']],
    mutate: (o) => {
      mainContainer(o, 'CronJob', 'tier4-backup').image = 'ghcr.io/primero-tier4/tier4';
    },
  },
  {
    rule: 'kube-score/pod-probes',
    what: 'liveness on /health, which depends on the database',
    findings: [
      [
        'Deployment/primero-application',
        'container application: liveness and readiness probes are identical',
      ],
      [
        'Deployment/primero-application',
        'container application: liveness probe /health depends on the database; use /health/server or a TCP check',
      ],
    ],
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-application').livenessProbe.httpGet.path = '/health';
    },
  },
  {
    rule: 'kube-score/pod-probes',
    what: 'no readiness probe on nginx, which a Service targets',
    findings: [
      ['Deployment/primero-nginx', 'container nginx: no readiness probe, yet a Service sends it traffic'],
    ],
    mutate: (o) => {
      delete mainContainer(o, 'Deployment', 'primero-nginx').readinessProbe;
    },
  },
  {
    rule: 'kube-score/pod-probes',
    what: 'no liveness probe on the worker',
    findings: [['Deployment/primero-worker', 'container worker: no liveness probe']],
    mutate: (o) => {
      delete mainContainer(o, 'Deployment', 'primero-worker').livenessProbe;
    },
  },
  {
    rule: 'kube-score/pod-probes',
    what: 'no startup probe on the application',
    findings: [['Deployment/primero-application', 'container application: no startup probe']],
    mutate: (o) => {
      delete mainContainer(o, 'Deployment', 'primero-application').startupProbe;
    },
  },
  {
    rule: 'kube-score/pod-probes',
    what: 'identical liveness and readiness',
    findings: [
      [
        'Deployment/primero-application',
        'container application: liveness and readiness probes are identical',
      ],
    ],
    mutate: (o) => {
      const container = mainContainer(o, 'Deployment', 'primero-application');
      container.readinessProbe = structuredClone(container.livenessProbe);
    },
  },
  {
    rule: 'nsa-cisa/default-deny-network-policy',
    what: 'default deny removed',
    findings: [DEFAULT_DENY_MISSING],
    mutate: (o) => without(o, 'NetworkPolicy', 'default-deny'),
  },
  {
    rule: 'nsa-cisa/default-deny-network-policy',
    what: 'default deny that allows all ingress',
    findings: [DEFAULT_DENY_MISSING],
    mutate: (o) => {
      find(o, 'NetworkPolicy', 'default-deny').spec.ingress = [{}];
    },
  },
  {
    rule: 'kube-linter/non-isolated-pod',
    what: 'nginx with neither the default deny nor its own policy',
    findings: [['Deployment/primero-nginx', 'no NetworkPolicy isolates its ingress']],
    alsoFails: [['nsa-cisa/default-deny-network-policy', ...DEFAULT_DENY_MISSING]],
    mutate: (o) => without(without(o, 'NetworkPolicy', 'default-deny'), 'NetworkPolicy', 'primero-nginx'),
  },
  {
    rule: 'kube-score/deployment-has-poddisruptionbudget',
    what: 'no PDB for nginx',
    findings: [['Deployment/primero-nginx', 'no PodDisruptionBudget selects its pods']],
    mutate: (o) => without(o, 'PodDisruptionBudget', 'primero-nginx'),
  },
  {
    rule: 'kube-linter/default-service-account',
    what: 'the worker on the default ServiceAccount',
    findings: [['Deployment/primero-worker', 'runs as the default ServiceAccount']],
    mutate: (o) => {
      delete podSpec(find(o, 'Deployment', 'primero-worker')).serviceAccountName;
    },
  },
  {
    rule: 'kube-linter/default-service-account',
    what: 'a ServiceAccount that is not rendered',
    findings: [['Deployment/primero-nginx', 'ServiceAccount primero-nginx is not rendered']],
    mutate: (o) => without(o, 'ServiceAccount', 'primero-nginx'),
  },
  {
    rule: 'tier4/dedicated-service-account',
    what: "the worker borrows the application's ServiceAccount",
    findings: [
      [
        'ServiceAccount/primero-application',
        'shared by Deployment/primero-application, Deployment/primero-worker',
      ],
    ],
    mutate: (o) => {
      podSpec(find(o, 'Deployment', 'primero-worker')).serviceAccountName = 'primero-application';
    },
  },
  {
    rule: 'cis-5.1.6/automount-service-account-token',
    what: 'the application pod mounts a token',
    findings: [['Deployment/primero-application', 'automountServiceAccountToken is not false']],
    mutate: (o) => {
      podSpec(find(o, 'Deployment', 'primero-application')).automountServiceAccountToken = true;
    },
  },
  {
    rule: 'cis-5.1.6/automount-service-account-token',
    what: 'a ServiceAccount that automounts',
    findings: [['ServiceAccount/tier4-doctor', 'automountServiceAccountToken is not false']],
    mutate: (o) => {
      delete find(o, 'ServiceAccount', 'tier4-doctor').automountServiceAccountToken;
    },
  },
  {
    rule: 'kube-linter/env-var-secret',
    what: 'a literal database password',
    findings: [['Deployment/primero-worker', 'container worker: literal value for POSTGRES_PASSWORD']],
    mutate: (o) => {
      const container = mainContainer(o, 'Deployment', 'primero-worker');
      container.env = container.env.filter((env: { name: string }) => env.name !== 'POSTGRES_PASSWORD');
      container.env.push({ name: 'POSTGRES_PASSWORD', value: 'not-a-real-one' });
    },
  },
  {
    rule: 'kube-linter/env-var-secret',
    what: 'a secret key in the ConfigMap',
    findings: [['ConfigMap/primero-config', 'holds DEVISE_SECRET_KEY']],
    mutate: (o) => {
      find(o, 'ConfigMap', 'primero-config').data.DEVISE_SECRET_KEY = 'x';
    },
  },
  {
    rule: 'kube-score/cronjob-has-deadline',
    what: 'no startingDeadlineSeconds on the backup',
    findings: [['CronJob/tier4-backup', 'no startingDeadlineSeconds']],
    mutate: (o) => {
      delete find(o, 'CronJob', 'tier4-backup').spec.startingDeadlineSeconds;
    },
  },
  {
    rule: 'tier4/cronjob-bounded',
    what: 'backups may overlap',
    findings: [['CronJob/tier4-backup', 'concurrencyPolicy is not Forbid']],
    mutate: (o) => {
      find(o, 'CronJob', 'tier4-backup').spec.concurrencyPolicy = 'Allow';
    },
  },
  {
    rule: 'tier4/cronjob-bounded',
    what: 'finished drill jobs are never cleaned up',
    findings: [['CronJob/tier4-drill', 'no ttlSecondsAfterFinished']],
    mutate: (o) => {
      delete find(o, 'CronJob', 'tier4-drill').spec.jobTemplate.spec.ttlSecondsAfterFinished;
    },
  },
  {
    rule: 'tier4/cronjob-bounded',
    what: 'the doctor retries without bound',
    findings: [['CronJob/tier4-doctor', 'no backoffLimit']],
    mutate: (o) => {
      delete find(o, 'CronJob', 'tier4-doctor').spec.jobTemplate.spec.backoffLimit;
    },
  },
  {
    rule: 'tier4/age-identity-drill-only',
    what: 'the age identity mounted into the backup job',
    findings: [['CronJob/tier4-backup', 'uses the age identity Secret tier4-drill-identity']],
    mutate: (o) => {
      podSpec(find(o, 'CronJob', 'tier4-backup')).volumes.push({
        name: 'identity',
        secret: { secretName: 'tier4-drill-identity' },
      });
    },
  },
  {
    rule: 'kube-linter/dangling-service',
    what: 'a Service selecting nothing',
    findings: [['Service/primero-application', 'selects no rendered pod']],
    mutate: (o) => {
      find(o, 'Service', 'primero-application').spec.selector['app.kubernetes.io/component'] = 'app';
    },
  },
  {
    rule: 'tier4/migration-before-rollout',
    what: 'no migration Job',
    findings: [['Job/primero-migrate', 'no migration Job is rendered']],
    mutate: (o) => without(o, 'Job', 'primero-migrate-v2-15-2'),
  },
  {
    rule: 'tier4/migration-before-rollout',
    what: 'the application no longer waits for migrations',
    findings: [['Deployment/primero-application', 'no wait-for-migrations init container']],
    mutate: (o) => {
      const spec = podSpec(find(o, 'Deployment', 'primero-application'));
      spec.initContainers = spec.initContainers.filter(
        (c: { name: string }) => c.name !== 'wait-for-migrations',
      );
    },
  },
  // ---- every further branch that can make a rule fail (and boundaries a rule must accept: findings [])
  {
    rule: 'pss-admission/namespace-enforce-restricted',
    what: 'namespace without the enforce label',
    findings: [['Namespace/primero', 'label pod-security.kubernetes.io/enforce must be "restricted"']],
    mutate: (o) => {
      delete find(o, 'Namespace', 'primero').metadata.labels['pod-security.kubernetes.io/enforce'];
    },
  },
  {
    rule: 'pss-restricted/run-as-non-root',
    what: 'the container says false although the pod says true',
    findings: [['Deployment/primero-worker', 'container worker: runAsNonRoot is not true']],
    mutate: (o) => {
      const spec = podSpec(find(o, 'Deployment', 'primero-worker'));
      spec.securityContext.runAsNonRoot = true;
      spec.containers[0].securityContext.runAsNonRoot = false;
    },
  },
  {
    rule: 'pss-restricted/run-as-non-root',
    what: 'the container inherits false from the pod',
    findings: [['CronJob/tier4-doctor', 'container doctor: runAsNonRoot is not true']],
    mutate: (o) => {
      const spec = podSpec(find(o, 'CronJob', 'tier4-doctor'));
      spec.securityContext.runAsNonRoot = false;
      delete spec.containers[0].securityContext.runAsNonRoot;
    },
  },
  {
    rule: 'pss-restricted/run-as-user',
    what: 'no uid on the nginx pod nor its container',
    findings: [
      [
        'Deployment/primero-nginx',
        'container nginx: runAsUser is not set (the kubelet cannot verify a named image user)',
      ],
    ],
    mutate: (o) => {
      const spec = podSpec(find(o, 'Deployment', 'primero-nginx'));
      delete spec.securityContext.runAsUser;
      for (const c of spec.containers) delete c.securityContext.runAsUser;
    },
  },
  {
    rule: 'pss-restricted/run-as-user',
    what: 'the container inherits uid 0 from the pod',
    findings: [['CronJob/tier4-backup', 'container backup: runAsUser is 0 (root)']],
    mutate: (o) => {
      const spec = podSpec(find(o, 'CronJob', 'tier4-backup'));
      spec.securityContext.runAsUser = 0;
      delete spec.containers[0].securityContext.runAsUser;
    },
  },
  {
    rule: 'pss-restricted/seccomp-profile',
    what: 'no seccompProfile on the worker pod nor its containers',
    findings: [
      ['Deployment/primero-worker', 'container copy-config: seccompProfile is not RuntimeDefault'],
      ['Deployment/primero-worker', 'container wait-for-migrations: seccompProfile is not RuntimeDefault'],
      ['Deployment/primero-worker', 'container worker: seccompProfile is not RuntimeDefault'],
    ],
    mutate: (o) => {
      const spec = podSpec(find(o, 'Deployment', 'primero-worker'));
      delete spec.securityContext.seccompProfile;
      for (const c of [...spec.initContainers, ...spec.containers]) delete c.securityContext.seccompProfile;
    },
  },
  {
    rule: 'pss-restricted/seccomp-profile',
    what: 'Localhost is accepted',
    findings: [],
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-nginx').securityContext.seccompProfile = {
        type: 'Localhost',
        localhostProfile: 'profiles/nginx.json',
      };
    },
  },
  {
    rule: 'pss-restricted/allow-privilege-escalation',
    what: 'allowPrivilegeEscalation left unset on the drill',
    findings: [['CronJob/tier4-drill', 'container drill: allowPrivilegeEscalation is not false']],
    mutate: (o) => {
      delete mainContainer(o, 'CronJob', 'tier4-drill').securityContext.allowPrivilegeEscalation;
    },
  },
  {
    rule: 'pss-restricted/capabilities',
    what: 'nginx drops NET_RAW instead of ALL',
    findings: [['Deployment/primero-nginx', 'container nginx: capabilities do not drop ALL']],
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-nginx').securityContext.capabilities = { drop: ['NET_RAW'] };
    },
  },
  {
    rule: 'pss-restricted/capabilities',
    what: 'adding NET_BIND_SERVICE is accepted',
    findings: [],
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-nginx').securityContext.capabilities.add = ['NET_BIND_SERVICE'];
    },
  },
  {
    rule: 'pss-restricted/volume-types',
    what: 'an nfs volume on the backup job',
    findings: [['CronJob/tier4-backup', 'volume share is of type nfs']],
    mutate: (o) => {
      podSpec(find(o, 'CronJob', 'tier4-backup')).volumes.push({
        name: 'share',
        nfs: { server: 'nas', path: '/backups' },
      });
    },
  },
  {
    rule: 'pss-baseline/host-namespaces',
    what: 'the worker shares the host PID and IPC namespaces',
    findings: [
      ['Deployment/primero-worker', 'hostPID is true'],
      ['Deployment/primero-worker', 'hostIPC is true'],
    ],
    mutate: (o) => {
      const spec = podSpec(find(o, 'Deployment', 'primero-worker'));
      spec.hostPID = true;
      spec.hostIPC = true;
    },
  },
  {
    rule: 'pss-baseline/host-namespaces',
    what: 'a hostPort on an init container',
    findings: [['Deployment/primero-application', 'container copy-config uses a hostPort']],
    mutate: (o) => {
      podSpec(find(o, 'Deployment', 'primero-application')).initContainers[0].ports = [
        { containerPort: 8080, hostPort: 8080 },
      ];
    },
  },
  {
    rule: 'pss-baseline/host-namespaces',
    what: 'hostPort 0 is accepted',
    findings: [],
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-nginx').ports[0].hostPort = 0;
    },
  },
  {
    rule: 'pss-baseline/privileged',
    what: 'a privileged init container',
    findings: [['Deployment/primero-worker', 'container copy-config: privileged is true']],
    mutate: (o) => {
      podSpec(find(o, 'Deployment', 'primero-worker')).initContainers[0].securityContext.privileged = true;
    },
  },
  {
    rule: 'kube-linter/no-read-only-root-fs',
    what: 'readOnlyRootFilesystem left unset on the doctor',
    findings: [['CronJob/tier4-doctor', 'container doctor: readOnlyRootFilesystem is not true']],
    mutate: (o) => {
      delete mainContainer(o, 'CronJob', 'tier4-doctor').securityContext.readOnlyRootFilesystem;
    },
  },
  ...(['requests.cpu', 'requests.memory', 'limits.cpu'] as const).map(
    (which): Mutation => ({
      rule: 'kube-score/container-resources',
      what: `no ${which} on nginx`,
      findings: [['Deployment/primero-nginx', `container nginx: no ${which}`]],
      mutate: (o) => {
        const [kind, resource] = which.split('.') as [string, string];
        delete mainContainer(o, 'Deployment', 'primero-nginx').resources[kind][resource];
      },
    }),
  ),
  {
    rule: 'kube-score/container-resources',
    what: 'no resources at all on the exporter',
    findings: [
      [
        'Deployment/tier4-exporter',
        'container exporter: no requests.cpu, requests.memory, limits.cpu, limits.memory',
      ],
    ],
    mutate: (o) => {
      delete mainContainer(o, 'Deployment', 'tier4-exporter').resources;
    },
  },
  {
    rule: 'kube-score/container-image-tag',
    what: 'a registry with a port and no tag',
    findings: [['CronJob/tier4-drill', 'container drill: image registry.example:5000/tier4 has no tag']],
    mutate: (o) => {
      mainContainer(o, 'CronJob', 'tier4-drill').image = 'registry.example:5000/tier4';
    },
  },
  {
    rule: 'kube-score/container-image-tag',
    what: 'an image pinned by digest is accepted',
    findings: [],
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-nginx').image = `primeroims/nginx@sha256:${'a'.repeat(64)}`;
    },
  },
  ...['/health/database/', '/health/api', '/health/solr'].map(
    (path): Mutation => ({
      rule: 'kube-score/pod-probes',
      what: `liveness on ${path}`,
      findings: [
        [
          'Deployment/primero-application',
          `container application: liveness probe ${path} depends on the database; use /health/server or a TCP check`,
        ],
      ],
      mutate: (o) => {
        mainContainer(o, 'Deployment', 'primero-application').livenessProbe.httpGet.path = path;
      },
    }),
  ),
  {
    rule: 'kube-score/pod-probes',
    what: 'no readiness probe on the worker, which no Service targets, is accepted',
    findings: [],
    mutate: (o) => {
      delete mainContainer(o, 'Deployment', 'primero-worker').readinessProbe;
    },
  },
  {
    rule: 'nsa-cisa/default-deny-network-policy',
    what: 'default deny that allows all egress',
    findings: [DEFAULT_DENY_MISSING],
    mutate: (o) => {
      find(o, 'NetworkPolicy', 'default-deny').spec.egress = [{}];
    },
  },
  {
    rule: 'nsa-cisa/default-deny-network-policy',
    what: 'default deny for the application pods only',
    findings: [DEFAULT_DENY_MISSING],
    mutate: (o) => {
      const policy = find(o, 'NetworkPolicy', 'default-deny');
      policy.spec.podSelector = structuredClone(
        find(o, 'NetworkPolicy', 'primero-application').spec.podSelector,
      );
    },
  },
  ...['Ingress', 'Egress'].map(
    (type): Mutation => ({
      rule: 'nsa-cisa/default-deny-network-policy',
      what: `default deny without ${type} in policyTypes`,
      findings: [DEFAULT_DENY_MISSING],
      mutate: (o) => {
        const policy = find(o, 'NetworkPolicy', 'default-deny');
        policy.spec.policyTypes = policy.spec.policyTypes.filter((t: string) => t !== type);
      },
    }),
  ),
  {
    rule: 'kube-linter/non-isolated-pod',
    what: "nginx's own policy selects by matchExpressions (not understood): its ingress is not isolated",
    findings: [['Deployment/primero-nginx', 'no NetworkPolicy isolates its ingress']],
    alsoFails: [['nsa-cisa/default-deny-network-policy', ...DEFAULT_DENY_MISSING]],
    mutate: (o) => {
      const objects = without(o, 'NetworkPolicy', 'default-deny');
      find(objects, 'NetworkPolicy', 'primero-nginx').spec.podSelector = {
        matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['nginx'] }],
      };
      return objects;
    },
  },
  {
    rule: 'kube-linter/non-isolated-pod',
    what: "nginx's own policy isolates ingress only, and nothing else isolates its egress",
    findings: [['Deployment/primero-nginx', 'no NetworkPolicy isolates its egress']],
    alsoFails: [['nsa-cisa/default-deny-network-policy', ...DEFAULT_DENY_MISSING]],
    mutate: (o) => {
      const objects = without(without(o, 'NetworkPolicy', 'default-deny'), 'NetworkPolicy', 'allow-dns');
      find(objects, 'NetworkPolicy', 'primero-nginx').spec.policyTypes = ['Ingress'];
      return objects;
    },
  },
  {
    rule: 'kube-score/deployment-has-poddisruptionbudget',
    what: "the worker's PDB selects other pods",
    findings: [['Deployment/primero-worker', 'no PodDisruptionBudget selects its pods']],
    mutate: (o) => {
      find(o, 'PodDisruptionBudget', 'primero-worker').spec.selector.matchLabels[
        'app.kubernetes.io/component'
      ] = 'workers';
    },
  },
  {
    rule: 'kube-linter/default-service-account',
    what: 'the doctor named onto the default ServiceAccount',
    findings: [['CronJob/tier4-doctor', 'runs as the default ServiceAccount']],
    mutate: (o) => {
      podSpec(find(o, 'CronJob', 'tier4-doctor')).serviceAccountName = 'default';
    },
  },
  {
    rule: 'cis-5.1.6/automount-service-account-token',
    what: 'the worker pod leaves automount unset',
    findings: [['Deployment/primero-worker', 'automountServiceAccountToken is not false']],
    mutate: (o) => {
      delete podSpec(find(o, 'Deployment', 'primero-worker')).automountServiceAccountToken;
    },
  },
  {
    rule: 'cis-5.1.6/automount-service-account-token',
    what: 'a ServiceAccount that says true',
    findings: [['ServiceAccount/primero-nginx', 'automountServiceAccountToken is not false']],
    mutate: (o) => {
      find(o, 'ServiceAccount', 'primero-nginx').automountServiceAccountToken = true;
    },
  },
  {
    rule: 'kube-linter/env-var-secret',
    what: 'a literal API token on the exporter',
    findings: [['Deployment/tier4-exporter', 'container exporter: literal value for PRIMERO_API_TOKEN']],
    mutate: (o) => {
      const container = mainContainer(o, 'Deployment', 'tier4-exporter');
      container.env = [...(container.env ?? []), { name: 'PRIMERO_API_TOKEN', value: 'x' }];
    },
  },
  {
    rule: 'kube-linter/env-var-secret',
    what: 'a literal path to a key file is accepted',
    findings: [],
    mutate: (o) => {
      const container = mainContainer(o, 'Deployment', 'tier4-exporter');
      container.env = [...(container.env ?? []), { name: 'TIER4_SECRET_KEY_FILE', value: '/keys/k' }];
    },
  },
  {
    rule: 'kube-linter/env-var-secret',
    what: 'a password in the ops ConfigMap',
    findings: [['ConfigMap/tier4-config', 'holds S3_SECRET_ACCESS_KEY']],
    mutate: (o) => {
      find(o, 'ConfigMap', 'tier4-config').data.S3_SECRET_ACCESS_KEY = 'x';
    },
  },
  {
    rule: 'tier4/cronjob-bounded',
    what: 'the backup job has no deadline',
    findings: [['CronJob/tier4-backup', 'no activeDeadlineSeconds']],
    mutate: (o) => {
      delete find(o, 'CronJob', 'tier4-backup').spec.jobTemplate.spec.activeDeadlineSeconds;
    },
  },
  {
    rule: 'tier4/age-identity-drill-only',
    what: 'the worker reads the age identity from the Secret',
    findings: [['Deployment/primero-worker', 'uses the age identity Secret tier4-drill-identity']],
    mutate: (o) => {
      const container = mainContainer(o, 'Deployment', 'primero-worker');
      container.env.push({
        name: 'AGE_IDENTITY',
        valueFrom: { secretKeyRef: { name: 'tier4-drill-identity', key: 'identity' } },
      });
    },
  },
  {
    rule: 'kube-linter/dangling-service',
    what: 'a Service without a selector',
    findings: [['Service/tier4-exporter', 'selects no rendered pod']],
    mutate: (o) => {
      delete find(o, 'Service', 'tier4-exporter').spec.selector;
    },
  },
  {
    rule: 'tier4/migration-before-rollout',
    what: 'the worker no longer waits for migrations',
    findings: [['Deployment/primero-worker', 'no wait-for-migrations init container']],
    mutate: (o) => {
      const spec = podSpec(find(o, 'Deployment', 'primero-worker'));
      spec.initContainers = spec.initContainers.filter(
        (c: { name: string }) => c.name !== 'wait-for-migrations',
      );
    },
  },
];

describe('policy rules', () => {
  test('the rendered production site passes every rule', () => {
    expect(checkPolicies(baseline, CONTEXT)).toEqual([]);
  });

  test('every rule has at least one mutation proving it bites', () => {
    const tested = new Set(MUTATIONS.filter((m) => m.findings.length > 0).map((mutation) => mutation.rule));
    expect(POLICY_RULES.map((rule) => rule.id).filter((id) => !tested.has(id))).toEqual([]);
  });

  test.each(MUTATIONS.map((mutation) => [mutation.rule, mutation.what, mutation] as const))(
    '%s catches: %s',
    (rule, _what, mutation) => {
      const objects = structuredClone(baseline);
      const result = mutation.mutate(objects);
      const mutated = Array.isArray(result) ? (result as KubeObject[]) : objects;
      const found = checkPolicies(mutated, CONTEXT).map((f) => [f.rule, f.object, f.message]);
      const expected = [
        ...mutation.findings.map(([object, message]) => [rule, object, message]),
        ...(mutation.alsoFails ?? []),
      ];
      expect(found.sort()).toEqual(expected.sort());
    },
  );
});

describe('checkSiteManifests (for tier4 doctor)', () => {
  test('both example sites have no findings', async () => {
    const { checkSiteManifests } = await import('../../stacks/production/render.js');
    const loaded = loadConfig(join(REPO_ROOT, 'examples', 'tier4.example.yaml'));
    expect(await checkSiteManifests(loaded, 'production')).toEqual([]);
    expect(await checkSiteManifests(loaded, 'demo')).toEqual([]);
  });
});

describe('schema checks', () => {
  test('the rendered production site validates', async () => {
    expect(await checkSchemas(baseline)).toEqual([]);
  });

  test('a misspelt field is an unknown field, with its path', async () => {
    const objects = structuredClone(baseline);
    const container = mainContainer(objects, 'Deployment', 'primero-application');
    container.securityContxt = container.securityContext;
    const findings = await checkSchemas(objects);
    expect(findings).toContainEqual({
      rule: UNKNOWN_FIELD_RULE,
      object: 'Deployment/primero-application',
      message: 'spec.template.spec.containers[0].securityContxt: unknown field',
    });
  });

  test('a wrongly typed value fails kubernetes-models validation', async () => {
    const objects = structuredClone(baseline);
    find(objects, 'Deployment', 'primero-worker').spec.replicas = 'two';
    const findings = await checkSchemas(objects);
    expect(
      findings.some(
        (finding) => finding.rule === SCHEMA_RULE && finding.object === 'Deployment/primero-worker',
      ),
    ).toBe(true);
  });

  test('a missing required field fails kubernetes-models validation', async () => {
    const objects = structuredClone(baseline);
    delete mainContainer(objects, 'CronJob', 'tier4-doctor').name;
    const findings = await checkSchemas(objects);
    expect(
      findings.some((finding) => finding.rule === SCHEMA_RULE && finding.object === 'CronJob/tier4-doctor'),
    ).toBe(true);
  });
});
