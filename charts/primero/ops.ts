import { posix } from 'node:path';
import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { SERVICE_ACCOUNT_DIR } from '../../core/kubernetes/client.js';
import {
  containerSecurityContext,
  emptyDir,
  labels,
  metadata,
  NAMES,
  podSecurityContext,
  resourcesFor,
  UIDS,
} from './common.js';
import { DB_CA_DIR, databaseCaPath, databaseCaVolume } from './config.js';
import type { PrimeroValues } from './values.js';

/**
 * The ops CronJobs run the tier4 CLI image against this site: backup, restore drill, doctor.
 * They read the same tier4.yaml (a ConfigMap: it holds no secret values) and get each secret it
 * references from a named Secret key. The age identity, which can decrypt every backup, is mounted
 * into the drill job only.
 */

const CONFIG_DIR = '/etc/tier4';
export const REPORTS_DIR = '/reports';

export function opsConfigMap(values: PrimeroValues): IConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(values, NAMES.opsConfig, 'ops'),
    data: { 'tier4.yaml': values.ops.configYaml },
  };
}

export function drillReportsClaim(values: PrimeroValues): IPersistentVolumeClaim | undefined {
  if (!values.ops.drill) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: metadata(values, 'tier4-drill-reports', 'ops'),
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  };
}

interface FileSecret {
  path: string;
  from: { name: string; key: string };
}

/** One projected volume per directory, so each secret file appears at exactly the path tier4.yaml names. */
function secretFileVolumes(
  files: FileSecret[],
  prefix: string,
): { volumes: IVolume[]; mounts: IVolumeMount[] } {
  const byDir = new Map<string, FileSecret[]>();
  for (const file of files) {
    const dir = posix.dirname(file.path);
    byDir.set(dir, [...(byDir.get(dir) ?? []), file]);
  }
  const volumes: IVolume[] = [];
  const mounts: IVolumeMount[] = [];
  [...byDir.entries()].forEach(([dir, inDir], index) => {
    const name = `${prefix}-${index}`;
    volumes.push({
      name,
      projected: {
        defaultMode: 0o400,
        sources: inDir.map((file) => ({
          secret: { name: file.from.name, items: [{ key: file.from.key, path: posix.basename(file.path) }] },
        })),
      },
    });
    mounts.push({ name, mountPath: dir, readOnly: true });
  });
  return { volumes, mounts };
}

function opsCronJob(
  values: PrimeroValues,
  options: {
    name: string;
    serviceAccount: string;
    schedule: string;
    args: string[];
    deadlineSeconds: number;
    backoffLimit: number;
    extraEnv?: IEnvVar[];
    extraFiles?: FileSecret[];
    extraVolumes?: IVolume[];
    extraMounts?: IVolumeMount[];
    supplementalGroups?: number[];
  },
): ICronJob {
  const env: IEnvVar[] = [
    { name: 'TIER4_CONFIG', value: `${CONFIG_DIR}/tier4.yaml` },
    { name: 'HOME', value: '/tmp' },
    { name: 'NO_COLOR', value: '1' },
    ...values.ops.env.map((item) => ({
      name: item.name,
      valueFrom: { secretKeyRef: { name: item.from.name, key: item.from.key } },
    })),
    // The database CA for pg_dump/pg_restore (libpq) and for node-postgres (core/postgres/connection.ts
    // reads PGSSLROOTCERT the way libpq does), so sslmode=verify-full works inside the pod.
    ...(values.database.ca ? [{ name: 'PGSSLROOTCERT', value: databaseCaPath(values)! }] : []),
    ...(options.extraEnv ?? []),
  ];
  const ca = databaseCaVolume(values);
  const files = secretFileVolumes([...values.ops.files, ...(options.extraFiles ?? [])], 'secret-files');
  const container: IContainer = {
    name: options.name.replace(/^tier4-/, ''),
    image: values.images.ops,
    command: ['tier4'],
    args: options.args,
    env,
    volumeMounts: [
      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
      ...files.mounts,
      ...(ca ? [{ name: ca.name, mountPath: DB_CA_DIR, readOnly: true }] : []),
      ...(options.extraMounts ?? []),
    ],
    resources: resourcesFor(values, 'ops'),
    securityContext: containerSecurityContext(UIDS.ops),
  };
  const podLabels = { ...labels(values, 'ops'), 'tier4.primero.org/job': options.name };
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: metadata(values, options.name, 'ops'),
    spec: {
      schedule: options.schedule,
      timeZone: 'Etc/UTC',
      // Never two runs at once (a backup overlapping a backup); a missed run is skipped after the deadline.
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels: podLabels },
        spec: {
          backoffLimit: options.backoffLimit,
          activeDeadlineSeconds: options.deadlineSeconds,
          ttlSecondsAfterFinished: 3 * 86_400,
          template: {
            metadata: { labels: podLabels },
            spec: {
              serviceAccountName: options.serviceAccount,
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              restartPolicy: 'Never',
              securityContext: {
                ...podSecurityContext(UIDS.ops),
                ...(options.supplementalGroups ? { supplementalGroups: options.supplementalGroups } : {}),
              },
              containers: [container],
              volumes: [
                { name: 'config', configMap: { name: NAMES.opsConfig } },
                emptyDir('tmp', '10Gi'),
                ...files.volumes,
                ...(ca ? [ca] : []),
                ...(options.extraVolumes ?? []),
              ],
            },
          },
        },
      },
    },
  };
}

