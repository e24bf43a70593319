import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../../charts/primero/common.js';
import { checkPolicies, type PolicyContext } from '../../charts/primero/policy.js';

// biome-ignore lint/suspicious/noExplicitAny: tests build and edit manifests freely
type Any = any;

/**
 * The chart's policy rules on small hand-made manifests (test/charts/policy.test.ts edits the rendered site):
 * every kind that holds a pod, every entry of the rules' allow and deny lists, and the boundaries between them.
 * Each case states every finding of every rule, so a rule that fires where it should not is caught too.
 */

const LABELS = { app: 'web' };

function container(name = 'web', image = 'example/web:1.0'): Any {
  return {
    name,
    image,
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } },
    livenessProbe: { tcpSocket: { port: 8080 } },
    readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
    startupProbe: { tcpSocket: { port: 8080 } },
  };
}

function podSpec(account: string, containers: Any[] = [container()]): Any {
  return {
    serviceAccountName: account,
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    containers,
  };
}

const account = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  metadata: { name },
  automountServiceAccountToken: false,
});

/** A workload of any kind holding one pod, with its own ServiceAccount (and a PDB where one is required). */
function workload(kind: string, name: string, labels: Record<string, string> = { app: name }): KubeObject[] {
  const template = { metadata: { labels }, spec: podSpec(name) };
  const objects: KubeObject[] = [account(name)];
  if (kind === 'Pod')
    objects.push({ apiVersion: 'v1', kind, metadata: { name, labels }, spec: template.spec });
  else if (kind === 'CronJob')
    objects.push({
      apiVersion: 'batch/v1',
      kind,
      metadata: { name },
      spec: {
        startingDeadlineSeconds: 300,
        concurrencyPolicy: 'Forbid',
        jobTemplate: {
          spec: { backoffLimit: 1, ttlSecondsAfterFinished: 60, activeDeadlineSeconds: 600, template },
        },
      },
    });
  else objects.push({ apiVersion: 'apps/v1', kind, metadata: { name }, spec: { template } });
  if (kind === 'Deployment' || kind === 'StatefulSet')
    objects.push({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name },
      spec: { selector: { matchLabels: labels } },
    });
  return objects;
}

const DEFAULT_DENY: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'default-deny' },
  spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
};

/** A namespace, a default deny and one Deployment: no finding. */
function site(): KubeObject[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'ns', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    },
    DEFAULT_DENY,
    ...workload('Deployment', 'web', LABELS),
  ];
}

const find = (objects: KubeObject[], kind: string, name: string): Any =>
  objects.find((object) => object.kind === kind && object.metadata.name === name);
const web = (objects: KubeObject[]): Any => find(objects, 'Deployment', 'web').spec.template.spec;

function findings(objects: KubeObject[], context: PolicyContext = {}): string[][] {
  return checkPolicies(objects, context).map((f) => [f.rule, f.object, f.message]);
}

describe('the hand-made site', () => {
  test('passes every rule', () => {
    expect(findings(site())).toEqual([]);
  });
});

