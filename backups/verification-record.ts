import { z } from 'zod';
import { macMatches, macOf } from './crypto/mac.js';

/**
 * What `backup verify` (and a drill) found, stored beside the set. Retention, list and doctor trust these, so
 * they carry a MAC like manifests: anyone who can write to the repository could otherwise mark a damaged set
 * good, or a good one failed.
 */
const bodySchema = z.object({
  format: z.literal('tier4-verification/1'),
  set: z.string(),
  at: z.string(),
  deep: z.boolean(),
  ok: z.boolean(),
  failures: z.number().int().nonnegative(),
});

export type VerificationBody = z.infer<typeof bodySchema>;
export type Verification = Pick<VerificationBody, 'at' | 'deep' | 'ok'>;

export function sealVerification(body: VerificationBody, macKey: Buffer): string {
  return JSON.stringify({ ...body, mac: macOf(macKey, body) });
}

/** The record, or why it cannot be trusted. */
export function openVerification(
  bytes: Buffer,
  macKeys: readonly Buffer[],
  setId: string,
): { ok: true; verification: Verification } | { ok: false; reason: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  const result = bodySchema.extend({ mac: z.string() }).safeParse(parsed);
  if (!result.success)
    return { ok: false, reason: 'not a sealed verification record (forged, or from an earlier version)' };
  const { mac, ...body } = result.data;
  if (!macKeys.some((key) => macMatches(key, body, mac)))
    return { ok: false, reason: 'its MAC does not match: altered, or sealed with another integrity key' };
  if (body.set !== setId) return { ok: false, reason: `it is about set ${body.set}` };
  return { ok: true, verification: { at: body.at, deep: body.deep, ok: body.ok } };
}
