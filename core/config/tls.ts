import { z } from 'zod';
import { durationSchema } from './duration.js';

/** How a site's TLS certificate is served and stored. */

const absolutePath = z.string().startsWith('/', 'must be an absolute path');

/** tier4's chart names nginx's Deployment (and Service) this; charts/primero/common.ts uses this constant. */
export const DEFAULT_NGINX_DEPLOYMENT = 'primero-nginx';
/** The kubernetes.io/tls Secret nginx mounts, when tls.source does not name one. */
export const DEFAULT_TLS_SECRET = 'primero-tls';

/** The Deployment whose pods serve the certificate; `tier4 certs rotate` restarts it after a Secret update. */
const nginxDeployment = z.string().default(DEFAULT_NGINX_DEPLOYMENT);

const certificateSource = z.discriminatedUnion('type', [
  /** Compose or VM installs: PEM files read by nginx, swapped by rename, then a reload command. */
  z
    .object({
      type: z.literal('files'),
      /** The full chain: leaf first, then intermediates (nginx's ssl_certificate). */
      cert: absolutePath,
      key: absolutePath,
      reloadCommand: z.string().min(1).default('nginx -s reload'),
      /** Checks the server's configuration, e.g. `nginx -t`: run before each reload and by `certs rotate --dry-run`. */
      testCommand: z.string().min(1).optional(),
      /** Where the replaced pair is kept; default: a `.tier4-previous` folder beside the certificate. */
      backupDir: absolutePath.optional(),
    })
    .strict(),
  /** A kubernetes.io/tls Secret mounted by Primero's nginx. */
  z
    .object({
      type: z.literal('kubernetes-secret'),
      secret: z.string().default(DEFAULT_TLS_SECRET),
      deployment: nginxDeployment,
    })
    .strict(),
  /** cert-manager issues the Secret: ACME for public hosts, or a CA issuer. */
  z
    .object({
      type: z.literal('cert-manager'),
      secret: z.string().default(DEFAULT_TLS_SECRET),
      /** The cert-manager Certificate resource; tier4's chart names it `primero`. */
      certificate: z.string().default('primero'),
      deployment: nginxDeployment,
      issuer: z
        .discriminatedUnion('kind', [
          z
            .object({
              kind: z.literal('acme'),
              email: z.string().email(),
              server: z.string().url().optional(),
            })
            .strict(),
          z.object({ kind: z.literal('ca'), caSecret: z.string() }).strict(),
          z
            .object({
              kind: z.literal('existing'),
              name: z.string(),
              clusterIssuer: z.boolean().default(true),
            })
            .strict(),
        ])
        .default({ kind: 'existing', name: 'letsencrypt', clusterIssuer: true }),
    })
    .strict(),
]);

/** Where client certificates (e.g. for UNHCR proGres v4/DTP) are kept. */
const clientCertificates = z
  .object({
    store: z
      .discriminatedUnion('type', [
        /** `<dir>/<name>.key` (mode 0600), `<name>.csr`, `<name>.crt`. */
        z.object({ type: z.literal('files'), dir: absolutePath }).strict(),
        /** One Secret per client, named `<prefix><name>`, in the site's namespace. */
        z
          .object({ type: z.literal('kubernetes-secret'), prefix: z.string().default('tier4-client-') })
          .strict(),
      ])
      .optional(),
    /** Lifetime of self-signed client certificates. */
    validDays: z.number().int().min(1).max(3650).default(365),
  })
  .strict();

export const tlsSettingsSchema = z
  .object({
    /** Default: the host of primero.url. */
    host: z.string().optional(),
    /** More names the certificate must cover (and that `tier4 certs csr` requests). */
    altNames: z.array(z.string().min(1)).default([]),
    port: z.number().int().min(1).max(65_535).default(443),
    /** Connect here instead of resolving host (SNI still uses host). */
    connectAddress: z.string().optional(),
    warnDays: z.number().int().min(1).default(30),
    failDays: z.number().int().min(0).default(14),
    /** PEM bundle of the partner's or national CA, trusted in addition to the system store. */
    caFile: z.string().optional(),
    source: certificateSource.optional(),
    /** How long `certs rotate` waits for the server to serve the new certificate before rolling back. */
    verifyTimeout: durationSchema.default({ text: '5m', seconds: 300 }),
    clients: clientCertificates.optional(),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if (tls.failDays >= tls.warnDays) {
      ctx.addIssue({ code: 'custom', path: ['failDays'], message: 'must be lower than warnDays' });
    }
  });

export type TlsSettings = z.infer<typeof tlsSettingsSchema>;
export type CertificateSource = NonNullable<TlsSettings['source']>;
export type ClientCertificateSettings = NonNullable<TlsSettings['clients']>;