describe('every kind that holds a pod is checked', () => {
  const KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod'];

  test('each kind, and each kind only once, with its long-running kinds probed', () => {
    const objects = [DEFAULT_DENY, ...KINDS.flatMap((kind) => workload(kind, kind.toLowerCase()))];
    expect(findings(objects)).toEqual([]);
    for (const object of objects) {
      const spec: Any =
        object.kind === 'CronJob'
          ? (object as Any).spec.jobTemplate.spec.template.spec
          : object.kind === 'Pod'
            ? (object as Any).spec
            : (object as Any).spec?.template?.spec;
      if (!spec) continue;
      spec.containers[0].securityContext.privileged = true;
      delete spec.containers[0].livenessProbe;
    }
    const refs = KINDS.map((kind) => `${kind}/${kind.toLowerCase()}`);
    expect(findings(objects).sort()).toEqual(
      [
        ...['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].map((kind) => [
          'kube-score/pod-probes',
          `${kind}/${kind.toLowerCase()}`,
          'container web: no liveness probe',
        ]),
        ...refs.map((ref) => ['pss-baseline/privileged', ref, 'container web: privileged is true']),
      ].sort(),
    );
  });

  test('a Pod is matched by its own labels, a workload without a pod template holds no pod', () => {
    const pod = workload('Pod', 'solo', { app: 'solo' });
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'solo' },
      spec: { selector: { app: 'solo' } },
    };
    const empty = [
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'no-template' }, spec: {} },
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'null-spec' }, spec: null },
      { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'no-job' }, spec: { jobTemplate: 'x' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'plain' }, data: { A: '1' } },
    ] as KubeObject[];
    expect(findings([DEFAULT_DENY, ...pod, service, ...empty])).toEqual([
      ['kube-score/cronjob-has-deadline', 'CronJob/no-job', 'no startingDeadlineSeconds'],
      ['tier4/cronjob-bounded', 'CronJob/no-job', 'concurrencyPolicy is not Forbid'],
      ['tier4/cronjob-bounded', 'CronJob/no-job', 'no backoffLimit'],
      ['tier4/cronjob-bounded', 'CronJob/no-job', 'no ttlSecondsAfterFinished'],
      ['tier4/cronjob-bounded', 'CronJob/no-job', 'no activeDeadlineSeconds'],
    ]);
  });

  test('init containers are checked like the others', () => {
    const objects = site();
    const init = container('setup');
    init.securityContext.capabilities = { drop: ['ALL'], add: ['NET_BIND_SERVICE', 'SYS_ADMIN', 'NET_RAW'] };
    init.env = [{ name: 'API_TOKEN', value: 'x' }];
    web(objects).initContainers = [init];
    expect(findings(objects)).toEqual([
      [
        'pss-restricted/capabilities',
        'Deployment/web',
        'container setup: adds capabilities SYS_ADMIN, NET_RAW',
      ],
      ['kube-linter/env-var-secret', 'Deployment/web', 'container setup: literal value for API_TOKEN'],
    ]);
  });
});

