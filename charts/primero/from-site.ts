import { posix } from 'node:path';
import { azureResourceNames } from '../../core/azure-names.js';
import { type KubernetesSettings, kubernetesSettingsSchema } from '../../core/config/kubernetes.js';
import { formatIssues, getSite } from '../../core/config/load.js';
import { parseRepositoryUrl } from '../../core/config/repository-url.js';
import {
  DEFAULT_DRILL_INTERVAL_SECONDS,
  DEFAULT_DRILL_SCHEDULE,
  DEFAULT_TLS_SECRET,
  type SiteConfig,
  type Tier4Config,
} from '../../core/config/schema.js';
import { UsageError } from '../../core/errors.js';
import { DEFAULT_DATABASE } from '../../core/primero/tables.js';
import { AZURE_POSTGRES_CA_CONFIGMAP, isAzureFlexibleServer } from './azure-postgres-ca.js';
import { azureValues } from './azure-values.js';
import { inPodIssues } from './in-pod.js';
import {
  type Component,
  INTERPRETED,
  type PrimeroValues,
  primeroValuesSchema,
  type ValuesResources,
} from './values.js';

/** Requests and limits per component; sized for a small country office, raise them in tier4.yaml. */
export const DEFAULT_RESOURCES: Record<Component, ValuesResources> = {
  application: { requests: { cpu: '500m', memory: '1536Mi' }, limits: { cpu: '2', memory: '3Gi' } },
  worker: { requests: { cpu: '250m', memory: '1Gi' }, limits: { cpu: '1', memory: '2Gi' } },
  nginx: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
  solr: { requests: { cpu: '250m', memory: '1Gi' }, limits: { cpu: '1', memory: '2Gi' } },
  migrate: { requests: { cpu: '250m', memory: '1Gi' }, limits: { cpu: '1', memory: '2Gi' } },
  ops: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
};

const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';

export interface ValuesOptions {
  /** The text of tier4.yaml, mounted into the ops CronJobs. */
  configText: string;
  /** Run primero-bootstrap instead of primero-migrate. */
  firstInstall?: boolean;
}

/** The site's kubernetes block with every default filled in (a site without one gets the defaults). */
export function kubernetesSettings(site: SiteConfig): KubernetesSettings {
  return site.kubernetes ?? kubernetesSettingsSchema.parse({});
}

/** Name of the Secret (key `password`) that holds the database password. */
export function databaseSecretName(k: KubernetesSettings): string {
  if (k.secrets.database) return k.secrets.database;
  return k.postgres.mode === 'cloudnativepg' ? `${k.postgres.clusterName}-app` : 'primero-database';
}

/**
 * Derives the chart values for one site. Throws UsageError when the site cannot run on Kubernetes as
 * configured, naming the setting to change.
 */
export function valuesFromSite(config: Tier4Config, siteName: string, options: ValuesOptions): PrimeroValues {
  const { site } = getSite(config, siteName);
  const issues = inPodIssues(siteName, site);
  if (issues.length > 0) {
    throw new UsageError(
      `The site "${siteName}" cannot run on Kubernetes as configured:\n  ${issues.map((issue) => `${issue.path} ${issue.message}`).join('\n  ')}`,
      'Fix these settings in tier4.yaml; the jobs run inside the cluster, where laptop paths and localhost do not exist.',
    );
  }
  const k = kubernetesSettings(site);
  const url = new URL(site.primero.url);
  const version = site.primero.version;
  const appSecret = k.secrets.app;
  const database = databaseValues(siteName, site, k);

  const values = {
    deployment: config.deployment.name,
    site: siteName,
    role: site.role,
    namespace: k.namespace,
    version,
    images: {
      application: `primeroims/application:${version}`,
      worker: `primeroims/worker:${version}`,
      nginx: `primeroims/nginx:${version}`,
      solr: `primeroims/solr:${version}`,
      ops: k.opsImage,
    },
    host: url.hostname,
    replicas: k.replicas,
    resources: { ...DEFAULT_RESOURCES, ...k.resources },
    solr: { enabled: site.primero.solr, storageSize: k.solr.storageSize, storageClass: k.solr.storageClass },
    database,
    storage: storageValues(site, k),
    appSecret,
    tls: tlsValues(config, siteName, site, k),
    exposure: {
      type: k.exposure.type,
      loadBalancerIP: k.exposure.loadBalancerIP,
      nodePort: k.exposure.nodePort,
      gateway: k.exposure.gateway ? splitRef(k.exposure.gateway) : undefined,
    },
    network: k.network,
    promotion: promotionValues(config, siteName, appSecret),
    mail: mailValues(siteName, k, url.hostname),
    workerMultiprocess: k.workerMultiprocess,
    migration: { bootstrap: options.firstInstall === true },
    ops: opsValues(config, siteName, site, k, options.configText),
  };
  const parsed = primeroValuesSchema.safeParse(values, INTERPRETED);
  if (!parsed.success) {
    throw new UsageError(
      `The site "${siteName}" cannot be rendered for Kubernetes:\n  ${formatIssues(parsed.error.issues).join('\n  ')}`,
      'Fix the matching settings under sites.<name>.kubernetes in tier4.yaml.',
    );
  }
  // A site on Azure also gets its Key Vault and ingress-address wiring, which reads the other values.
  const azure = azureValues(config, siteName, site, parsed.data, secretRefsIn(site));
  return azure ? primeroValuesSchema.parse({ ...parsed.data, azure }, INTERPRETED) : parsed.data;
}

