import { parse } from 'yaml';
import { z } from 'zod';

function yamlPlainString(value: string): boolean {
  if (value.startsWith('$') || /[\r\n]/.test(value)) return false;
  try {
    return parse(`key: ${value}`, { version: '1.1' })?.key === value;
  } catch {
    return false;
  }
}

/** Where and how a site's Primero runs on Kubernetes (the on-prem production cluster, or AKS for demo). */

const dnsName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes name (lowercase letters, digits, hyphens)');
const cidr = z
  .string()
  .regex(
    /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-f:]+\/\d{1,3})$/i,
    'must be a CIDR such as 10.0.0.0/8 or 203.0.113.0/24',
  );
const quantity = z
  .string()
  .regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'must be a quantity like 500m or 1Gi');

const resources = z
  .object({
    requests: z.object({ cpu: quantity, memory: quantity }).strict(),
    limits: z.object({ cpu: quantity, memory: quantity }).strict(),
  })
  .strict();

/**
 * A value Primero pastes unquoted into config/mailers.yml (docker/sub.sh runs envsubst, then Ruby's YAML 1.1
 * reads it back): it must read back as the same string, so no ": ", " #", leading quote or bracket, and
 * nothing YAML 1.1 turns into a number or boolean ("yes", "off", "1234").
 */
const mailerValue = z
  .string()
  .min(1)
  .refine(
    (value) => yamlPlainString(value),
    'must read back as the same text from YAML (Primero writes it unquoted into mailers.yml); avoid ": ", " #", leading quotes or brackets, and values like yes/no or numbers',
  );

const DEFAULT_REPLICAS = { application: 2, worker: 1, nginx: 2 };

const DEFAULT_RUNBOOK_BASE_URL = 'https://github.com/primero-tier4/primero-tier4/blob/main/runbooks/';

const monitoringSettingsSchema = z
  .object({
    /**
     * The prometheus-operator CRDs (ServiceMonitor, PrometheusRule) are installed: render those objects.
     * Otherwise the Service carries the prometheus.io/* scrape annotations and the rules come as a ConfigMap.
     */
    prometheusOperator: z.boolean().default(false),
    /** Labels the operator's Prometheus selects ServiceMonitors and PrometheusRules by (e.g. release: ...). */
    selectorLabels: z.record(z.string(), z.string()).default({}),
    /** The namespace Prometheus scrapes from: the only one the exporter's NetworkPolicy lets in. */
    prometheusNamespace: dnsName.default('monitoring'),
    /** The pause between two doctor runs. */
    interval: z
      .string()
      .regex(/^\d+[smh]$/, 'must be a duration such as 5m')
      .default('5m'),
    /** Where the alerts' runbook_url points: the runbooks folder of your copy of tier4 (or your wiki). */
    runbookBaseUrl: z.string().url().default(DEFAULT_RUNBOOK_BASE_URL),
  })
  .strict()
  .default({
    prometheusOperator: false,
    selectorLabels: {},
    prometheusNamespace: 'monitoring',
    interval: '5m',
    runbookBaseUrl: DEFAULT_RUNBOOK_BASE_URL,
  });

/**
 * CloudNativePG's PostgreSQL 15 operand image, the one setting to change when updating it. The "system" tags
 * (e.g. 15.14, Debian bullseye) are deprecated and removed after their end of life (cloudnative-pg/
 * postgres-containers README); the "standard" image on Debian trixie is current. Tag and digest are copied
 * together from CloudNativePG's signed image catalog (cloudnative-pg/artifacts,
 * image-catalogs/catalog-standard-trixie.yaml, entry `major: 15`, commit 0b1123db, dated 2026-08-31), so the
 * operand is exactly the image that was published. How to update: docs/kubernetes.md, "PostgreSQL image".
 */
export const CNPG_POSTGRES_IMAGE =
  'ghcr.io/cloudnative-pg/postgresql:15.19-202608310817-standard-trixie@sha256:10c19625c4f43cd4f1cb04caf072a942853e10e510d96e9be656b3a7f0ad968a';

/** A PostgreSQL 15 operand image pinned by digest (a tag alone can be moved). */
const cnpgImage = z
  .string()
  .regex(
    /^[^\s@]+:15[.\w-]*@sha256:[0-9a-f]{64}$/,
    'must be a PostgreSQL 15 image pinned by digest, e.g. ghcr.io/cloudnative-pg/postgresql:15.N-…-standard-trixie@sha256:… (see docs/kubernetes.md, "PostgreSQL image")',
  )
  .refine((image) => /-(standard|minimal)-/.test(image), {
    message:
      'the "system" images (e.g. postgresql:15.14) are deprecated and removed after their end of life: use a standard-trixie image',
  });

