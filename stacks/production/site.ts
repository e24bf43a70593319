import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { PrimeroValues } from '../../charts/index.js';
import {
  type KubeObject,
  kubernetesSettings,
  labels,
  renderedDrillServer,
  renderPrimero,
  type ValuesOptions,
  valuesFromSite,
  vaultSecretsToAdd,
  walArchiveDefault,
} from '../../charts/index.js';
import { getSite } from '../../core/config/load.js';
import { DEFAULT_WAL_ARCHIVE, type Tier4Config } from '../../core/config/schema.js';
import { REQUIRED_EXTENSIONS } from '../../core/primero/tables.js';

/**
 * Everything one site needs on its cluster, in the order it must be applied. The Pulumi program
 * (program.ts) and `tier4 site render` both use this list: one definition for both paths.
 */

export const STAGES = ['namespace', 'database', 'config', 'migrate', 'workload', 'ops'] as const;
export type Stage = (typeof STAGES)[number];

export interface SiteManifest {
  stage: Stage;
  object: KubeObject;
}

export interface SitePlan {
  values: PrimeroValues;
  manifests: SiteManifest[];
  /** Things the operator should know that are not errors (e.g. no WAL archive). */
  notes: string[];
  /** The kubeconfig context to deploy with; undefined means the current context. */
  context: string | undefined;
}

const BARMAN_PLUGIN = 'barman-cloud.cloudnative-pg.io';

export function namespaceManifest(values: PrimeroValues): INamespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: values.namespace,
      labels: {
        ...labels(values, 'namespace'),
        // Pod Security admission rejects any pod in this namespace that is not "restricted".
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/audit': 'restricted',
        'pod-security.kubernetes.io/warn': 'restricted',
      },
    },
  };
}