function mailValues(siteName: string, k: KubernetesSettings, host: string): PrimeroValues['mail'] {
  const mail = k.mail;
  if (!mail) return undefined;
  const smtp = k.network.smtp;
  if (!smtp || smtp.port !== mail.port) {
    throw new UsageError(
      `sites.${siteName}.kubernetes.mail sends to port ${mail.port}, but kubernetes.network.smtp ${smtp ? `allows port ${smtp.port}` : 'is not set'}: the default-deny egress policy would drop every mail.`,
      `Set kubernetes.network.smtp to {cidrs: [<relay's address>/32], port: ${mail.port}}.`,
    );
  }
  return {
    from: mail.from,
    address: mail.address,
    port: mail.port,
    domain: mail.domain ?? host,
    user: mail.user,
    auth: mail.auth,
    startTls: mail.startTls,
    password: mail.user ? { name: k.secrets.app, key: 'SMTP_PASSWORD' } : undefined,
  };
}

function splitRef(ref: string): { namespace: string; name: string } {
  const [namespace = '', name = ''] = ref.split('/');
  return { namespace, name };
}

function databaseValues(
  siteName: string,
  site: SiteConfig,
  k: KubernetesSettings,
): PrimeroValues['database'] {
  const url = new URL(site.database.url);
  const sslMode = (url.searchParams.get('sslmode') ?? 'verify-full') as PrimeroValues['database']['sslMode'];
  const common = {
    host: url.hostname,
    port: Number(url.port || 5432),
    name: decodeURIComponent(url.pathname.replace(/^\//, '')) || DEFAULT_DATABASE,
    user: decodeURIComponent(url.username),
    sslMode,
    password: { name: databaseSecretName(k), key: 'password' },
  };
  if (k.postgres.mode === 'cloudnativepg') {
    const cluster = k.postgres.clusterName;
    return {
      ...common,
      // CloudNativePG's own CA signs the server certificate for <cluster>-rw.<namespace>.svc.
      ca: { name: `${cluster}-ca`, key: 'ca.crt', kind: 'Secret' as const },
      podSelector: { 'cnpg.io/cluster': cluster },
      operatorNamespace: k.postgres.operatorNamespace,
      cidrs: [],
    };
  }
  // Azure's flexible server: its public roots, rendered as a ConfigMap, unless the operator names a Secret.
  if (!k.postgres.caSecret && isAzureFlexibleServer(url.hostname)) {
    return {
      ...common,
      ca: { name: AZURE_POSTGRES_CA_CONFIGMAP, key: 'ca.crt', kind: 'ConfigMap' },
      cidrs: k.postgres.cidrs,
    };
  }
  if ((sslMode === 'verify-full' || sslMode === 'verify-ca') && !k.postgres.caSecret) {
    throw new UsageError(
      `sites.${siteName}.database.url asks for sslmode ${sslMode}, which needs the server's CA certificate, but kubernetes.postgres.caSecret is not set.`,
      'Create a Secret with key ca.crt (the CA that signed the PostgreSQL server certificate) and name it in kubernetes.postgres.caSecret.',
    );
  }
  return {
    ...common,
    ca: k.postgres.caSecret
      ? { name: k.postgres.caSecret, key: 'ca.crt', kind: 'Secret' as const }
      : undefined,
    cidrs: k.postgres.cidrs,
  };
}

function storageValues(site: SiteConfig, k: KubernetesSettings): PrimeroValues['storage'] {
  const attachments = site.attachments;
  const app = k.secrets.app;
  if (attachments.type === 'local') {
    return { type: 'local', path: attachments.path, size: k.attachmentsSize, storageClass: k.storageClass };
  }
  if (attachments.type === 'azure') {
    return {
      type: 'microsoft',
      account: attachments.account,
      container: attachments.container,
      key: { name: app, key: 'PRIMERO_STORAGE_AZ_KEY' },
    };
  }
  // Primero's `minio` service is S3 with a custom endpoint and path-style addressing; `amazon` is AWS itself.
  const type = attachments.endpoint ? 'minio' : 'amazon';
  const prefix = type === 'minio' ? 'PRIMERO_STORAGE_MINIO' : 'PRIMERO_STORAGE_AWS';
  return {
    type,
    bucket: attachments.bucket,
    region: attachments.region,
    endpoint: attachments.endpoint,
    accessKey: { name: app, key: `${prefix}_ACCESS_KEY` },
    secretAccessKey: { name: app, key: `${prefix}_SECRET_ACCESS_KEY` },
  };
}

function tlsValues(
  config: Tier4Config,
  siteName: string,
  site: SiteConfig,
  k: KubernetesSettings,
): PrimeroValues['tls'] {
  const source = site.tls?.source ?? { type: 'kubernetes-secret' as const, secret: DEFAULT_TLS_SECRET };
  const host = site.tls?.host ?? new URL(site.primero.url).hostname;
  const dnsNames = [...new Set([host, ...(site.tls?.altNames ?? [])])];
  if (source.type === 'files') {
    throw new UsageError(
      `sites.${siteName}.tls.source is "files", which is for VM installs; on Kubernetes nginx reads a Secret.`,
      'Use tls.source {type: kubernetes-secret, secret: NAME} or {type: cert-manager, ...}.',
    );
  }
  if (source.type === 'kubernetes-secret') return { secretName: source.secret, dnsNames };
  const issuer = source.issuer;
  if (issuer.kind !== 'acme') return { secretName: source.secret, dnsNames, certManager: { issuer } };
  // HTTP-01 needs a route to cert-manager's solver: a Gateway when there is one; else DNS-01 on Azure DNS.
  let solver: { type: 'gateway'; namespace: string; name: string } | undefined;
  if (k.exposure.gateway) solver = { type: 'gateway', ...splitRef(k.exposure.gateway) };
  const azure = site.azure;
  const solverOrDns = solver ?? (azure?.dns ? azureDnsSolver(config, siteName, azure) : undefined);
  if (!solverOrDns) {
    throw new UsageError(
      `sites.${siteName}.tls.source asks for an ACME certificate, but there is no way to answer the challenge.`,
      'Set kubernetes.exposure.gateway (HTTP-01 through Gateway API), azure.dns.zone (DNS-01), or use an existing ClusterIssuer ({kind: existing, name}).',
    );
  }
  return {
    secretName: source.secret,
    dnsNames,
    certManager: {
      issuer: {
        kind: 'acme',
        email: issuer.email,
        server: issuer.server ?? LETS_ENCRYPT,
        solver: solverOrDns,
      },
    },
  };
}

/** DNS-01 in the stack's zone, as the identity the stack federates with cert-manager (docs/azure-demo.md). */
function azureDnsSolver(config: Tier4Config, siteName: string, azure: NonNullable<SiteConfig['azure']>) {
  const clientId = azure.identities.certManagerClientId;
  if (!clientId) {
    throw new UsageError(
      `sites.${siteName}.azure.identities.certManagerClientId is not set; cert-manager needs it to answer DNS-01 challenges in ${azure.dns?.zone}.`,
      `Run \`tier4 site apply ${siteName}\` and copy its cert_manager_identity_client_id output into sites.${siteName}.azure.identities.certManagerClientId.`,
    );
  }
  return {
    type: 'azure-dns' as const,
    subscriptionId: azure.subscriptionId,
    resourceGroup: azureResourceNames(config.deployment.name, siteName, azure).resourceGroup,
    zone: azure.dns?.zone ?? '',
    clientId,
  };
}

function promotionValues(
  config: Tier4Config,
  siteName: string,
  appSecret: string,
): PrimeroValues['promotion'] {
  if (config.promotion?.from !== siteName) return undefined;
  // With `transfer: database`, tier4 moves the snapshot itself: demo's Primero needs no route to production.
  if ((config.promotion as { transfer?: string }).transfer === 'database') return undefined;
  const target = config.sites[config.promotion.to];
  if (!target) return undefined;
  const url = new URL(target.primero.url);
  const tls = url.protocol === 'https:';
  return {
    host: url.hostname,
    port: Number(url.port || (tls ? 443 : 80)),
    tls,
    basicAuth: { name: appSecret, key: 'PRIMERO_PROMOTE_CONFIG_PROD_BASIC_AUTH' },
  };
}

interface SecretRefAt {
  path: string[];
  ref: { env: string } | { file: string };
}

/** Every secret reference in a site's configuration, with where it sits. */
export function secretRefsIn(value: unknown, path: string[] = []): SecretRefAt[] {
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value))
    return value.flatMap((item, index) => secretRefsIn(item, [...path, String(index)]));
  const keys = Object.keys(value);
  const record = value as Record<string, unknown>;
  if (keys.length === 1 && keys[0] === 'env' && typeof record.env === 'string') {
    return [{ path, ref: { env: record.env } }];
  }
  if (keys.length === 1 && keys[0] === 'file' && typeof record.file === 'string') {
    return [{ path, ref: { file: record.file } }];
  }
  return keys.flatMap((key) => secretRefsIn(record[key], [...path, key]));
}

