import { z } from 'zod';

/**
 * The chart's input: everything the manifests depend on, already resolved from tier4.yaml
 * (see from-site.ts). Secret values never appear here, only the names of the Secrets that hold them.
 */

const name = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes name');
/** A pinned image: a tag other than latest, or a digest. */
const pinnedImage = z
  .string()
  .regex(/^[^\s@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$/, 'must name a tag or digest')
  .refine((image) => !image.endsWith(':latest'), 'must be pinned, not :latest');
const secretKey = z.object({ name, key: z.string().min(1) }).strict();
const resources = z
  .object({
    requests: z.object({ cpu: z.string(), memory: z.string() }).strict(),
    limits: z.object({ cpu: z.string(), memory: z.string() }).strict(),
  })
  .strict();

export const COMPONENTS = ['application', 'worker', 'nginx', 'solr', 'migrate', 'ops'] as const;
export type Component = (typeof COMPONENTS)[number];

const storageSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('local'),
      path: z.string().startsWith('/'),
      size: z.string(),
      storageClass: z.string().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('microsoft'),
      account: z.string(),
      container: z.string(),
      key: secretKey,
    })
    .strict(),
  z
    .object({
      type: z.enum(['amazon', 'minio']),
      bucket: z.string(),
      region: z.string(),
      endpoint: z.string().optional(),
      accessKey: secretKey,
      secretAccessKey: secretKey,
    })
    .strict(),
]);

const certManagerSchema = z
  .object({
    issuer: z.discriminatedUnion('kind', [
      z
        .object({
          kind: z.literal('acme'),
          email: z.string(),
          server: z.string(),
          solver: z.discriminatedUnion('type', [
            z.object({ type: z.literal('gateway'), namespace: name, name }).strict(),
            z
              .object({
                type: z.literal('azure-dns'),
                subscriptionId: z.string(),
                resourceGroup: z.string(),
                zone: z.string(),
                /** cert-manager's workload identity (managedIdentity.clientID in the solver). */
                clientId: z.string(),
              })
              .strict(),
          ]),
        })
        .strict(),
      z.object({ kind: z.literal('ca'), caSecret: name }).strict(),
      z.object({ kind: z.literal('existing'), name: z.string(), clusterIssuer: z.boolean() }).strict(),
    ]),
  })
  .strict();

const cronJobSchema = z.object({ schedule: z.string().regex(/^(\S+\s+){4}\S+$/) }).strict();

/**
 * How the values are parsed: interpreted, not by the code zod generates per object schema on first parse
 * (ParseContext.jitless, zod's core/schemas.d.ts). A render parses them a few times in a short process, where
 * generating that code costs more than it saves (as for tier4.yaml itself: core/config/load.ts; #16).
 */
export const INTERPRETED = { jitless: true } as const;

