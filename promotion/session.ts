import { isAbsolute, join, resolve } from 'node:path';
import type { LoadedConfig } from '../core/config/load.js';
import {
  type PromotionSettings,
  type PromotionTiming,
  promotionSettingsSchema,
} from '../core/config/promotion.js';
import type { SiteConfig } from '../core/config/schema.js';
import { UsageError } from '../core/errors.js';
import type { PrimeroClient } from '../primero-api/index.js';
import { clientForSite } from '../primero-api/index.js';

/** What every promotion operation needs: the configuration, the two sites, and what the caller injects. */

export interface PromotionHooks {
  /** When the newest backup of a site finished; undefined when it has none. Supplied by the backup engine. */
  newestBackupAt?: (site: string) => Promise<Date | undefined>;
  /** Takes a backup of a site now and returns its id. Supplied by the backup engine. */
  takeBackup?: (site: string) => Promise<{ id: string }>;
}

export interface PromotionContext {
  loaded: LoadedConfig;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  hooks?: PromotionHooks;
  /** Short lines for people about what is happening. */
  onProgress?: (message: string) => void;
  /** Overrides of promotion.timing, for tests and impatient operators. */
  timing?: Partial<PromotionTiming>;
  now?: () => Date;
}

export interface SiteChoice {
  from?: string;
  to?: string;
}

export interface PromotionSession {
  ctx: PromotionContext;
  settings: PromotionSettings;
  timing: PromotionTiming;
  from: { name: string; site: SiteConfig; client: PrimeroClient };
  to: { name: string; site: SiteConfig; client: PrimeroClient };
  auditLogPath: string;
  now: () => Date;
  progress: (message: string) => void;
}

export function openSession(ctx: PromotionContext, choice: SiteChoice = {}): PromotionSession {
  const { config, baseDir } = ctx.loaded;
  const fromName = choice.from ?? config.promotion?.from;
  const toName = choice.to ?? config.promotion?.to;
  if (!fromName || !toName) {
    throw new UsageError(
      'Which sites? tier4.yaml has no `promotion:` block.',
      'Add `promotion: {from: demo, to: production}` to tier4.yaml, or pass --from and --to.',
    );
  }
  const names = Object.keys(config.sites).join(', ');
  for (const name of [fromName, toName]) {
    if (!config.sites[name])
      throw new UsageError(`No site named "${name}" in the configuration.`, `Sites: ${names}.`);
  }
  if (fromName === toName) throw new UsageError(`--from and --to are both "${fromName}".`);
  const fromSite = config.sites[fromName]!;
  const toSite = config.sites[toName]!;
  if (fromSite.role === 'production') {
    throw new UsageError(
      `${fromName} is a production site: configuration is promoted from demo, never from production.`,
    );
  }
  if (toSite.role === 'demo') {
    throw new UsageError(`${toName} is a demo site: configuration is promoted to production.`);
  }
  const settings = config.promotion ?? promotionSettingsSchema.parse({ from: fromName, to: toName });
  const timing = { ...settings.timing, ...ctx.timing };
  const progress = ctx.onProgress ?? (() => {});
  const clientOptions = {
    requestTimeoutMs: timing.requestTimeout,
    retry: {
      retries: timing.retries,
      maxDelayMs: timing.maxRetryWait,
      baseDelayMs: Math.min(500, timing.maxRetryWait),
    },
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(ctx.env ? { env: ctx.env } : {}),
  };
  const client = (name: string, site: SiteConfig) =>
    clientForSite(name, site, baseDir, {
      ...clientOptions,
      onRetry: ({ attempt, waitMs, reason }) =>
        progress(`${name}: ${reason}; retry ${attempt} of ${timing.retries} in ${Math.ceil(waitMs / 1000)}s`),
    });
  const auditLog = settings.auditLog ?? join('.tier4', 'promotions.jsonl');
  return {
    ctx,
    settings,
    timing,
    from: { name: fromName, site: fromSite, client: client(fromName, fromSite) },
    to: { name: toName, site: toSite, client: client(toName, toSite) },
    auditLogPath: isAbsolute(auditLog) ? auditLog : resolve(baseDir, auditLog),
    now: ctx.now ?? (() => new Date()),
    progress,
  };
}

/** The audit log path of a configuration, without opening clients (history needs no credentials). */
export function auditLogPathFor(loaded: LoadedConfig): string {
  const auditLog = loaded.config.promotion?.auditLog ?? join('.tier4', 'promotions.jsonl');
  return isAbsolute(auditLog) ? auditLog : resolve(loaded.baseDir, auditLog);
}