type EnvRef = { name: string; from: { name: string; key: string } };
type FileRef = { path: string; from: { name: string; key: string } };

/**
 * The Secret key behind each {env}/{file} reference: env NAME from opsEnv key NAME, a file from opsFiles
 * keyed by its base name; the database password from the Secret the application uses.
 */
class SecretSources {
  readonly env = new Map<string, EnvRef>();
  readonly files = new Map<string, FileRef>();
  private readonly keysUsed = new Map<string, string>();
  constructor(private readonly k: KubernetesSettings) {}

  /** `from`: the Secret key the application itself reads, when the reference is to the same value. */
  add(ref: SecretRefAt['ref'], from?: { name: string; key: string }): void {
    if ('env' in ref) {
      this.env.set(ref.env, { name: ref.env, from: from ?? { name: this.k.secrets.opsEnv, key: ref.env } });
      return;
    }
    const key = posix.basename(ref.file);
    const clash = this.keysUsed.get(key);
    if (clash !== undefined && clash !== ref.file) {
      throw new UsageError(
        `Two secret files share the name ${key} (${clash} and ${ref.file}); the ops jobs mount them from one Secret.`,
        'Give the files different names in tier4.yaml.',
      );
    }
    this.keysUsed.set(key, ref.file);
    this.files.set(ref.file, {
      path: ref.file,
      from: from ?? { name: this.k.secrets.opsFiles, key },
    });
  }
}

