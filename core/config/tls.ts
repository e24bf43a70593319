import { z } from 'zod';

/** How a site's TLS certificate is served and stored. */

const certificateSource = z.discriminatedUnion('type', [
  /** Compose or VM installs: PEM files read by nginx, swapped by rename, then a reload command. */
  z
    .object({
      type: z.literal('files'),
      cert: z.string().startsWith('/', 'must be an absolute path'),
      key: z.string().startsWith('/', 'must be an absolute path'),
      reloadCommand: z.string().default('nginx -s reload'),
    })
    .strict(),
  /** A kubernetes.io/tls Secret mounted by Primero's nginx. */
  z.object({ type: z.literal('kubernetes-secret'), secret: z.string().default('primero-tls') }).strict(),
  /** cert-manager issues the Secret: ACME for public hosts, or a CA issuer. */
  z
    .object({
      type: z.literal('cert-manager'),
      secret: z.string().default('primero-tls'),
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

export const tlsSettingsSchema = z
  .object({
    /** Default: the host of primero.url. */
    host: z.string().optional(),
    port: z.number().int().min(1).max(65_535).default(443),
    /** Connect here instead of resolving host (SNI still uses host). */
    connectAddress: z.string().optional(),
    warnDays: z.number().int().min(1).default(30),
    failDays: z.number().int().min(0).default(14),
    /** PEM bundle of the partner's or national CA, trusted in addition to the system store. */
    caFile: z.string().optional(),
    source: certificateSource.optional(),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if (tls.failDays >= tls.warnDays) {
      ctx.addIssue({ code: 'custom', path: ['failDays'], message: 'must be lower than warnDays' });
    }
  });

export type TlsSettings = z.infer<typeof tlsSettingsSchema>;
