import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { loadBalancerAnnotations } from './azure.js';
import {
  APP_ROOT,
  containerSecurityContext,
  emptyDir,
  metadata,
  migrateJobName,
  NAMES,
  podSecurityContext,
  resourcesFor,
  selectorLabels,
  UIDS,
} from './common.js';
import { DB_CA_DIR, DHPARAM_DIR, databaseCaVolume, primeroSecretEnv, TLS_DIR } from './config.js';
import { waitForDatabaseContainer } from './ops.js';
import { NGINX_IMAGE, SOLR_IMAGE } from './upstream.js';
import type { Component, PrimeroValues } from './values.js';

/** One ServiceAccount per workload, with no API token: none of Primero's pods talk to the Kubernetes API. */
export function serviceAccount(values: PrimeroValues, name: string, component: string): IServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: metadata(values, name, component),
    automountServiceAccountToken: false,
  };
}

export function podDisruptionBudget(
  values: PrimeroValues,
  name: string,
  component: string,
): IPodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(values, name, component),
    // maxUnavailable 1 keeps one pod serving during a drain when there are two, and never blocks a drain.
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(values, component) } },
  };
}

// ----------------------------------------------------------------------------- Primero application pods

/** Volumes every Primero (Rails) pod needs: writable copies of what the image writes at start. */
function railsVolumes(values: PrimeroValues): IVolume[] {
  const volumes: IVolume[] = [
    // The entrypoint renders config/*.yml.template in place, so config/ is a writable copy of the image's.
    emptyDir('config', '64Mi'),
    emptyDir('app-tmp', '2Gi'),
    emptyDir('app-log', '256Mi'),
    emptyDir('tmp', '1Gi'),
  ];
  const ca = databaseCaVolume(values);
  if (ca) volumes.push(ca);
  return volumes;
}

