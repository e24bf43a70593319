import { z } from 'zod';
import { secretRefSchema } from '../secrets.js';
import { azureSettingsSchema } from './azure.js';
import { durationSchema } from './duration.js';
import { kubernetesSettingsSchema } from './kubernetes.js';
import { placementIssues } from './placement.js';
import { postgresUrlProblems } from './postgres-url.js';
import { promotionSettingsSchema } from './promotion.js';
import { parseRepositoryUrl } from './repository-url.js';
import { tlsSettingsSchema } from './tls.js';

/**
 * tier4.yaml: one deployment, two (or more) sites. Objects are strict so that a typo is an error
 * rather than a silently ignored setting.
 */

const siteName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, 'site names are lowercase letters, digits and hyphens');

const httpUrl = z
  .string()
  .url('must be a URL such as https://primero.example.org')
  .refine((url) => /^https?:\/\//.test(url), 'must be an http(s) URL');

const imageTag = z
  .string()
  .regex(/^v\d+\.\d+\.\d+(?:[-.][0-9A-Za-z.-]+)?$/, 'must be a Primero release tag such as v2.15.2');

const primeroSchema = z
  .object({
    url: httpUrl,
    version: imageTag,
    /** The API service account: HTTP basic auth, or a bearer token in IdP mode. */
    auth: z
      .union([
        z.object({ username: z.string().min(1), password: secretRefSchema }).strict(),
        z.object({ token: secretRefSchema }).strict(),
      ])
      .optional(),
    solr: z.boolean().default(false),
    /**
     * Optional: where this machine can read the site's PRIMERO_MESSAGE_SECRET, so `config validate` and
     * `doctor` can check its length (exactly 32 bytes). On Kubernetes the ops jobs get the app Secret's key.
     */
    messageSecret: secretRefSchema.optional(),
    /** Extra CA bundle (PEM file) to trust for this site's API, e.g. a national CA. */
    caFile: z.string().optional(),
  })
  .strict();

/** A postgres:// URL in tier4.yaml: the rule is postgres-url.ts, shared with `restore --target-database`. */
const postgresUrl = z.string().superRefine((text, ctx) => {
  const passwordGoes = 'database.password as {env: NAME} or {file: /path}';
  for (const message of postgresUrlProblems(text, { passwordGoes }))
    ctx.addIssue({ code: 'custom', message });
});

const databaseSchema = z
  .object({
    url: postgresUrl,
    password: secretRefSchema,
  })
  .strict();

const s3Connection = {
  endpoint: httpUrl.optional(),
  region: z.string().default('us-east-1'),
  /** MinIO and Ceph usually need path-style addressing. */
  forcePathStyle: z.boolean().default(false),
  credentials: z
    .object({ accessKeyId: secretRefSchema, secretAccessKey: secretRefSchema })
    .strict()
    .optional(),
};

const attachmentsSchema = z.discriminatedUnion('type', [
  z
    .object({ type: z.literal('local'), path: z.string().startsWith('/', 'must be an absolute path') })
    .strict(),
  z.object({ type: z.literal('s3'), bucket: z.string().min(3), ...s3Connection }).strict(),
  z
    .object({
      type: z.literal('azure'),
      account: z.string().regex(/^[a-z0-9]{3,24}$/, 'must be a storage account name'),
      container: z.string().min(3),
      key: secretRefSchema,
      /** Only for emulators and sovereign clouds; default https://<account>.blob.core.windows.net */
      endpoint: httpUrl.optional(),
    })
    .strict(),
]);

/**
 * Defaults stated once. The schema fills them in; code that runs where a block is optional (no `drills`,
 * no `tls`) or builds a value the schema never saw reads the same constants, so one edit changes both.
 */
export const DEFAULT_RETENTION = { last: 7, daily: 14, weekly: 8, monthly: 12 } as const;
/** Five-field cron: nightly at 01:15. */
export const DEFAULT_BACKUP_SCHEDULE = '15 1 * * *';
export const DEFAULT_RPO = { text: '24h', seconds: 86_400 } as const;
/** How the dump is compressed (see backups.compression). */
export const DEFAULT_COMPRESSION = { method: 'zstd', level: 1 } as const;
/** The levels each compression method takes (zstd 20-22 need --ultra and a large window: not offered). */
const COMPRESSION_LEVELS = {
  zstd: { min: 1, max: 19 },
  brotli: { min: 0, max: 11 },
  pg_dump: { min: 0, max: 9 },
} as const;
/** How often a drill must pass when the site sets no `drills.interval` (or no `drills` at all): 30 days. */
export const DEFAULT_DRILL_INTERVAL_SECONDS = 2_592_000;
export const DEFAULT_DRILL_INTERVAL = { text: '30d', seconds: DEFAULT_DRILL_INTERVAL_SECONDS } as const;
/** How many attachments a drill reads back and compares. */
export const DEFAULT_DRILL_SAMPLE = 50;
/** Five-field cron: Sundays at 03:00. */
export const DEFAULT_DRILL_SCHEDULE = '0 3 * * 0';
export { DEFAULT_NAMESPACE, DEFAULT_WAL_ARCHIVE } from './kubernetes.js';
export { DEFAULT_NGINX_DEPLOYMENT, DEFAULT_TLS_SECRET } from './tls.js';

const retentionSchema = z
  .object({
    last: z.number().int().min(1).default(DEFAULT_RETENTION.last),
    daily: z.number().int().min(0).default(DEFAULT_RETENTION.daily),
    weekly: z.number().int().min(0).default(DEFAULT_RETENTION.weekly),
    monthly: z.number().int().min(0).default(DEFAULT_RETENTION.monthly),
  })
  .strict();

const backupsSchema = z
  .object({
    repository: z.string().superRefine((text, ctx) => {
      const parsed = parseRepositoryUrl(text);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
    }),
    /**
     * Where the lock and verification records live, when the repository cannot hold them: objects there are
     * rewritten and deleted, which immutable (WORM) storage refuses. Same kind and credentials as the
     * repository (e.g. a second Azure container without an immutability policy). Default: the repository.
     */
    stateRepository: z
      .string()
      .superRefine((text, ctx) => {
        const parsed = parseRepositoryUrl(text);
        if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
      })
      .optional(),
    s3: z.object(s3Connection).strict().optional(),
    azure: z
      .object({
        key: secretRefSchema.optional(),
        sasToken: secretRefSchema.optional(),
        endpoint: httpUrl.optional(),
      })
      .strict()
      .optional(),
    encryption: z
      .object({
        recipients: z
          .array(z.string().regex(/^age1[02-9ac-hj-np-z]{58}$/, 'must be an age X25519 public key (age1…)'))
          .min(1, 'needs at least one age recipient'),
        /** The private identity: only restores and drills need it. Keep it offline. */
        identity: secretRefSchema.optional(),
      })
      .strict(),
    /**
     * A random secret (e.g. `openssl rand -base64 32`) the backup job and restorers share: manifests carry a MAC
     * derived from it, so a change by anyone without it is detected. Keep a copy with the age identity.
     */
    integrityKey: secretRefSchema,
    /**
     * Earlier integrity keys, after a rotation: sets they sealed still verify. New sets always use integrityKey.
     * A set that only an exposed key verifies is only as trustworthy as that key.
     */
    previousIntegrityKeys: z.array(secretRefSchema).default([]),
    retention: retentionSchema.default(DEFAULT_RETENTION),
    schedule: z
      .string()
      .regex(/^(\S+\s+){4}\S+$/, 'must be a five-field cron expression such as "15 1 * * *"')
      .default(DEFAULT_BACKUP_SCHEDULE),
    rpo: durationSchema.default(DEFAULT_RPO),
    /** Parallel blob uploads. */
    concurrency: z.number().int().min(1).max(64).default(8),
    /**
     * How the database dump is compressed (backups/dump-compression.ts, decisions 0013 and 0018). `zstd`
     * (default, level 1, 1-19): pg_dump writes an uncompressed archive into the `zstd` program on the other
     * core; smaller than pg_dump's default gzip for a fraction of the time, and fast to decompress. `brotli`
     * (0-11): compressed inside tier4, no program needed. `pg_dump` (0-9): pg_dump's own gzip, restorable with
     * `age -d` and pg_restore alone. Level trade-offs are measured in decision 0018 (zstd 9: about the time of
     * `pg_dump -Fc`, 0.84x its size): worth it on a slow uplink.
     */
    compression: z
      .object({
        method: z.enum(['zstd', 'brotli', 'pg_dump']).default(DEFAULT_COMPRESSION.method),
        level: z.number().int().min(0).max(19).default(DEFAULT_COMPRESSION.level),
      })
      .strict()
      .refine(
        ({ method, level }) =>
          level >= COMPRESSION_LEVELS[method].min && level <= COMPRESSION_LEVELS[method].max,
        {
          message: 'the level is out of range for the method: zstd 1-19, brotli 0-11, pg_dump 0-9',
          path: ['level'],
        },
      )
      .default(DEFAULT_COMPRESSION),
  })
  .strict();

const drillsSchema = z
  .object({
    interval: durationSchema.default(DEFAULT_DRILL_INTERVAL),
    /** The server that receives scratch databases; default: the site's own database server. */
    server: postgresUrl.optional(),
    password: secretRefSchema.optional(),
    attachmentSample: z.number().int().min(0).default(DEFAULT_DRILL_SAMPLE),
    /** A Primero started on the restored data, for the optional /health check. */
    healthUrl: httpUrl.optional(),
    schedule: z.string().default(DEFAULT_DRILL_SCHEDULE),
  })
  .strict();

export const siteSchema = z
  .object({
    role: z.enum(['demo', 'production'], { error: 'must be demo or production' }),
    platform: z.enum(['azure', 'kubernetes'], { error: 'must be azure or kubernetes' }),
    primero: primeroSchema,
    database: databaseSchema,
    attachments: attachmentsSchema,
    backups: backupsSchema.optional(),
    drills: drillsSchema.optional(),
    tls: tlsSettingsSchema.optional(),
    azure: azureSettingsSchema.optional(),
    kubernetes: kubernetesSettingsSchema.optional(),
  })
  .strict()
  .superRefine((site, ctx) => {
    if (site.platform === 'azure' && !site.azure) {
      ctx.addIssue({ code: 'custom', path: ['azure'], message: 'is required when platform is azure' });
    }
    if (site.role === 'production' && !site.backups) {
      ctx.addIssue({ code: 'custom', path: ['backups'], message: 'is required for a production site' });
    }
  });

export const configSchema = z
  .object({
    version: z.literal(1, { error: 'must be 1' }),
    deployment: z.object({ name: siteName, owner: z.string().optional() }).strict(),
    sites: z
      .record(siteName, siteSchema)
      .refine((sites) => Object.keys(sites).length > 0, 'needs at least one site'),
    promotion: promotionSettingsSchema.optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const issue of placementIssues(config)) ctx.addIssue({ code: 'custom', ...issue });
    const promotion = config.promotion;
    if (!promotion) return;
    for (const end of ['from', 'to'] as const) {
      if (!config.sites[promotion[end]]) {
        ctx.addIssue({
          code: 'custom',
          path: ['promotion', end],
          message: `names no site ("${promotion[end]}")`,
        });
      }
    }
    if (config.sites[promotion.from]?.role === 'production') {
      ctx.addIssue({ code: 'custom', path: ['promotion', 'from'], message: 'must be a demo site' });
    }
    if (config.sites[promotion.to]?.role === 'demo') {
      ctx.addIssue({ code: 'custom', path: ['promotion', 'to'], message: 'must be a production site' });
    }
  });

export type Tier4Config = z.infer<typeof configSchema>;
export type SiteConfig = z.infer<typeof siteSchema>;
export type BackupsConfig = z.infer<typeof backupsSchema>;
export type AttachmentsConfig = z.infer<typeof attachmentsSchema>;
export type DrillsConfig = z.infer<typeof drillsSchema>;
export type PrimeroConfig = z.infer<typeof primeroSchema>;