/**
 * Local attachments, read-only, at the path tier4.yaml names (attachments.path, also PRIMERO_STORAGE_PATH):
 * the backup reads them there. A read-only claim is never re-owned by fsGroup; Primero's group is added so
 * files only its group may read stay readable.
 */
function attachmentsReadOnly(values: PrimeroValues) {
  const storage = values.storage;
  if (storage.type !== 'local') return {};
  return {
    extraVolumes: [
      { name: 'attachments', persistentVolumeClaim: { claimName: NAMES.attachments, readOnly: true } },
    ],
    extraMounts: [{ name: 'attachments', mountPath: storage.path, readOnly: true }],
    supplementalGroups: [UIDS.primero],
  };
}

export function opsCronJobs(values: PrimeroValues): ICronJob[] {
  const site = values.site;
  const jobs: ICronJob[] = [];
  const backup = values.ops.backup;
  if (backup) {
    jobs.push(
      opsCronJob(values, {
        name: NAMES.backup,
        serviceAccount: NAMES.backup,
        schedule: backup.schedule,
        args: ['backup', 'create', '--site', site, '--json'],
        deadlineSeconds: 6 * 3600,
        backoffLimit: 2,
        ...attachmentsReadOnly(values),
      }),
    );
  }
  const drill = values.ops.drill;
  if (drill) {
    const identity = drill.identity;
    jobs.push(
      opsCronJob(values, {
        name: NAMES.drill,
        serviceAccount: NAMES.drill,
        schedule: drill.schedule,
        args: ['drill', '--site', site, '--report-dir', REPORTS_DIR],
        deadlineSeconds: 12 * 3600,
        backoffLimit: 1,
        extraFiles: [
          ...(identity.path
            ? [{ path: identity.path, from: { name: identity.secret, key: identity.key } }]
            : []),
          ...drill.files,
        ],
        extraEnv: [
          ...(identity.env
            ? [
                {
                  name: identity.env,
                  valueFrom: { secretKeyRef: { name: identity.secret, key: identity.key } },
                },
              ]
            : []),
          ...drill.env.map((item) => ({
            name: item.name,
            valueFrom: { secretKeyRef: { name: item.from.name, key: item.from.key } },
          })),
        ],
        extraVolumes: [
          { name: 'reports', persistentVolumeClaim: { claimName: 'tier4-drill-reports' } },
          // The scratch server's own CA, where drills.server's sslrootcert names it.
          ...(drill.serverCa
            ? [
                {
                  name: 'drill-db-ca',
                  secret: {
                    secretName: drill.serverCa.secret,
                    items: [{ key: drill.serverCa.key, path: drill.serverCa.key }],
                  },
                },
              ]
            : []),
        ],
        extraMounts: [
          { name: 'reports', mountPath: REPORTS_DIR },
          ...(drill.serverCa ? [{ name: 'drill-db-ca', mountPath: drill.serverCa.dir, readOnly: true }] : []),
        ],
      }),
    );
  }
  const doctor = values.ops.doctor;
  const token = doctorNeedsApi(values) ? serviceAccountToken() : undefined;
  jobs.push(
    opsCronJob(values, {
      name: NAMES.doctor,
      serviceAccount: NAMES.doctor,
      schedule: doctor.schedule,
      args: ['doctor', '--site', site, '--format', 'prometheus'],
      deadlineSeconds: 600,
      backoffLimit: 0,
      extraEnv: doctor.env.map((item) => ({
        name: item.name,
        valueFrom: { secretKeyRef: { name: item.from.name, key: item.from.key } },
      })),
      extraFiles: doctor.files,
      extraVolumes: token ? [token.volume] : [],
      extraMounts: token ? [token.mount] : [],
    }),
  );
  return jobs;
}

