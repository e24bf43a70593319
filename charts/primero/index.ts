import {
  KEY_VAULT_SYNC,
  keyVaultServiceAccount,
  keyVaultSyncDeployment,
  secretProviderClass,
} from './azure.js';
import { azurePostgresCaConfigMap } from './azure-postgres-ca.js';
import { type KubeObject, NAMES } from './common.js';
import { dhparamConfigMap, nginxConfigMap, primeroConfigMap } from './config.js';
import { monitoringManifests } from './monitoring.js';
import { networkPolicies } from './network.js';
import { doctorRbac, drillReportsClaim, opsConfigMap, opsCronJobs } from './ops.js';
import { backendTlsPolicy, tlsResources } from './tls.js';
import { INTERPRETED, type PrimeroValues, primeroValuesSchema } from './values.js';
import {
  applicationDeployment,
  applicationService,
  attachmentsClaim,
  gatewayRoute,
  migrateJob,
  nginxDeployment,
  nginxService,
  podDisruptionBudget,
  serviceAccount,
  solrService,
  solrStatefulSet,
  workerDeployment,
} from './workloads.js';

export type { KubeObject } from './common.js';
export type { PrimeroValues } from './values.js';

/** A chart manifest with the stage it belongs to: stages apply in order (see docs/kubernetes.md). */
export interface StagedManifest {
  stage: 'config' | 'migrate' | 'workload' | 'ops';
  object: KubeObject;
}

function present<T>(value: T | undefined): value is T {
  return value !== undefined;
}

/**
 * Primero's workload as Kubernetes objects, from validated values. Pure: no cluster, no Pulumi.
 * The migration Job comes before the Deployments; the Deployments also wait for it (init container).
 */
export function renderPrimero(input: PrimeroValues): StagedManifest[] {
  const values = primeroValuesSchema.parse(input, INTERPRETED);
  const as = (stage: StagedManifest['stage']) => (object: object) => ({
    stage,
    object: object as KubeObject,
  });
  const config = [
    primeroConfigMap(values),
    nginxConfigMap(values),
    dhparamConfigMap(values),
    opsConfigMap(values),
    azurePostgresCaConfigMap(values),
    serviceAccount(values, NAMES.application, 'application'),
    serviceAccount(values, NAMES.worker, 'worker'),
    serviceAccount(values, NAMES.nginx, 'nginx'),
    serviceAccount(values, 'primero-migrate', 'migrate'),
    values.solr.enabled ? serviceAccount(values, NAMES.solr, 'solr') : undefined,
    values.ops.backup ? serviceAccount(values, NAMES.backup, 'ops') : undefined,
    values.ops.drill ? serviceAccount(values, NAMES.drill, 'ops') : undefined,
    serviceAccount(values, NAMES.doctor, 'ops'),
    keyVaultServiceAccount(values),
    secretProviderClass(values),
    keyVaultSyncDeployment(values),
    ...doctorRbac(values),
    ...networkPolicies(values),
    attachmentsClaim(values),
    drillReportsClaim(values),
    ...tlsResources(values),
    solrStatefulSet(values),
    solrService(values),
  ].filter(present);
  const workload = [
    applicationDeployment(values),
    applicationService(values),
    workerDeployment(values),
    nginxDeployment(values),
    nginxService(values),
    gatewayRoute(values),
    backendTlsPolicy(values),
    podDisruptionBudget(values, NAMES.application, 'application'),
    podDisruptionBudget(values, NAMES.worker, 'worker'),
    podDisruptionBudget(values, NAMES.nginx, 'nginx'),
    values.solr.enabled ? podDisruptionBudget(values, NAMES.solr, 'solr') : undefined,
    values.azure ? podDisruptionBudget(values, KEY_VAULT_SYNC, 'key-vault') : undefined,
  ].filter(present);
  const staged = [
    ...config.map(as('config')),
    as('migrate')(migrateJob(values)),
    ...workload.map(as('workload')),
    ...opsCronJobs(values).map(as('ops')),
  ];
  const monitoring = monitoringManifests(
    values,
    staged.map((manifest) => manifest.object),
  );
  return [...staged, ...monitoring.map(as('ops'))];
}