describe('the allow and deny lists, entry by entry', () => {
  const SAFE = [
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
  ];
  test.each(SAFE)('the safe sysctl %s is accepted', (name) => {
    const objects = site();
    web(objects).securityContext.sysctls = [{ name, value: '1' }];
    expect(findings(objects)).toEqual([]);
  });

  test('an unsafe sysctl is named beside a safe one', () => {
    const objects = site();
    web(objects).securityContext.sysctls = [
      { name: 'net.ipv4.tcp_syncookies', value: '1' },
      { name: 'kernel.msgmax', value: '65536' },
    ];
    expect(findings(objects)).toEqual([
      ['pss-baseline/sysctls', 'Deployment/web', 'sysctl kernel.msgmax is not in the safe set'],
    ]);
  });

  const VOLUMES: Array<[string, unknown]> = [
    ['configMap', { name: 'c' }],
    ['csi', { driver: 'secrets-store.csi.k8s.io' }],
    ['downwardAPI', { items: [] }],
    ['emptyDir', {}],
    ['ephemeral', { volumeClaimTemplate: { spec: {} } }],
    ['persistentVolumeClaim', { claimName: 'data' }],
    ['projected', { sources: [] }],
    ['secret', { secretName: 's' }],
  ];
  test.each(VOLUMES)('a %s volume is accepted', (type, source) => {
    const objects = site();
    web(objects).volumes = [{ name: 'v', [type]: source }];
    expect(findings(objects)).toEqual([]);
  });

  test('a volume of two disallowed types names both', () => {
    const objects = site();
    web(objects).volumes = [
      { name: 'ok', emptyDir: {} },
      { name: 'bad', hostPath: { path: '/' }, nfs: { server: 'nas', path: '/' } },
    ];
    expect(findings(objects)).toEqual([
      ['pss-restricted/volume-types', 'Deployment/web', 'volume bad is of type hostPath, nfs'],
    ]);
  });

  test.each(['/health', '/health/', '/health/database', '/health/solr', '/health/api', '/health/api/'])(
    'a liveness probe on %s depends on the database',
    (path) => {
      const objects = site();
      web(objects).containers[0].livenessProbe = { httpGet: { path, port: 8080 } };
      expect(findings(objects)).toEqual([
        [
          'kube-score/pod-probes',
          'Deployment/web',
          `container web: liveness probe ${path} depends on the database; use /health/server or a TCP check`,
        ],
      ]);
    },
  );

  test.each(['/health/server', '/healthz', '/'])('a liveness probe on %s is accepted', (path) => {
    const objects = site();
    web(objects).containers[0].livenessProbe = { httpGet: { path, port: 8080 } };
    expect(findings(objects)).toEqual([]);
  });

  const SECRET_NAMES = [
    'DB_SECRET',
    'POSTGRES_PASSWORD',
    'SMTP_PASSWD',
    'API_TOKEN',
    'AZURE_CREDENTIALS',
    'PROMOTE_BASIC_AUTH',
    'SIGNING_KEY',
    'RAILS_KEY_BASE',
    'S3_ACCESS_KEY_ID_VALUE',
    'devise_secret_key',
    'MY_TOKEN_NAME_X',
  ];
  test.each(SECRET_NAMES)('a literal %s looks secret, in an env var and in a ConfigMap', (name) => {
    const objects = site();
    web(objects).containers[0].env = [{ name, value: 'x' }];
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { [name]: 'x' } });
    expect(findings(objects)).toEqual([
      ['kube-linter/env-var-secret', 'Deployment/web', `container web: literal value for ${name}`],
      ['kube-linter/env-var-secret', 'ConfigMap/cfg', `holds ${name}`],
    ]);
  });

  const NOT_SECRET_NAMES = [
    'SECRET_PATH',
    'PASSWORD_FILE',
    'TOKEN_DIR',
    'SECRET_NAME',
    'ACCESS_KEY_ID',
    'MONKEY',
    'KEY_ROTATION',
    'PRIMERO_HOST',
  ];
  test.each(NOT_SECRET_NAMES)('a literal %s does not look secret', (name) => {
    const objects = site();
    web(objects).containers[0].env = [{ name, value: 'x' }];
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { [name]: 'x' } });
    expect(findings(objects)).toEqual([]);
  });

  test('secrets read from a Secret are not literal; several literals are listed together', () => {
    const objects = site();
    web(objects).containers[0].env = [
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 's', key: 'p' } } },
      { name: 'API_TOKEN', value: 'a' },
      { name: 'SMTP_PASSWORD', value: 'b' },
    ];
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'empty' } });
    objects.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cfg' },
      data: { A_SECRET: '1', HOST: 'h', B_TOKEN: '2' },
    });
    expect(findings(objects)).toEqual([
      [
        'kube-linter/env-var-secret',
        'Deployment/web',
        'container web: literal value for API_TOKEN, SMTP_PASSWORD',
      ],
      ['kube-linter/env-var-secret', 'ConfigMap/cfg', 'holds A_SECRET, B_TOKEN'],
    ]);
  });
});

