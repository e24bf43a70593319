import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import type { KubeObject } from '../../charts/index.js';
import type { Tier4Config } from '../../core/config/schema.js';
import { planSite, type SiteManifest, type Stage } from './site.js';

/**
 * The Pulumi program for a Kubernetes site: the same manifests `tier4 site render` writes, created in
 * stage order on the cluster named by the site's kubeconfig context. The migration Job completes before
 * the Deployments roll out (dependsOn; the provider's Job awaiter waits for condition Complete and fails on
 * Failed), and the attachments
 * volume and the database cluster are protected from deletion.
 */

export interface DeployInput {
  config: Tier4Config;
  siteName: string;
  /** tier4.yaml's text, for the ops ConfigMap. */
  configText: string;
  firstInstall?: boolean;
}

export interface DeployOutput {
  namespace: string;
  /** Kind/name of every object, in creation order. */
  resources: string[];
  /** Kind/name of each object, and the Kind/name of every object it waits for. */
  dependsOn: Record<string, string[]>;
}

type Constructor = new (
  name: string,
  args: Record<string, unknown>,
  opts?: pulumi.CustomResourceOptions,
) => pulumi.CustomResource;

const TYPED: Record<string, Constructor> = {
  'v1/Namespace': k8s.core.v1.Namespace as unknown as Constructor,
  'v1/ConfigMap': k8s.core.v1.ConfigMap as unknown as Constructor,
  'v1/ServiceAccount': k8s.core.v1.ServiceAccount as unknown as Constructor,
  'v1/Service': k8s.core.v1.Service as unknown as Constructor,
  'v1/PersistentVolumeClaim': k8s.core.v1.PersistentVolumeClaim as unknown as Constructor,
  'apps/v1/Deployment': k8s.apps.v1.Deployment as unknown as Constructor,
  'apps/v1/StatefulSet': k8s.apps.v1.StatefulSet as unknown as Constructor,
  'batch/v1/Job': k8s.batch.v1.Job as unknown as Constructor,
  'batch/v1/CronJob': k8s.batch.v1.CronJob as unknown as Constructor,
  'policy/v1/PodDisruptionBudget': k8s.policy.v1.PodDisruptionBudget as unknown as Constructor,
  'networking.k8s.io/v1/NetworkPolicy': k8s.networking.v1.NetworkPolicy as unknown as Constructor,
  'rbac.authorization.k8s.io/v1/Role': k8s.rbac.v1.Role as unknown as Constructor,
  'rbac.authorization.k8s.io/v1/RoleBinding': k8s.rbac.v1.RoleBinding as unknown as Constructor,
};

/** Objects whose loss loses data: Pulumi refuses to delete them until unprotected by hand. */
function isProtected(object: KubeObject): boolean {
  return (
    object.kind === 'PersistentVolumeClaim' ||
    (object.kind === 'Cluster' &&
      object.apiVersion.startsWith('postgresql.cnpg.io') &&
      // The drills' scratch server holds only throwaway copies.
      object.metadata.labels?.['app.kubernetes.io/component'] !== 'drill-database')
  );
}

/** Which earlier stages a stage waits for. */
const WAITS_FOR: Record<Stage, Stage[]> = {
  namespace: [],
  database: ['namespace'],
  config: ['namespace'],
  migrate: ['namespace', 'database', 'config'],
  workload: ['namespace', 'config', 'migrate'],
  ops: ['namespace', 'config'],
};

function createResource(
  manifest: SiteManifest,
  provider: k8s.Provider,
  dependsOn: pulumi.Resource[],
): pulumi.CustomResource {
  const object = manifest.object;
  const name = `${object.kind.toLowerCase()}-${object.metadata.name}`;
  const opts: pulumi.CustomResourceOptions = {
    provider,
    dependsOn,
    protect: isProtected(object),
    ...(object.kind === 'Job' ? { customTimeouts: { create: '60m', update: '60m' } } : {}),
  };
  const Typed = TYPED[`${object.apiVersion}/${object.kind}`];
  if (Typed) return new Typed(name, { ...object }, opts);
  return new k8s.apiextensions.CustomResource(
    name,
    { ...object } as k8s.apiextensions.CustomResourceArgs,
    opts,
  );
}

export function deploySite(input: DeployInput): DeployOutput {
  const plan = planSite(input.config, input.siteName, {
    configText: input.configText,
    firstInstall: input.firstInstall === true,
  });
  const provider = new k8s.Provider('cluster', {
    ...(plan.context ? { context: plan.context } : {}),
    enableServerSideApply: true,
  });
  const created = new Map<Stage, Array<{ name: string; resource: pulumi.Resource }>>();
  const names: string[] = [];
  const dependsOnNames: Record<string, string[]> = {};
  for (const manifest of plan.manifests) {
    const waitsFor = WAITS_FOR[manifest.stage].flatMap((stage) => created.get(stage) ?? []);
    const resource = createResource(
      manifest,
      provider,
      waitsFor.map((item) => item.resource),
    );
    const name = `${manifest.object.kind}/${manifest.object.metadata.name}`;
    created.set(manifest.stage, [...(created.get(manifest.stage) ?? []), { name, resource }]);
    names.push(name);
    dependsOnNames[name] = waitsFor.map((item) => item.name);
  }
  return { namespace: plan.values.namespace, resources: names, dependsOn: dependsOnNames };
}