/** The namespace a site runs in when kubernetes.namespace is not set. */
export const DEFAULT_NAMESPACE = 'primero';
/** CloudNativePG WAL archive defaults (kubernetes.postgres.walArchive). */
export const DEFAULT_WAL_ARCHIVE = { credentialsSecret: 'primero-db-objectstore', retention: '30d' } as const;

export const kubernetesSettingsSchema = z
  .object({
    /** kubeconfig context; default: the current context. */
    context: z.string().optional(),
    namespace: dnsName.default(DEFAULT_NAMESPACE),
    /** A ReadWriteMany storage class for attachments when they are stored locally. */
    storageClass: z.string().optional(),
    /** Size of the attachments volume when attachments are local. */
    attachmentsSize: quantity.default('100Gi'),
    exposure: z
      .object({
        type: z.enum(['LoadBalancer', 'NodePort']).default('LoadBalancer'),
        loadBalancerIP: z.string().optional(),
        nodePort: z.number().int().min(30_000).max(32_767).optional(),
        /** Attach an HTTPRoute to this Gateway API gateway (namespace/name). */
        gateway: z
          .string()
          .regex(/^[a-z0-9-]+\/[a-z0-9-]+$/, 'must be namespace/name of a Gateway')
          .optional(),
      })
      .strict()
      .default({ type: 'LoadBalancer' }),
    postgres: z
      .discriminatedUnion('mode', [
        z
          .object({
            mode: z.literal('cloudnativepg'),
            instances: z.number().int().min(1).default(3),
            storageSize: z.string().default('50Gi'),
            storageClass: z.string().optional(),
            /** The CloudNativePG Cluster name; its read-write service is <name>-rw. */
            clusterName: dnsName.default('primero-db'),
            /** PostgreSQL 15 operand image, pinned by digest. */
            imageName: cnpgImage.default(CNPG_POSTGRES_IMAGE),
            /**
             * WAL archive and base backups for point-in-time recovery (Barman Cloud plugin). Default: beside
             * the site's backup repository, under <prefix>/cnpg-wal.
             */
            walArchive: z
              .object({
                destinationPath: z
                  .string()
                  .regex(/^(s3|azure|gs|https?):\/\//, 'must be an object store URL'),
                endpointURL: z.string().url().optional(),
                /** Secret with ACCESS_KEY_ID / ACCESS_SECRET_KEY (S3) or AZURE_STORAGE_KEY (Azure). */
                credentialsSecret: dnsName.default(DEFAULT_WAL_ARCHIVE.credentialsSecret),
                retention: z
                  .string()
                  .regex(/^\d+[dwm]$/, 'must be like 30d')
                  .default(DEFAULT_WAL_ARCHIVE.retention),
              })
              .strict()
              .optional(),
            /** Base backups, six-field cron (seconds first) as CloudNativePG expects. */
            baseBackupSchedule: z.string().default('0 0 2 * * *'),
            /** Where the CloudNativePG operator and its Barman Cloud plugin run (for NetworkPolicy). */
            operatorNamespace: dnsName.default('cnpg-system'),
            /**
             * The scratch server for restore drills (<clusterName>-drill, one instance), rendered when
             * drills.server points at it: its own storage, sized for one restored copy.
             */
            drillStorageSize: quantity.default('50Gi'),
          })
          .strict(),
        z
          .object({
            mode: z.literal('external'),
            /** Secret holding the server's CA certificate (key ca.crt) for sslmode verify-full. */
            caSecret: dnsName.optional(),
            /** Where the server lives, for the egress NetworkPolicy; default: anywhere on port 5432. */
            cidrs: z.array(cidr).default([]),
          })
          .strict(),
      ])
      .default({
        mode: 'cloudnativepg',
        instances: 3,
        storageSize: '50Gi',
        clusterName: 'primero-db',
        imageName: CNPG_POSTGRES_IMAGE,
        baseBackupSchedule: '0 0 2 * * *',
        operatorNamespace: 'cnpg-system',
        drillStorageSize: '50Gi',
      }),
    /** Names of the Secrets the operator (or, on demo, Key Vault sync) creates. Values never appear here. */
    secrets: z
      .object({
        /** PRIMERO_SECRET_KEY_BASE, DEVISE_SECRET_KEY, PRIMERO_MESSAGE_SECRET, storage and promotion keys. */
        app: dnsName.default('primero-app'),
        /** Database password (key `password`). Default: CloudNativePG's <cluster>-app, else primero-database. */
        database: dnsName.optional(),
        /** Environment secrets ({env: NAME} references) for the ops CronJobs: one key per variable name. */
        opsEnv: dnsName.default('tier4-ops-env'),
        /** File secrets ({file: /path} references) for the ops CronJobs: one key per file name. */
        opsFiles: dnsName.default('tier4-ops-files'),
        /** The age identity: mounted into the restore-drill job only. */
        drillIdentity: dnsName.default('tier4-drill-identity'),
      })
      .strict()
      .default({
        app: 'primero-app',
        opsEnv: 'tier4-ops-env',
        opsFiles: 'tier4-ops-files',
        drillIdentity: 'tier4-drill-identity',
      }),
    replicas: z
      .object({
        application: z.number().int().min(1).default(DEFAULT_REPLICAS.application),
        worker: z.number().int().min(1).default(DEFAULT_REPLICAS.worker),
        nginx: z.number().int().min(1).default(DEFAULT_REPLICAS.nginx),
      })
      .strict()
      .default(DEFAULT_REPLICAS),
    /** Override requests/limits per component (application, worker, nginx, solr, migrate, ops). */
    resources: z
      .partialRecord(z.enum(['application', 'worker', 'nginx', 'solr', 'migrate', 'ops']), resources)
      .default({}),
    network: z
      .object({
        /** Who may reach Primero's nginx. */
        clientCidrs: z.array(cidr).min(1).default(['0.0.0.0/0']),
        /** Object storage (attachments, backups) reached over HTTPS; default: anywhere on 443. */
        storageCidrs: z.array(cidr).default([]),
        /** The Kubernetes API server, which CloudNativePG instances call; default: anywhere on 443/6443. */
        apiServerCidrs: z.array(cidr).default([]),
        /** The SMTP relay Primero sends mail through, if any. */
        smtp: z
          .object({ cidrs: z.array(cidr).min(1), port: z.number().int().min(1).max(65_535).default(587) })
          .strict()
          .optional(),
      })
      .strict()
      .default({ clientCidrs: ['0.0.0.0/0'], storageCidrs: [], apiServerCidrs: [] }),
    solr: z
      .object({ storageSize: quantity.default('10Gi'), storageClass: z.string().optional() })
      .strict()
      .default({ storageSize: '10Gi' }),
    /**
     * Primero's PRIMERO_WORKER_MULTIPROCESS: true runs configuration applies (queue long_running_process) in a
     * second worker process beside the other queues. Upstream's default is false.
     */
    workerMultiprocess: z.boolean().default(false),
    /**
     * Primero's outgoing mail (password resets, notifications): config/mailers.yml.template's MAILER_* and
     * SMTP_* variables. The SMTP password is read from the Secret `secrets.app`, key SMTP_PASSWORD, when `user`
     * is set. Needs `network.smtp` so the egress policy lets the mail out.
     */
    mail: z
      .object({
        /** MAILER_DEFAULT_FROM, e.g. "Primero <primero@example.org>". */
        from: mailerValue,
        /** SMTP_ADDRESS: the relay's host name or IP. */
        address: z.string().regex(/^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$/, 'must be a host name or IP'),
        port: z.number().int().min(1).max(65_535).default(587),
        /** SMTP_DOMAIN: the HELO name; default: the site's host. */
        domain: mailerValue.optional(),
        /** SMTP_USER; the password then comes from the app Secret's SMTP_PASSWORD key. */
        user: mailerValue.optional(),
        /** SMTP_AUTH, as Net::SMTP names it. */
        auth: z.enum(['plain', 'login', 'cram_md5']).optional(),
        /** SMTP_STARTTLS_AUTO. */
        startTls: z.boolean().default(true),
      })
      .strict()
      .optional(),
    /** How often the doctor CronJob checks the site. */
    doctorSchedule: z.string().default('*/30 * * * *'),
    /** The exporter (`tier4 doctor serve`), its alert rules and Grafana dashboard: see runbooks/monitoring.md. */
    monitoring: monitoringSettingsSchema,
    /** The tier4 CLI image for the ops CronJobs. */
    opsImage: z.string().default('ghcr.io/primero-tier4/tier4:0.1.0'),
    /** Pulumi state; default: a local file backend beside tier4.yaml, so no SaaS account is needed. */
    pulumiBackend: z.string().default('file://./.tier4/pulumi'),
  })
  .strict();

export type KubernetesSettings = z.infer<typeof kubernetesSettingsSchema>;