function railsMounts(values: PrimeroValues): IVolumeMount[] {
  const mounts: IVolumeMount[] = [
    { name: 'config', mountPath: `${APP_ROOT}/config` },
    { name: 'app-tmp', mountPath: `${APP_ROOT}/tmp` },
    { name: 'app-log', mountPath: `${APP_ROOT}/log` },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  if (values.database.ca) mounts.push({ name: 'db-ca', mountPath: DB_CA_DIR, readOnly: true });
  return mounts;
}

function attachmentsVolume(values: PrimeroValues): { volumes: IVolume[]; mounts: IVolumeMount[] } {
  if (values.storage.type !== 'local') return { volumes: [], mounts: [] };
  return {
    volumes: [{ name: 'attachments', persistentVolumeClaim: { claimName: NAMES.attachments } }],
    mounts: [{ name: 'attachments', mountPath: values.storage.path }],
  };
}

function railsEnv(values: PrimeroValues) {
  return {
    envFrom: [{ configMapRef: { name: NAMES.config } }],
    env: primeroSecretEnv(values),
  };
}

/**
 * An init container that copies folders of its image into writable volumes: the root filesystem is read-only,
 * and the images write where these folders are (Primero renders config at start, nginx and Solr their own files).
 */
function copyFromImage(
  values: PrimeroValues,
  component: Component,
  uid: number,
  spec: {
    name: string;
    image: string;
    copies: Array<{ from: string; volume: string; to: string }>;
    afterwards?: string;
    mounts?: IVolumeMount[];
  },
): IContainer {
  const commands = spec.copies.map((copy) => `cp -a ${copy.from}/. ${copy.to}/`);
  if (spec.afterwards) commands.push(spec.afterwards);
  return {
    name: spec.name,
    image: spec.image,
    command: ['sh', '-c', commands.join(' && ')],
    volumeMounts: [
      ...spec.copies.map((copy) => ({ name: copy.volume, mountPath: copy.to })),
      ...(spec.mounts ?? []),
    ],
    resources: resourcesFor(values, component),
    securityContext: containerSecurityContext(uid),
  };
}

/** Primero's config/ (and, for the migration, db/) into writable volumes, and tmp/ laid out as the image had it. */
function copyConfigContainer(
  values: PrimeroValues,
  image: string,
  component: Component,
  alsoDb = false,
): IContainer {
  return copyFromImage(values, component, UIDS.primero, {
    name: 'copy-config',
    image,
    copies: [
      { from: `${APP_ROOT}/config`, volume: 'config', to: '/work/config' },
      ...(alsoDb ? [{ from: `${APP_ROOT}/db`, volume: 'db', to: '/work/db' }] : []),
    ],
    afterwards: 'mkdir -p /work/tmp/export /work/tmp/exports',
    mounts: [{ name: 'app-tmp', mountPath: '/work/tmp' }],
  });
}

/**
 * Holds the pod until the primero-migrate Job has brought the schema up to this release, so a plain
 * `kubectl apply` of all manifests at once is safe (Pulumi also orders the Job first with dependsOn).
 * It goes through Primero's entrypoint, which renders config/database.yml first.
 */
function waitForMigrationsContainer(values: PrimeroValues, image: string, component: Component): IContainer {
  return {
    name: 'wait-for-migrations',
    image,
    args: [
      'bash',
      '-c',
      'until [ "$(bin/check_migrated.rb)" = DATABASE_MIGRATED ]; do echo "waiting for the primero-migrate Job"; sleep 10; done',
    ],
    ...railsEnv(values),
    volumeMounts: railsMounts(values),
    resources: resourcesFor(values, component),
    securityContext: containerSecurityContext(UIDS.primero),
  };
}

function podSpec(spec: Omit<IPodSpec, 'automountServiceAccountToken'>): IPodSpec {
  return { automountServiceAccountToken: false, enableServiceLinks: false, ...spec };
}

export function applicationDeployment(values: PrimeroValues): IDeployment {
  const component = 'application';
  const attachments = attachmentsVolume(values);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(values, NAMES.application, component),
    spec: {
      replicas: values.replicas.application,
      revisionHistoryLimit: 5,
      selector: { matchLabels: selectorLabels(values, component) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: metadata(values, '', component).labels },
        spec: podSpec({
          serviceAccountName: NAMES.application,
          securityContext: podSecurityContext(UIDS.primero),
          initContainers: [
            copyConfigContainer(values, values.images.application, component),
            waitForMigrationsContainer(values, values.images.application, component),
          ],
          containers: [
            {
              name: 'application',
              image: values.images.application,
              args: ['primero-start'],
              ports: [{ name: 'http', containerPort: 3000, protocol: 'TCP' }],
              ...railsEnv(values),
              volumeMounts: [...railsMounts(values), ...attachments.mounts],
              resources: resourcesFor(values, component),
              securityContext: containerSecurityContext(UIDS.primero),
              // Rails boots slowly; the startup probe gives it five minutes before liveness takes over.
              startupProbe: {
                httpGet: { path: '/health/server', port: 'http' },
                periodSeconds: 10,
                failureThreshold: 30,
                timeoutSeconds: 5,
              },
              // /health/server answers without touching the database: a database outage must not restart pods.
              livenessProbe: {
                httpGet: { path: '/health/server', port: 'http' },
                periodSeconds: 20,
                timeoutSeconds: 5,
                failureThreshold: 3,
              },
              // /health checks the database (and Solr when enabled): no traffic to a pod that cannot serve it.
              readinessProbe: {
                httpGet: { path: '/health', port: 'http' },
                periodSeconds: 10,
                timeoutSeconds: 5,
                failureThreshold: 3,
              },
            },
          ],
          volumes: [...railsVolumes(values), ...attachments.volumes],
        }),
      },
    },
  };
}

