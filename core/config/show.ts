import { formatWait } from './promotion.js';
import type { Tier4Config } from './schema.js';

/**
 * The loaded configuration as a tier4.yaml document: every default filled in, and every value written the way
 * the schema reads it (durations as `24h`, waits as `5s`), so `config show` output validates as it is.
 */
export function configDocument(config: Tier4Config): unknown {
  const document = durationsAsText(structuredClone(config)) as Record<string, unknown>;
  const timing = config.promotion?.timing;
  if (timing && document.promotion) {
    const { retries, ...waits } = timing;
    (document.promotion as Record<string, unknown>).timing = {
      ...Object.fromEntries(Object.entries(waits).map(([key, ms]) => [key, formatWait(ms)])),
      retries,
    };
  }
  return document;
}

/** A parsed duration is `{text, seconds}` (core/config/duration.ts); the document holds its text. */
function durationsAsText(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(durationsAsText);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const { text, seconds } = value as { text?: unknown; seconds?: unknown };
  if (entries.length === 2 && typeof text === 'string' && typeof seconds === 'number') return text;
  return Object.fromEntries(entries.map(([key, inner]) => [key, durationsAsText(inner)]));
}
