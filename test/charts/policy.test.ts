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
 * Each rule is proved to bite: take the production site's rendered manifests (which pass), flip one
 * hardening setting, and the rule named after the check it mirrors must report it.
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
}

const MUTATIONS: Mutation[] = [
  {
    rule: 'pss-admission/namespace-enforce-restricted',
    what: 'namespace enforces baseline only',
    mutate: (o) => {
      find(o, 'Namespace', 'primero').metadata.labels['pod-security.kubernetes.io/enforce'] = 'baseline';
    },
  },
  {
    rule: 'pss-restricted/run-as-non-root',
    what: 'runAsNonRoot removed from the application pod and container',
    mutate: (o) => {
      const spec = podSpec(find(o, 'Deployment', 'primero-application'));
      delete spec.securityContext.runAsNonRoot;
      delete spec.containers[0].securityContext.runAsNonRoot;
    },
  },
  {
    rule: 'pss-restricted/run-as-user',
    what: 'the worker runs as uid 0',
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-worker').securityContext.runAsUser = 0;
    },
  },
  {
    rule: 'pss-restricted/seccomp-profile',
    what: 'nginx is Unconfined',
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-nginx').securityContext.seccompProfile = { type: 'Unconfined' };
    },
  },
  {
    rule: 'pss-restricted/allow-privilege-escalation',
    what: 'the migration Job may escalate',
    mutate: (o) => {
      mainContainer(o, 'Job', 'primero-migrate-v2-15-2').securityContext.allowPrivilegeEscalation = true;
    },
  },
  {
    rule: 'pss-restricted/capabilities',
    what: 'nginx adds SYS_ADMIN',
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-nginx').securityContext.capabilities.add = ['SYS_ADMIN'];
    },
  },
  {
    rule: 'pss-restricted/capabilities',
    what: 'the backup job no longer drops ALL',
    mutate: (o) => {
      mainContainer(o, 'CronJob', 'tier4-backup').securityContext.capabilities = {};
    },
  },
  {
    rule: 'pss-restricted/volume-types',
    what: 'a hostPath volume on the worker',
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
    mutate: (o) => {
      podSpec(find(o, 'Deployment', 'primero-nginx')).hostNetwork = true;
    },
  },
  {
    rule: 'pss-baseline/privileged',
    what: 'a privileged doctor',
    mutate: (o) => {
      mainContainer(o, 'CronJob', 'tier4-doctor').securityContext.privileged = true;
    },
  },
  {
    rule: 'pss-baseline/sysctls',
    what: 'an unsafe sysctl on nginx',
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
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-application').securityContext.readOnlyRootFilesystem = false;
    },
  },
  {
    rule: 'kube-score/container-resources',
    what: 'no memory limit on the worker',
    mutate: (o) => {
      delete mainContainer(o, 'Deployment', 'primero-worker').resources.limits.memory;
    },
  },
  {
    rule: 'kube-score/container-image-tag',
    what: 'nginx on latest',
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-nginx').image = 'primeroims/nginx:latest';
    },
  },
  {
    rule: 'kube-score/container-image-tag',
    what: 'an untagged ops image',
    mutate: (o) => {
      mainContainer(o, 'CronJob', 'tier4-backup').image = 'ghcr.io/primero-tier4/tier4';
    },
  },
  {
    rule: 'kube-score/pod-probes',
    what: 'liveness on /health, which depends on the database',
    mutate: (o) => {
      mainContainer(o, 'Deployment', 'primero-application').livenessProbe.httpGet.path = '/health';
    },
  },
  {
    rule: 'kube-score/pod-probes',
    what: 'no readiness probe on nginx, which a Service targets',
    mutate: (o) => {
      delete mainContainer(o, 'Deployment', 'primero-nginx').readinessProbe;
    },
  },
  {
    rule: 'kube-score/pod-probes',
    what: 'no liveness probe on the worker',
    mutate: (o) => {
      delete mainContainer(o, 'Deployment', 'primero-worker').livenessProbe;
    },
  },
  {
    rule: 'kube-score/pod-probes',
    what: 'no startup probe on the application',
    mutate: (o) => {
      delete mainContainer(o, 'Deployment', 'primero-application').startupProbe;
    },
  },
  {
    rule: 'kube-score/pod-probes',
    what: 'identical liveness and readiness',
    mutate: (o) => {
      const container = mainContainer(o, 'Deployment', 'primero-application');
      container.readinessProbe = structuredClone(container.livenessProbe);
    },
  },
  {
    rule: 'nsa-cisa/default-deny-network-policy',
    what: 'default deny removed',
    mutate: (o) => without(o, 'NetworkPolicy', 'default-deny'),
  },
  {
    rule: 'nsa-cisa/default-deny-network-policy',
    what: 'default deny that allows all ingress',
    mutate: (o) => {
      find(o, 'NetworkPolicy', 'default-deny').spec.ingress = [{}];
    },
  },
  {
    rule: 'kube-linter/non-isolated-pod',
    what: 'nginx with neither the default deny nor its own policy',
    mutate: (o) => without(without(o, 'NetworkPolicy', 'default-deny'), 'NetworkPolicy', 'primero-nginx'),
  },
  {
    rule: 'kube-score/deployment-has-poddisruptionbudget',
    what: 'no PDB for nginx',
    mutate: (o) => without(o, 'PodDisruptionBudget', 'primero-nginx'),
  },
  {
    rule: 'kube-linter/default-service-account',
    what: 'the worker on the default ServiceAccount',
    mutate: (o) => {
      delete podSpec(find(o, 'Deployment', 'primero-worker')).serviceAccountName;
    },
  },
  {
    rule: 'kube-linter/default-service-account',
    what: 'a ServiceAccount that is not rendered',
    mutate: (o) => without(o, 'ServiceAccount', 'primero-nginx'),
  },
  {
    rule: 'tier4/dedicated-service-account',
    what: "the worker borrows the application's ServiceAccount",
    mutate: (o) => {
      podSpec(find(o, 'Deployment', 'primero-worker')).serviceAccountName = 'primero-application';
    },
  },
  {
    rule: 'cis-5.1.6/automount-service-account-token',
    what: 'the application pod mounts a token',
    mutate: (o) => {
      podSpec(find(o, 'Deployment', 'primero-application')).automountServiceAccountToken = true;
    },
  },
  {
    rule: 'cis-5.1.6/automount-service-account-token',
    what: 'a ServiceAccount that automounts',
    mutate: (o) => {
      delete find(o, 'ServiceAccount', 'tier4-doctor').automountServiceAccountToken;
    },
  },
  {
    rule: 'kube-linter/env-var-secret',
    what: 'a literal database password',
    mutate: (o) => {
      const container = mainContainer(o, 'Deployment', 'primero-worker');
      container.env = container.env.filter((env: { name: string }) => env.name !== 'POSTGRES_PASSWORD');
      container.env.push({ name: 'POSTGRES_PASSWORD', value: 'not-a-real-one' });
    },
  },
  {
    rule: 'kube-linter/env-var-secret',
    what: 'a secret key in the ConfigMap',
    mutate: (o) => {
      find(o, 'ConfigMap', 'primero-config').data.DEVISE_SECRET_KEY = 'x';
    },
  },
  {
    rule: 'kube-score/cronjob-has-deadline',
    what: 'no startingDeadlineSeconds on the backup',
    mutate: (o) => {
      delete find(o, 'CronJob', 'tier4-backup').spec.startingDeadlineSeconds;
    },
  },
  {
    rule: 'tier4/cronjob-bounded',
    what: 'backups may overlap',
    mutate: (o) => {
      find(o, 'CronJob', 'tier4-backup').spec.concurrencyPolicy = 'Allow';
    },
  },
  {
    rule: 'tier4/cronjob-bounded',
    what: 'finished drill jobs are never cleaned up',
    mutate: (o) => {
      delete find(o, 'CronJob', 'tier4-drill').spec.jobTemplate.spec.ttlSecondsAfterFinished;
    },
  },
  {
    rule: 'tier4/cronjob-bounded',
    what: 'the doctor retries without bound',
    mutate: (o) => {
      delete find(o, 'CronJob', 'tier4-doctor').spec.jobTemplate.spec.backoffLimit;
    },
  },
  {
    rule: 'tier4/age-identity-drill-only',
    what: 'the age identity mounted into the backup job',
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
    mutate: (o) => {
      find(o, 'Service', 'primero-application').spec.selector['app.kubernetes.io/component'] = 'app';
    },
  },
  {
    rule: 'tier4/migration-before-rollout',
    what: 'no migration Job',
    mutate: (o) => without(o, 'Job', 'primero-migrate-v2-15-2'),
  },
  {
    rule: 'tier4/migration-before-rollout',
    what: 'the application no longer waits for migrations',
    mutate: (o) => {
      const spec = podSpec(find(o, 'Deployment', 'primero-application'));
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
    const tested = new Set(MUTATIONS.map((mutation) => mutation.rule));
    expect(POLICY_RULES.map((rule) => rule.id).filter((id) => !tested.has(id))).toEqual([]);
  });

  test.each(MUTATIONS.map((mutation) => [mutation.rule, mutation.what, mutation] as const))(
    '%s catches: %s',
    (rule, _what, mutation) => {
      const objects = structuredClone(baseline);
      const result = mutation.mutate(objects);
      const mutated = Array.isArray(result) ? (result as KubeObject[]) : objects;
      const findings = checkPolicies(mutated, CONTEXT);
      expect(findings.map((finding) => finding.rule)).toContain(rule);
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