export function workerDeployment(values: PrimeroValues): IDeployment {
  const component = 'worker';
  const attachments = attachmentsVolume(values);
  const alive = { exec: { command: ['pgrep', '-f', 'jobs:work'] } };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(values, NAMES.worker, component),
    spec: {
      replicas: values.replicas.worker,
      revisionHistoryLimit: 5,
      selector: { matchLabels: selectorLabels(values, component) },
      template: {
        metadata: { labels: metadata(values, '', component).labels },
        spec: podSpec({
          serviceAccountName: NAMES.worker,
          securityContext: podSecurityContext(UIDS.primero),
          // A configuration apply runs in the worker; give it time to finish before the pod goes.
          terminationGracePeriodSeconds: 300,
          initContainers: [
            copyConfigContainer(values, values.images.worker, component),
            waitForMigrationsContainer(values, values.images.worker, component),
          ],
          containers: [
            {
              name: 'worker',
              image: values.images.worker,
              args: ['primero-worker'],
              ...railsEnv(values),
              volumeMounts: [...railsMounts(values), ...attachments.mounts],
              resources: resourcesFor(values, component),
              securityContext: containerSecurityContext(UIDS.primero),
              // The worker serves no HTTP: liveness is "the job runner process exists".
              startupProbe: { ...alive, periodSeconds: 10, failureThreshold: 30 },
              livenessProbe: { ...alive, periodSeconds: 30, failureThreshold: 3 },
            },
          ],
          volumes: [...railsVolumes(values), ...attachments.volumes],
        }),
      },
    },
  };
}

/** Runs primero-migrate (or primero-bootstrap on first install) once per release, before the app rolls out. */
export function migrateJob(values: PrimeroValues): IJob {
  const component = 'migrate';
  const command = values.migration.bootstrap ? 'primero-bootstrap' : 'primero-migrate';
  const env = railsEnv(values);
  const attachments = attachmentsVolume(values);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: metadata(values, migrateJobName(values), component, {
      // Argo CD and similar tools apply lower waves first and wait for the Job to complete.
      'argocd.argoproj.io/sync-wave': '-1',
      'tier4.primero.org/runs-before': `${NAMES.application},${NAMES.worker}`,
    }),
    spec: {
      backoffLimit: 2,
      activeDeadlineSeconds: 3600,
      template: {
        metadata: { labels: metadata(values, '', component).labels },
        spec: podSpec({
          serviceAccountName: 'primero-migrate',
          restartPolicy: 'Never',
          securityContext: podSecurityContext(UIDS.primero),
          // db:migrate rewrites db/schema.rb afterwards (Rails' default), so db/ is a writable copy too.
          initContainers: [
            waitForDatabaseContainer(values),
            copyConfigContainer(values, values.images.application, component, true),
          ],
          containers: [
            {
              name: 'migrate',
              image: values.images.application,
              args: [command],
              envFrom: env.envFrom,
              env: values.migration.bootstrap
                ? [...env.env, { name: 'RUN_DEFAULT_PRIMERO_SEEDS', value: 'true' }]
                : env.env,
              // The seeds attach agency logos, written to PRIMERO_STORAGE_PATH (upstream.ts STORAGE).
              volumeMounts: [
                ...railsMounts(values),
                { name: 'db', mountPath: `${APP_ROOT}/db` },
                ...attachments.mounts,
              ],
              resources: resourcesFor(values, component),
              securityContext: containerSecurityContext(UIDS.primero),
            },
          ],
          volumes: [...railsVolumes(values), emptyDir('db', '256Mi'), ...attachments.volumes],
        }),
      },
    },
  };
}