function doctorNeedsApi(values: PrimeroValues): boolean {
  const reads = values.ops.doctor.reads;
  return reads.secrets.length > 0 || reads.listSecrets || reads.certificates.length > 0;
}

/**
 * The doctor's API credentials, mounted explicitly rather than by automountServiceAccountToken, so that
 * only this pod gets a token. The projected volume is the one the kubelet would mount (Kubernetes docs,
 * "Configure Service Accounts for Pods": a serviceAccountToken, the kube-root-ca.crt ConfigMap and the
 * namespace), at the path in-cluster clients read (core/kubernetes/client.ts). Short-lived and rotated.
 */
export function serviceAccountToken(): { volume: IVolume; mount: IVolumeMount } {
  return {
    volume: {
      name: 'kube-api-access',
      projected: {
        defaultMode: 0o444,
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          {
            downwardAPI: {
              items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
            },
          },
        ],
      },
    },
    mount: { name: 'kube-api-access', mountPath: SERVICE_ACCOUNT_DIR, readOnly: true },
  };
}

/**
 * Least privilege for the doctor: `get` on the named TLS Secret and cert-manager Certificate it checks,
 * `list` on Secrets only when client certificates are kept as Secrets (RBAC cannot narrow a list by name).
 * No other job gets a Role.
 */
export function doctorRbac(values: PrimeroValues): Array<IRole | IRoleBinding> {
  if (!doctorNeedsApi(values)) return [];
  const reads = values.ops.doctor.reads;
  const rules: NonNullable<IRole['rules']> = [];
  if (reads.secrets.length > 0)
    rules.push({ apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: reads.secrets });
  if (reads.listSecrets) rules.push({ apiGroups: [''], resources: ['secrets'], verbs: ['list'] });
  if (reads.certificates.length > 0)
    rules.push({
      apiGroups: ['cert-manager.io'],
      resources: ['certificates'],
      verbs: ['get'],
      resourceNames: reads.certificates,
    });
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: metadata(values, NAMES.doctor, 'ops'),
      rules,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: metadata(values, NAMES.doctor, 'ops'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAMES.doctor },
      subjects: [{ kind: 'ServiceAccount', name: NAMES.doctor, namespace: values.namespace }],
    },
  ];
}

/**
 * For the migration Job: wait until the database accepts connections, so that a first install applied with
 * kubectl (which, unlike Pulumi, does not wait for the CloudNativePG Cluster) does not spend the Job's
 * retries on a server still starting. pg_isready (PostgreSQL client tools, in the ops image) needs no
 * password; exit 0 means the server accepts connections. The Job's activeDeadlineSeconds bounds the wait.
 */
export function waitForDatabaseContainer(values: PrimeroValues): IContainer {
  const db = values.database;
  return {
    name: 'wait-for-database',
    image: values.images.ops,
    command: ['sh', '-c', 'until pg_isready --quiet --timeout=5; do sleep 5; done'],
    env: [
      { name: 'PGHOST', value: db.host },
      { name: 'PGPORT', value: String(db.port) },
      { name: 'PGDATABASE', value: db.name },
      { name: 'PGUSER', value: db.user },
      { name: 'PGCONNECT_TIMEOUT', value: '5' },
    ],
    resources: resourcesFor(values, 'ops'),
    securityContext: containerSecurityContext(UIDS.ops),
  };
}