describe('each rule on the branches the rendered site does not reach', () => {
  test('runAsUser set on the container only is enough; on neither is reported', () => {
    const objects = site();
    delete web(objects).securityContext.runAsUser;
    web(objects).containers[0].securityContext.runAsUser = 1000;
    expect(findings(objects)).toEqual([]);
    delete web(objects).containers[0].securityContext.runAsUser;
    expect(findings(objects)).toEqual([
      [
        'pss-restricted/run-as-user',
        'Deployment/web',
        'container web: runAsUser is not set (the kubelet cannot verify a named image user)',
      ],
    ]);
  });

  test('a pod without any securityContext fails each restricted control once', () => {
    const objects = site();
    delete web(objects).securityContext;
    delete web(objects).containers[0].securityContext;
    expect(findings(objects)).toEqual([
      ['pss-restricted/run-as-non-root', 'Deployment/web', 'container web: runAsNonRoot is not true'],
      [
        'pss-restricted/run-as-user',
        'Deployment/web',
        'container web: runAsUser is not set (the kubelet cannot verify a named image user)',
      ],
      [
        'pss-restricted/seccomp-profile',
        'Deployment/web',
        'container web: seccompProfile is not RuntimeDefault',
      ],
      [
        'pss-restricted/allow-privilege-escalation',
        'Deployment/web',
        'container web: allowPrivilegeEscalation is not false',
      ],
      ['pss-restricted/capabilities', 'Deployment/web', 'container web: capabilities do not drop ALL'],
      [
        'kube-linter/no-read-only-root-fs',
        'Deployment/web',
        'container web: readOnlyRootFilesystem is not true',
      ],
    ]);
  });

  test('a hostPort on the main container; hostNetwork false is accepted', () => {
    const objects = site();
    web(objects).hostNetwork = false;
    web(objects).containers[0].ports = [{ containerPort: 8080 }, { containerPort: 8443, hostPort: 443 }];
    expect(findings(objects)).toEqual([
      ['pss-baseline/host-namespaces', 'Deployment/web', 'container web uses a hostPort'],
    ]);
  });

  test.each([
    ['exec', { exec: { command: ['check'] } }],
    ['tcpSocket', { tcpSocket: { port: 9000 } }],
    ['grpc', { grpc: { port: 9000 } }],
  ])('liveness and readiness that are the same %s check are identical', (_kind, check) => {
    const objects = site();
    Object.assign(web(objects).containers[0], {
      livenessProbe: { ...check, periodSeconds: 10 },
      readinessProbe: { ...check, periodSeconds: 5 },
    });
    expect(findings(objects)).toEqual([
      [
        'kube-score/pod-probes',
        'Deployment/web',
        'container web: liveness and readiness probes are identical',
      ],
    ]);
  });

  test('probes of different kinds, or of the same kind on other ports, are not identical', () => {
    const objects = site();
    Object.assign(web(objects).containers[0], {
      livenessProbe: { exec: { command: ['check'] } },
      readinessProbe: { grpc: { port: 9000 } },
    });
    expect(findings(objects)).toEqual([]);
    Object.assign(web(objects).containers[0], {
      livenessProbe: { tcpSocket: { port: 9000 } },
      readinessProbe: { tcpSocket: { port: 9001 } },
    });
    expect(findings(objects)).toEqual([]);
  });

  test('a container without probes in a long-running pod a Service selects misses all three', () => {
    const objects = site();
    const main = web(objects).containers[0];
    delete main.livenessProbe;
    delete main.readinessProbe;
    delete main.startupProbe;
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: LABELS },
    });
    expect(findings(objects)).toEqual([
      ['kube-score/pod-probes', 'Deployment/web', 'container web: no liveness probe'],
      ['kube-score/pod-probes', 'Deployment/web', 'container web: no startup probe'],
      [
        'kube-score/pod-probes',
        'Deployment/web',
        'container web: no readiness probe, yet a Service sends it traffic',
      ],
    ]);
  });

  test.each([
    ['example/web:1.0', []],
    ['registry.example:5000/web:1.0', []],
    [`example/web@sha256:${'b'.repeat(64)}`, []],
    ['example/web', ['image example/web has no tag']],
    ['registry.example:5000/team/web', ['image registry.example:5000/team/web has no tag']],
    ['example/web:latest', ['image example/web:latest uses latest']],
  ])('the image %s', (image, messages) => {
    const objects = site();
    web(objects).containers[0].image = image;
    expect(findings(objects)).toEqual(
      messages.map((m) => ['kube-score/container-image-tag', 'Deployment/web', `container web: ${m}`]),
    );
  });

  test('a container without an image has no tag', () => {
    const objects = site();
    delete web(objects).containers[0].image;
    expect(findings(objects)).toEqual([
      ['kube-score/container-image-tag', 'Deployment/web', 'container web: image  has no tag'],
    ]);
  });

  test('each missing resource is named, in order', () => {
    const objects = site();
    web(objects).containers[0].resources = { limits: { cpu: '1' } };
    expect(findings(objects)).toEqual([
      [
        'kube-score/container-resources',
        'Deployment/web',
        'container web: no requests.cpu, requests.memory, limits.memory',
      ],
    ]);
  });

  test('several namespaces: each one not enforcing restricted is named', () => {
    const objects = site();
    objects.push(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bare' } },
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'good', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
      },
    );
    expect(findings(objects)).toEqual([
      [
        'pss-admission/namespace-enforce-restricted',
        'Namespace/bare',
        'label pod-security.kubernetes.io/enforce must be "restricted"',
      ],
    ]);
  });
});