/** CloudNativePG: a Cluster, and when there is an object store, its WAL archive and scheduled base backups. */
function databaseManifests(
  config: Tier4Config,
  siteName: string,
  values: PrimeroValues,
  notes: string[],
): KubeObject[] {
  const { site } = getSite(config, siteName);
  const k = kubernetesSettings(site);
  if (k.postgres.mode !== 'cloudnativepg') return [];
  const pg = k.postgres;
  const meta = (name: string) => ({ name, namespace: values.namespace, labels: labels(values, 'database') });
  // Pulumi's provider waits for a custom resource only when told how (pulumi.com/waitFor, @pulumi/kubernetes
  // ≥ 4.18); CloudNativePG sets the Cluster's Ready condition once its instances serve (CNPG docs, "Cluster
  // conditions"). So the migration Job, which depends on the database stage, starts against a ready server.
  const awaitReady = { 'pulumi.com/waitFor': 'condition=Ready', 'pulumi.com/timeoutSeconds': '1800' };
  const archive = pg.walArchive ?? walArchiveDefault(site);
  const storeName = `${pg.clusterName}-store`;
  const out: KubeObject[] = [];

  if (archive) {
    const credentials =
      'credentialsSecret' in archive ? archive.credentialsSecret : DEFAULT_WAL_ARCHIVE.credentialsSecret;
    const retention = 'retention' in archive ? archive.retention : DEFAULT_WAL_ARCHIVE.retention;
    const azure =
      archive.destinationPath.startsWith('https://') && archive.destinationPath.includes('.blob.core.');
    out.push({
      apiVersion: 'barmancloud.cnpg.io/v1',
      kind: 'ObjectStore',
      metadata: meta(storeName),
      spec: {
        retentionPolicy: retention,
        configuration: {
          destinationPath: archive.destinationPath,
          ...(archive.endpointURL ? { endpointURL: archive.endpointURL } : {}),
          ...(azure
            ? {
                azureCredentials: {
                  storageAccount: { name: credentials, key: 'AZURE_STORAGE_ACCOUNT' },
                  storageKey: { name: credentials, key: 'AZURE_STORAGE_KEY' },
                },
              }
            : {
                s3Credentials: {
                  accessKeyId: { name: credentials, key: 'ACCESS_KEY_ID' },
                  secretAccessKey: { name: credentials, key: 'ACCESS_SECRET_KEY' },
                },
              }),
          wal: { compression: 'gzip', maxParallel: 2 },
          data: { compression: 'gzip', jobs: 2 },
        },
      },
    });
  } else {
    notes.push(
      `sites.${siteName}: no object store for the PostgreSQL WAL archive (the backup repository is not s3:// or azblob://), so point-in-time recovery is off. Set kubernetes.postgres.walArchive.`,
    );
  }

  out.push({
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: { ...meta(pg.clusterName), annotations: awaitReady },
    spec: {
      instances: pg.instances,
      imageName: pg.imageName,
      primaryUpdateStrategy: 'unsupervised',
      enablePDB: true,
      storage: { size: pg.storageSize, ...(pg.storageClass ? { storageClass: pg.storageClass } : {}) },
      affinity: {
        enablePodAntiAffinity: true,
        topologyKey: 'kubernetes.io/hostname',
        podAntiAffinityType: 'preferred',
      },
      resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '2Gi' } },
      bootstrap: {
        initdb: {
          database: values.database.name,
          owner: values.database.user,
          // Primero's extensions, created by the superuser so the application role needs no extra rights.
          postInitApplicationSQL: REQUIRED_EXTENSIONS.map((name) => `CREATE EXTENSION IF NOT EXISTS ${name}`),
        },
      },
      ...(archive
        ? {
            plugins: [
              { name: BARMAN_PLUGIN, isWALArchiver: true, parameters: { barmanObjectName: storeName } },
            ],
          }
        : {}),
    },
  });

  const drill = renderedDrillServer(site, k);
  if (drill) {
    // The drills' scratch server: one instance, its own storage, no archive; its superuser creates and drops
    // the scratch databases (enableSuperuserAccess: CNPG docs, "Superuser access" → <cluster>-superuser).
    out.push({
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      metadata: { ...meta(drill.cluster), labels: labels(values, 'drill-database'), annotations: awaitReady },
      spec: {
        instances: 1,
        imageName: pg.imageName,
        enableSuperuserAccess: true,
        storage: { size: drill.storageSize, ...(pg.storageClass ? { storageClass: pg.storageClass } : {}) },
        resources: { requests: { cpu: '250m', memory: '1Gi' }, limits: { cpu: '2', memory: '2Gi' } },
        bootstrap: { initdb: { database: 'drill', owner: 'drill' } },
      },
    });
  }
  if (archive) {
    out.push({
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'ScheduledBackup',
      metadata: meta(`${pg.clusterName}-base`),
      spec: {
        schedule: pg.baseBackupSchedule,
        immediate: true,
        backupOwnerReference: 'self',
        cluster: { name: pg.clusterName },
        method: 'plugin',
        pluginConfiguration: { name: BARMAN_PLUGIN },
      },
    });
  }
  return out;
}

export function planSite(config: Tier4Config, siteName: string, options: ValuesOptions): SitePlan {
  const values = valuesFromSite(config, siteName, options);
  const { site } = getSite(config, siteName);
  const notes: string[] = [];
  const manifests: SiteManifest[] = [
    { stage: 'namespace', object: namespaceManifest(values) as KubeObject },
    ...databaseManifests(config, siteName, values, notes).map((object) => ({
      stage: 'database' as const,
      object,
    })),
    ...renderPrimero(values),
  ];
  const toAdd = vaultSecretsToAdd(values);
  if (toAdd.length > 0) {
    notes.push(
      `Key Vault ${values.azure?.keyVault.name} must hold these secrets before deploying (the stack generates the others): ${toAdd.join(', ')}. Store each once with \`az keyvault secret set --vault-name ${values.azure?.keyVault.name} --name NAME --file VALUE_FILE\`.`,
    );
  }
  return { values, manifests, notes, context: kubernetesSettings(site).context };
}