export function applicationService(values: PrimeroValues): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(values, NAMES.application, 'application'),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(values, 'application'),
      ports: [{ name: 'http', port: 3000, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

// ----------------------------------------------------------------------------- nginx

/**
 * Drop ALL but keep NET_BIND_SERVICE in the bounding set: the image's /usr/sbin/nginx carries the file
 * capability cap_net_bind_service=+ep, and the kernel refuses to exec it when the bounding set lacks it
 * (upstream.ts NGINX_IMAGE). Pod Security "restricted" allows adding exactly this one.
 */
function nginxSecurityContext() {
  const context = containerSecurityContext(UIDS.nginx);
  return { ...context, capabilities: { drop: ['ALL'], add: [...NGINX_IMAGE.capabilities] } };
}

export function nginxDeployment(values: PrimeroValues): IDeployment {
  const component = 'nginx';
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(values, NAMES.nginx, component),
    spec: {
      replicas: values.replicas.nginx,
      revisionHistoryLimit: 5,
      selector: { matchLabels: selectorLabels(values, component) },
      template: {
        metadata: { labels: metadata(values, '', component).labels },
        spec: podSpec({
          serviceAccountName: NAMES.nginx,
          securityContext: {
            ...podSecurityContext(UIDS.nginx),
            // allowPrivilegeEscalation false (no_new_privs) keeps the kernel from granting nginx's file
            // capability at exec, so binding 80/443 as uid 1001 needs this namespaced, "safe" sysctl.
            sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }],
          },
          initContainers: [
            copyFromImage(values, component, UIDS.nginx, {
              name: 'copy-conf',
              image: values.images.nginx,
              copies: [{ from: '/etc/nginx/conf.d', volume: 'conf', to: '/work/conf.d' }],
            }),
          ],
          containers: [
            {
              name: 'nginx',
              image: values.images.nginx,
              ports: [
                { name: 'http', containerPort: 80, protocol: 'TCP' },
                { name: 'https', containerPort: 443, protocol: 'TCP' },
              ],
              envFrom: [{ configMapRef: { name: NAMES.nginxConfig } }],
              volumeMounts: [
                // The entrypoint writes conf.d/primero.conf from its template at start.
                { name: 'conf', mountPath: '/etc/nginx/conf.d' },
                { name: 'cache', mountPath: '/var/cache/nginx' },
                { name: 'run', mountPath: '/var/run' },
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'tls', mountPath: TLS_DIR, readOnly: true },
                { name: 'dhparam', mountPath: DHPARAM_DIR, readOnly: true },
              ],
              resources: resourcesFor(values, component),
              securityContext: nginxSecurityContext(),
              // TCP only: the default server rejects a TLS handshake without SNI (kubelet sends none), and
              // port 80 answers every path with a redirect (upstream.ts NGINX_IMAGE.probes).
              startupProbe: { tcpSocket: { port: 'https' }, periodSeconds: 5, failureThreshold: 24 },
              livenessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 20, failureThreshold: 3 },
              readinessProbe: {
                tcpSocket: { port: 'https' },
                periodSeconds: 10,
                timeoutSeconds: 5,
                failureThreshold: 3,
              },
            },
          ],
          volumes: [
            emptyDir('conf', '16Mi'),
            emptyDir('cache', '512Mi'),
            emptyDir('run', '16Mi'),
            emptyDir('tmp', '256Mi'),
            { name: 'tls', secret: { secretName: values.tls.secretName } },
            { name: 'dhparam', configMap: { name: NAMES.dhparam } },
          ],
        }),
      },
    },
  };
}

export function nginxService(values: PrimeroValues): IService {
  const exposure = values.exposure;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(values, NAMES.nginx, 'nginx', loadBalancerAnnotations(values)),
    spec: {
      type: exposure.type,
      // Keep the client's address, so the NetworkPolicy's client CIDRs mean what they say.
      externalTrafficPolicy: 'Local',
      ...(exposure.loadBalancerIP ? { loadBalancerIP: exposure.loadBalancerIP } : {}),
      selector: selectorLabels(values, 'nginx'),
      ports: [
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        {
          name: 'https',
          port: 443,
          targetPort: 'https',
          protocol: 'TCP',
          ...(exposure.type === 'NodePort' && exposure.nodePort ? { nodePort: exposure.nodePort } : {}),
        },
      ],
    },
  };
}

export function gatewayRoute(values: PrimeroValues) {
  const gateway = values.exposure.gateway;
  if (!gateway) return undefined;
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: metadata(values, 'primero', 'nginx'),
    spec: {
      parentRefs: [
        {
          group: 'gateway.networking.k8s.io',
          kind: 'Gateway',
          namespace: gateway.namespace,
          name: gateway.name,
        },
      ],
      hostnames: [values.host],
      rules: [{ backendRefs: [{ kind: 'Service', name: NAMES.nginx, port: 443 }] }],
    },
  };
}

