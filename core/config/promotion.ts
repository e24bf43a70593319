import { z } from 'zod';

const siteName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, 'site names are lowercase letters, digits and hyphens');

/** Which site promotes configuration to which, and how. */
export const promotionSettingsSchema = z
  .object({
    from: siteName,
    to: siteName,
    /** Where tier4 keeps its promotion audit log; default .tier4/promotions.jsonl beside tier4.yaml. */
    auditLog: z.string().optional(),
  })
  .strict();

export type PromotionSettings = z.infer<typeof promotionSettingsSchema>;