export const primeroValuesSchema = z
  .object({
    deployment: name,
    site: name,
    role: z.enum(['demo', 'production']),
    namespace: name,
    version: z.string(),
    images: z
      .object({
        application: pinnedImage,
        worker: pinnedImage,
        nginx: pinnedImage,
        solr: pinnedImage,
        ops: pinnedImage,
      })
      .strict(),
    /** PRIMERO_HOST and the nginx server name. */
    host: z.string().min(1),
    replicas: z
      .object({
        application: z.number().int().min(1),
        worker: z.number().int().min(1),
        nginx: z.number().int().min(1),
      })
      .strict(),
    resources: z.record(z.enum(COMPONENTS), resources),
    solr: z
      .object({ enabled: z.boolean(), storageSize: z.string(), storageClass: z.string().optional() })
      .strict(),
    database: z
      .object({
        host: z.string(),
        port: z.number().int(),
        name: z.string(),
        user: z.string(),
        sslMode: z.enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']),
        password: secretKey,
        /** CA certificate for verify-ca/verify-full, mounted and named by PGSSLROOTCERT. */
        ca: z
          .object({ name, key: z.string().min(1), kind: z.enum(['Secret', 'ConfigMap']) })
          .strict()
          .optional(),
        /** In-cluster database (CloudNativePG): egress goes to these pod labels. */
        podSelector: z.record(z.string(), z.string()).optional(),
        /** CloudNativePG's operator namespace, which must reach the instances. */
        operatorNamespace: z.string().optional(),
        /** Out-of-cluster database: egress goes to these CIDRs on port. */
        cidrs: z.array(z.string()),
      })
      .strict(),
    storage: storageSchema,
    /** The Secret with PRIMERO_SECRET_KEY_BASE, DEVISE_SECRET_KEY, PRIMERO_MESSAGE_SECRET. */
    appSecret: name,
    tls: z
      .object({
        secretName: name,
        /** The names the certificate covers: the host first, then tls.altNames. */
        dnsNames: z.array(z.string().min(1)).min(1),
        certManager: certManagerSchema.optional(),
      })
      .strict(),
    exposure: z
      .object({
        type: z.enum(['LoadBalancer', 'NodePort']),
        loadBalancerIP: z.string().optional(),
        nodePort: z.number().int().optional(),
        gateway: z.object({ namespace: name, name }).strict().optional(),
      })
      .strict(),
    network: z
      .object({
        clientCidrs: z.array(z.string()).min(1),
        storageCidrs: z.array(z.string()),
        apiServerCidrs: z.array(z.string()),
        smtp: z
          .object({ cidrs: z.array(z.string()), port: z.number().int() })
          .strict()
          .optional(),
      })
      .strict(),
    /**
     * A site on Azure (the demo): the Key Vault its Secrets come from (Secrets Store CSI driver with the
     * workload identity the stack federates with `serviceAccount`), and the stack's static ingress address.
     */
    azure: z
      .object({
        resourceGroup: z.string(),
        ingressIpName: z.string(),
        keyVault: z
          .object({
            name: z.string(),
            tenantId: z.string(),
            clientId: z.string(),
            serviceAccount: name,
            /** Each Kubernetes Secret key the pods read, and the Key Vault secret it is synced from. */
            secrets: z.array(z.object({ secret: name, key: z.string(), object: name }).strict()).min(1),
          })
          .strict(),
      })
      .strict()
      .optional(),
    /** Demo only: where PrimeroConfigurationSyncService sends promoted configurations. */
    promotion: z
      .object({ host: z.string(), port: z.number().int(), tls: z.boolean(), basicAuth: secretKey })
      .strict()
      .optional(),
    /** Outgoing mail (config/mailers.yml.template); the password, when there is a user, from a Secret key. */
    mail: z
      .object({
        from: z.string(),
        address: z.string(),
        port: z.number().int(),
        domain: z.string(),
        user: z.string().optional(),
        auth: z.string().optional(),
        startTls: z.boolean(),
        password: secretKey.optional(),
      })
      .strict()
      .optional(),
    /** PRIMERO_WORKER_MULTIPROCESS: run long-running jobs (configuration apply) in a second worker process. */
    workerMultiprocess: z.boolean(),
    /** First install: run primero-bootstrap (migrate + seeds) instead of primero-migrate. */
    migration: z.object({ bootstrap: z.boolean() }).strict(),
    ops: z
      .object({
        /** tier4.yaml itself (no secret values by construction), mounted into the ops jobs. */
        configYaml: z.string(),
        backup: cronJobSchema.optional(),
        drill: cronJobSchema
          .extend({
            /** The age identity: a file mounted at path, or an environment variable env. */
            identity: z
              .object({
                secret: name,
                key: z.string(),
                path: z.string().optional(),
                env: z.string().optional(),
              })
              .strict(),
            /** drills.password, for the drill job only. */
            env: z.array(z.object({ name: z.string(), from: secretKey }).strict()).default([]),
            files: z
              .array(z.object({ path: z.string().startsWith('/'), from: secretKey }).strict())
              .default([]),
            /** The scratch server's CA (a Secret), mounted at dir: the folder of drills.server's sslrootcert. */
            serverCa: z
              .object({ secret: name, key: z.string(), dir: z.string().startsWith('/') })
              .strict()
              .optional(),
            /** Pod labels of the rendered scratch server, for the drill job's egress. */
            serverPods: z.record(z.string(), z.string()).optional(),
          })
          .optional(),
        doctor: cronJobSchema
          .extend({
            /** What the doctor reads from the Kubernetes API (certificate checks); nothing else is granted. */
            reads: z
              .object({
                secrets: z.array(name),
                listSecrets: z.boolean(),
                certificates: z.array(name),
              })
              .strict(),
            /** The promotion peer's Primero credentials, for the configuration drift check only. */
            env: z.array(z.object({ name: z.string(), from: secretKey }).strict()),
            files: z.array(z.object({ path: z.string().startsWith('/'), from: secretKey }).strict()),
          })
          .strict(),
        /** The exporter beside the doctor CronJob (charts/primero/monitoring.ts). */
        monitoring: z
          .object({
            prometheusOperator: z.boolean(),
            selectorLabels: z.record(z.string(), z.string()),
            prometheusNamespace: name,
            interval: z.string(),
            runbookBaseUrl: z.string(),
            /** From the site: the alert thresholds. */
            rpoSeconds: z.number().int().positive().optional(),
            drillIntervalSeconds: z.number().int().positive(),
          })
          .strict(),
        /** {env: NAME} references the jobs need, each from a Secret key. */
        env: z.array(z.object({ name: z.string(), from: secretKey }).strict()),
        /** {file: /path} references the jobs need (not the age identity), each from a Secret key. */
        files: z.array(z.object({ path: z.string().startsWith('/'), from: secretKey }).strict()),
      })
      .strict(),
  })
  .strict();

export type PrimeroValues = z.infer<typeof primeroValuesSchema>;
export type ValuesResources = z.infer<typeof resources>;