// ----------------------------------------------------------------------------- storage and Solr

export function attachmentsClaim(values: PrimeroValues): IPersistentVolumeClaim | undefined {
  const storage = values.storage;
  if (storage.type !== 'local') return undefined;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: metadata(values, NAMES.attachments, 'attachments', {
      // Losing this volume loses every attachment: tools that honour this keep it on uninstall.
      'helm.sh/resource-policy': 'keep',
    }),
    spec: {
      // The application and the worker both read and write attachments, possibly on different nodes.
      accessModes: ['ReadWriteMany'],
      ...(storage.storageClass ? { storageClassName: storage.storageClass } : {}),
      resources: { requests: { storage: storage.size } },
    },
  };
}

/**
 * What the image's solr.in.sh.template reads; docker compose gives Solr upstream's defaults.env (upstream.ts
 * SOLR_IMAGE). Logs go to /opt/logs, the emptyDir the image prepared for them, not onto the index volume.
 */
function solrEnv() {
  return [
    { name: 'SOLR_HEAP_MEMORY', value: '512m' },
    { name: 'SOLR_HOSTNAME', value: NAMES.solr },
    { name: 'SOLR_PORT', value: String(SOLR_IMAGE.port) },
    { name: 'SOLR_LOG_LEVEL', value: 'ERROR' },
    { name: 'SOLR_LOGS_DIR', value: '/opt/logs' },
  ];
}

export function solrStatefulSet(values: PrimeroValues): IStatefulSet | undefined {
  if (!values.solr.enabled) return undefined;
  const component = 'solr';
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: metadata(values, NAMES.solr, component),
    spec: {
      serviceName: NAMES.solr,
      replicas: 1,
      selector: { matchLabels: selectorLabels(values, component) },
      template: {
        metadata: { labels: metadata(values, '', component).labels },
        spec: podSpec({
          serviceAccountName: NAMES.solr,
          securityContext: podSecurityContext(UIDS.solr),
          initContainers: [
            copyFromImage(values, component, UIDS.solr, {
              name: 'copy-bin',
              image: values.images.solr,
              copies: [{ from: '/opt/solr/bin', volume: 'solr-bin', to: '/work/bin' }],
            }),
          ],
          containers: [
            {
              name: 'solr',
              image: values.images.solr,
              ports: [{ name: 'solr', containerPort: SOLR_IMAGE.port, protocol: 'TCP' }],
              env: solrEnv(),
              volumeMounts: [
                { name: 'data', mountPath: '/var/solr' },
                // The image's init script renders bin/solr.in.sh from its template at start.
                { name: 'solr-bin', mountPath: '/opt/solr/bin' },
                { name: 'solr-logs', mountPath: '/opt/logs' },
                { name: 'tmp', mountPath: '/tmp' },
              ],
              resources: resourcesFor(values, component),
              securityContext: containerSecurityContext(UIDS.solr),
              startupProbe: { tcpSocket: { port: 'solr' }, periodSeconds: 10, failureThreshold: 30 },
              livenessProbe: { tcpSocket: { port: 'solr' }, periodSeconds: 20, failureThreshold: 3 },
              readinessProbe: {
                httpGet: { path: '/solr/primero/admin/ping', port: 'solr' },
                periodSeconds: 10,
                timeoutSeconds: 5,
                failureThreshold: 3,
              },
            },
          ],
          volumes: [emptyDir('solr-bin', '64Mi'), emptyDir('solr-logs', '512Mi'), emptyDir('tmp', '512Mi')],
        }),
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(values.solr.storageClass ? { storageClassName: values.solr.storageClass } : {}),
            resources: { requests: { storage: values.solr.storageSize } },
          },
        },
      ],
    },
  };
}

export function solrService(values: PrimeroValues): IService | undefined {
  if (!values.solr.enabled) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(values, NAMES.solr, 'solr'),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(values, 'solr'),
      ports: [{ name: 'solr', port: 8983, targetPort: 'solr', protocol: 'TCP' }],
    },
  };
}
