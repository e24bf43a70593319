import { z } from 'zod';

const siteName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, 'site names are lowercase letters, digits and hyphens');

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Waits and timeouts in milliseconds: `500ms`, `5s`, `15m`, `1h`. */
const waitSchema = z
  .string()
  .regex(/^\d+(ms|s|m|h)$/, 'must be a duration such as 500ms, 5s, 15m or 1h')
  .transform((text) => {
    const [, amount, unit] = /^(\d+)(ms|s|m|h)$/.exec(text)!;
    return Number(amount) * UNIT_MS[unit!]!;
  });

/** The inverse of waitSchema, for `config show`: the largest unit that states the wait exactly. */
export function formatWait(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) {
    if (ms > 0 && ms % UNIT_MS[unit]! === 0) return `${ms / UNIT_MS[unit]!}${unit}`;
  }
  return `${ms}ms`;
}

const TIMING_DEFAULTS = {
  pollInterval: 5000,
  transferTimeout: 300_000,
  applyTimeout: 900_000,
  requestTimeout: 30_000,
  maxRetryWait: 60_000,
  retries: 4,
};

/** Which site promotes configuration to which, and how. */
export const promotionSettingsSchema = z
  .object({
    from: siteName,
    to: siteName,
    /** Where tier4 keeps its promotion audit log; default .tier4/promotions.jsonl beside tier4.yaml. */
    auditLog: z.string().optional(),
    /**
     * How demo's snapshot reaches production. `promote`: demo's own promote job posts it (demo needs
     * PRIMERO_PROMOTE_CONFIG_PROD_* and must reach production). `database`: tier4 reads it from demo's
     * database (sites.<from>.database) and posts it to production.
     */
    transfer: z.enum(['promote', 'database']).default('promote'),
    timing: z
      .object({
        /** How often to look at production while waiting. */
        pollInterval: waitSchema.default(TIMING_DEFAULTS.pollInterval),
        /** How long production may take to receive demo's snapshot. */
        transferTimeout: waitSchema.default(TIMING_DEFAULTS.transferTimeout),
        /** How long an apply may run (the API answers 503 meanwhile). */
        applyTimeout: waitSchema.default(TIMING_DEFAULTS.applyTimeout),
        requestTimeout: waitSchema.default(TIMING_DEFAULTS.requestTimeout),
        /** Cap on one wait when Primero answers 503 with Retry-After. */
        maxRetryWait: waitSchema.default(TIMING_DEFAULTS.maxRetryWait),
        /** Retries of one request on 503 or a connection error. */
        retries: z.number().int().min(0).max(20).default(TIMING_DEFAULTS.retries),
      })
      .strict()
      .default(TIMING_DEFAULTS),
  })
  .strict();

export type PromotionSettings = z.infer<typeof promotionSettingsSchema>;
export type PromotionTiming = PromotionSettings['timing'];
