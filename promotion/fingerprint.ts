import type { ConfigurableModel } from '../primero-api/index.js';
import { MODEL_RULES } from './normalize.js';

/** Compares production's configuration now to the fingerprint taken before the promotion. */
export function compareFingerprints(
  before: Record<string, string>,
  now: Record<string, string>,
): { mismatched: string[]; remaining: string[] } {
  const mismatched: string[] = [];
  const remaining: string[] = [];
  for (const [key, digest] of Object.entries(before)) {
    if (now[key] !== digest) mismatched.push(key);
  }
  for (const key of Object.keys(now)) {
    if (key in before) continue;
    const model = key.slice(0, key.indexOf(':')) as ConfigurableModel;
    if (MODEL_RULES[model]?.replaced) mismatched.push(key);
    else remaining.push(key);
  }
  return { mismatched, remaining };
}
