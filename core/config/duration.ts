import { z } from 'zod';
import { parseDurationSeconds } from '../duration.js';

/** A duration setting: kept as written (for `config show`) and in seconds. Lives apart from core/duration.ts
 * so that formatting a duration never loads zod. */
export const durationSchema = z
  .string()
  .refine(
    (text) => parseDurationSeconds(text) !== undefined,
    'must be a duration such as 90m, 24h, 30d or 2w',
  )
  .transform((text) => ({ text, seconds: parseDurationSeconds(text)! }));

export type Duration = z.infer<typeof durationSchema>;