/** The other site of `promotion:`, whose Primero the doctor's drift check reads. */
function promotionPeer(config: Tier4Config, siteName: string): SiteConfig | undefined {
  const promotion = config.promotion;
  if (!promotion) return undefined;
  if (promotion.from === siteName) return config.sites[promotion.to];
  if (promotion.to === siteName) return config.sites[promotion.from];
  return undefined;
}

/** What `tier4 doctor` reads from the cluster (certs/status.ts): the TLS Secret, the Certificate, client Secrets. */
function doctorReads(site: SiteConfig): PrimeroValues['ops']['doctor']['reads'] {
  const source = site.tls?.source;
  if (!site.tls || !source || source.type === 'files')
    return { secrets: [], listSecrets: false, certificates: [] };
  return {
    secrets: [source.secret],
    listSecrets: site.tls.clients?.store?.type === 'kubernetes-secret',
    certificates: source.type === 'cert-manager' ? [source.certificate] : [],
  };
}

function opsValues(
  config: Tier4Config,
  siteName: string,
  site: SiteConfig,
  k: KubernetesSettings,
  configText: string,
): PrimeroValues['ops'] {
  const identityRef = site.backups?.encryption.identity;
  const sources = new SecretSources(k);
  const doctorSources = new SecretSources(k);
  const drillServer = renderedDrillServer(site, k);
  const drillSources = new SecretSources(k);
  for (const { path, ref } of secretRefsIn(site)) {
    const at = path.join('.');
    if (at === 'backups.encryption.identity') continue; // only the drill job gets it
    // Only the doctor checks the message secret: the very key Primero reads (core/primero/message-secret.ts).
    if (at === 'primero.messageSecret') {
      doctorSources.add(ref, { name: k.secrets.app, key: 'PRIMERO_MESSAGE_SECRET' });
      continue;
    }
    // Only the drill job gets the scratch server's password: CNPG's <cluster>-superuser when it is rendered.
    if (at === 'drills.password') {
      drillSources.add(ref, drillServer ? { name: drillServer.superuserSecret, key: 'password' } : undefined);
      continue;
    }
    sources.add(
      ref,
      at === 'database.password' ? { name: databaseSecretName(k), key: 'password' } : undefined,
    );
  }
  // Only the doctor job gets the promotion peer's Primero credentials (configuration drift).
  const peer = promotionPeer(config, siteName);
  for (const { ref } of secretRefsIn(peer?.primero.auth)) {
    if ('env' in ref ? sources.env.has(ref.env) : sources.files.has(ref.file)) continue;
    doctorSources.add(ref);
  }

  let drill: PrimeroValues['ops']['drill'];
  if (site.backups && identityRef) {
    const schedule = site.drills?.schedule ?? DEFAULT_DRILL_SCHEDULE;
    drill =
      'file' in identityRef
        ? {
            schedule,
            identity: {
              secret: k.secrets.drillIdentity,
              key: posix.basename(identityRef.file),
              path: identityRef.file,
            },
            env: [],
            files: [],
          }
        : {
            schedule,
            identity: { secret: k.secrets.drillIdentity, key: identityRef.env, env: identityRef.env },
            env: [],
            files: [],
          };
  }
  if (drill) {
    drill.env = [...drillSources.env.values()];
    drill.files = [...drillSources.files.values()];
    if (drillServer) {
      drill.serverCa = { secret: `${drillServer.cluster}-ca`, key: 'ca.crt', dir: drillServer.caDir };
      drill.serverPods = { 'cnpg.io/cluster': drillServer.cluster };
    }
  }
  return {
    configYaml: configText,
    backup: site.backups ? { schedule: site.backups.schedule } : undefined,
    drill,
    doctor: {
      schedule: k.doctorSchedule,
      reads: doctorReads(site),
      env: [...doctorSources.env.values()],
      files: [...doctorSources.files.values()],
    },
    monitoring: {
      ...k.monitoring,
      ...(site.backups ? { rpoSeconds: site.backups.rpo.seconds } : {}),
      drillIntervalSeconds: site.drills?.interval.seconds ?? DEFAULT_DRILL_INTERVAL_SECONDS,
    },
    env: [...sources.env.values()],
    files: [...sources.files.values()],
  };
}