describe('network isolation', () => {
  const DEFAULT_DENY_MISSING = [
    'nsa-cisa/default-deny-network-policy',
    'NetworkPolicy/*',
    'no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)',
  ];
  const NOT_ISOLATED = (type: string) => [
    'kube-linter/non-isolated-pod',
    'Deployment/web',
    `no NetworkPolicy isolates its ${type}`,
  ];
  const withPolicy = (spec: Any): KubeObject[] => [
    ...site().filter((object) => object.kind !== 'NetworkPolicy'),
    { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p' }, spec },
  ];

  test('manifests without pods need no default deny', () => {
    expect(
      findings([account('x'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }]),
    ).toEqual([]);
  });

  test('a default deny without a podSelector, or without policyTypes, is no default deny', () => {
    expect(findings(withPolicy({ policyTypes: ['Ingress', 'Egress'] }))).toEqual([
      DEFAULT_DENY_MISSING,
      NOT_ISOLATED('ingress'),
      NOT_ISOLATED('egress'),
    ]);
    expect(findings(withPolicy({ podSelector: {} }))).toEqual([
      DEFAULT_DENY_MISSING,
      NOT_ISOLATED('ingress'),
      NOT_ISOLATED('egress'),
    ]);
  });

  test('a policy selecting the pod by its labels isolates it; one selecting other labels does not', () => {
    expect(
      findings(
        withPolicy({
          podSelector: { matchLabels: LABELS },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [],
          egress: [],
        }),
      ),
    ).toEqual([DEFAULT_DENY_MISSING]);
    expect(
      findings(withPolicy({ podSelector: { matchLabels: { app: 'other' } }, policyTypes: ['Egress'] })),
    ).toEqual([DEFAULT_DENY_MISSING, NOT_ISOLATED('ingress'), NOT_ISOLATED('egress')]);
    expect(findings(withPolicy({ podSelector: null, policyTypes: ['Ingress', 'Egress'] }))).toEqual([
      DEFAULT_DENY_MISSING,
      NOT_ISOLATED('ingress'),
      NOT_ISOLATED('egress'),
    ]);
  });
});

describe('service accounts, budgets, jobs and secrets', () => {
  test('a StatefulSet needs a budget; a DaemonSet, a Job and a CronJob do not', () => {
    const objects = [
      ...site(),
      ...workload('StatefulSet', 'db').filter((object) => object.kind !== 'PodDisruptionBudget'),
      ...workload('DaemonSet', 'agent'),
      ...workload('Job', 'once'),
      ...workload('CronJob', 'nightly'),
    ];
    expect(findings(objects)).toEqual([
      [
        'kube-score/deployment-has-poddisruptionbudget',
        'StatefulSet/db',
        'no PodDisruptionBudget selects its pods',
      ],
    ]);
  });

  test('three workloads on one ServiceAccount are all named', () => {
    const objects = [...site(), ...workload('Job', 'a'), ...workload('Job', 'b')];
    find(objects, 'Job', 'a').spec.template.spec.serviceAccountName = 'web';
    find(objects, 'Job', 'b').spec.template.spec.serviceAccountName = 'web';
    expect(findings(objects)).toEqual([
      ['tier4/dedicated-service-account', 'ServiceAccount/web', 'shared by Deployment/web, Job/a, Job/b'],
    ]);
  });

  test('a ServiceAccount that leaves automount unset is reported', () => {
    const objects = site();
    delete find(objects, 'ServiceAccount', 'web').automountServiceAccountToken;
    expect(findings(objects)).toEqual([
      [
        'cis-5.1.6/automount-service-account-token',
        'ServiceAccount/web',
        'automountServiceAccountToken is not false',
      ],
    ]);
  });

  test('a CronJob with nothing bounded is named for each missing bound', () => {
    const objects = [...site(), ...workload('CronJob', 'nightly')];
    const cron = find(objects, 'CronJob', 'nightly');
    delete cron.spec.concurrencyPolicy;
    delete cron.spec.startingDeadlineSeconds;
    const job = cron.spec.jobTemplate.spec;
    delete job.backoffLimit;
    delete job.ttlSecondsAfterFinished;
    delete job.activeDeadlineSeconds;
    expect(findings(objects)).toEqual([
      ['kube-score/cronjob-has-deadline', 'CronJob/nightly', 'no startingDeadlineSeconds'],
      ['tier4/cronjob-bounded', 'CronJob/nightly', 'concurrencyPolicy is not Forbid'],
      ['tier4/cronjob-bounded', 'CronJob/nightly', 'no backoffLimit'],
      ['tier4/cronjob-bounded', 'CronJob/nightly', 'no ttlSecondsAfterFinished'],
      ['tier4/cronjob-bounded', 'CronJob/nightly', 'no activeDeadlineSeconds'],
    ]);
  });

  test('the age identity: the drill CronJob may use it; a Deployment named tier4-drill may not', () => {
    const identity = { name: 'identity', secret: { secretName: 'age-id' } };
    const objects = [
      ...site(),
      ...workload('CronJob', 'tier4-drill'),
      ...workload('Deployment', 'tier4-drill'),
    ];
    find(objects, 'CronJob', 'tier4-drill').spec.jobTemplate.spec.template.spec.volumes = [identity];
    find(objects, 'Deployment', 'tier4-drill').spec.template.spec.volumes = [identity];
    find(objects, 'Deployment', 'tier4-drill').spec.template.spec.serviceAccountName = 'lookalike';
    objects.push(account('lookalike'));
    web(objects).volumes = [{ name: 'other', secret: { secretName: 'age-id-old' } }];
    expect(findings(objects, { drillIdentitySecret: 'age-id' })).toEqual([
      ['tier4/age-identity-drill-only', 'Deployment/tier4-drill', 'uses the age identity Secret age-id'],
    ]);
    expect(findings(objects)).toEqual([]);
  });

  test('a Service is dangling when it selects no pod of any kind', () => {
    const objects = [...site(), ...workload('Job', 'once')];
    objects.push(
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'once' }, spec: { selector: { app: 'once' } } },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'gone' },
        spec: { selector: { app: 'once', tier: 'x' } },
      },
    );
    expect(findings(objects)).toEqual([
      ['kube-linter/dangling-service', 'Service/gone', 'selects no rendered pod'],
    ]);
  });

  test('migrations: only long-running Primero application and worker pods must wait for them', () => {
    const objects = [...site(), ...workload('Job', 'seed'), ...workload('Deployment', 'worker')];
    find(objects, 'Job', 'seed').spec.template.spec.containers[0].image = 'primeroims/application:v2.15.2';
    expect(findings(objects)).toEqual([]);
    find(objects, 'Deployment', 'worker').spec.template.spec.containers[0].image =
      'primeroims/worker:v2.15.2';
    web(objects).containers[0].image = 'primeroims/application:v2.15.2';
    expect(findings(objects)).toEqual([
      ['tier4/migration-before-rollout', 'Job/primero-migrate', 'no migration Job is rendered'],
      ['tier4/migration-before-rollout', 'Deployment/web', 'no wait-for-migrations init container'],
      ['tier4/migration-before-rollout', 'Deployment/worker', 'no wait-for-migrations init container'],
    ]);
    objects.push(...workload('Job', 'primero-migrate-v2-15-2'));
    web(objects).initContainers = [container('wait-for-migrations')];
    find(objects, 'Deployment', 'worker').spec.template.spec.initContainers = [container('wait')];
    expect(findings(objects)).toEqual([
      ['tier4/migration-before-rollout', 'Deployment/worker', 'no wait-for-migrations init container'],
    ]);
  });
});