/**
 * The scratch server for drills that `tier4 site render` adds: a one-instance CloudNativePG cluster named
 * <clusterName>-drill, rendered when drills.server points at its read-write Service. Its superuser (CNPG's
 * enableSuperuserAccess, Secret <cluster>-superuser, key password) may create the scratch databases, which
 * CloudNativePG's application owner may not (LOGIN only: pkg/management/postgres/initdb.go). Its server
 * certificate is signed by its own CA (<cluster>-ca, key ca.crt), mounted where drills.server's sslrootcert says.
 */
export function renderedDrillServer(
  site: SiteConfig,
  k: KubernetesSettings,
): { cluster: string; superuserSecret: string; caDir: string; storageSize: string } | undefined {
  const server = site.drills?.server;
  if (!server || k.postgres.mode !== 'cloudnativepg') return undefined;
  const cluster = `${k.postgres.clusterName}-drill`;
  const url = new URL(server);
  const service = `${cluster}-rw`;
  const ours = [
    service,
    `${service}.${k.namespace}`,
    `${service}.${k.namespace}.svc`,
    `${service}.${k.namespace}.svc.cluster.local`,
  ];
  if (!ours.includes(url.hostname)) return undefined;
  const rootCert = url.searchParams.get('sslrootcert');
  if (!rootCert?.startsWith('/')) {
    throw new UsageError(
      `sites.drills.server points at the rendered scratch server ${service} but has no absolute sslrootcert: its certificate is signed by ${cluster}-ca, which the drill job mounts at that folder.`,
      `Add &sslrootcert=/etc/tier4-drill-db-ca/ca.crt (and sslmode=verify-full) to drills.server.`,
    );
  }
  return {
    cluster,
    superuserSecret: `${cluster}-superuser`,
    caDir: posix.dirname(rootCert),
    storageSize: k.postgres.drillStorageSize,
  };
}

/** For the WAL archive default: the backup repository as an object-store URL CloudNativePG understands. */
export function walArchiveDefault(
  site: SiteConfig,
): { destinationPath: string; endpointURL?: string } | undefined {
  const repository = site.backups?.repository;
  if (!repository) return undefined;
  const location = parseRepositoryUrl(repository);
  if (typeof location === 'string' || location.kind === 'file') return undefined;
  if (location.kind === 's3') {
    const prefix = [location.prefix, 'cnpg-wal'].filter(Boolean).join('/');
    return { destinationPath: `s3://${location.bucket}/${prefix}`, endpointURL: site.backups?.s3?.endpoint };
  }
  const prefix = [location.prefix, 'cnpg-wal'].filter(Boolean).join('/');
  return {
    destinationPath: `https://${location.account}.blob.core.windows.net/${location.container}/${prefix}`,
  };
}
