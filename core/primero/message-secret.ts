import type { CheckStatus } from '../checks.js';
import type { SiteConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { describeSecretRef, resolveSecret } from '../secrets.js';

/**
 * PRIMERO_MESSAGE_SECRET is used raw (`ENV.fetch(...).b`, no decoding) as an RbNaCl SimpleBox secret key,
 * which must be exactly 32 bytes (app/services/encryption_service.rb). Upstream's sample generates 32
 * characters (docker/local.env.sample.production). Here in core/ because the chart, the Azure stack and
 * `config validate` all hold to it.
 */
export const MESSAGE_SECRET_BYTES = 32;

export interface MessageSecretCheck {
  /** ok: 32 bytes; fail: another length; skip: not configured, or the reference does not resolve here. */
  status: Exclude<CheckStatus, 'warn'>;
  message: string;
}

/**
 * Checks the length of a site's PRIMERO_MESSAGE_SECRET, when tier4.yaml references it and the reference
 * resolves here. Primero uses the value's bytes as they are as an RbNaCl SecretBox key (upstream.ts
 * MESSAGE_SECRET_BYTES); any other length fails exports, webhooks and web push. Never reports the value.
 */
export function checkMessageSecret(
  site: SiteConfig,
  env: NodeJS.ProcessEnv = process.env,
): MessageSecretCheck {
  const ref = site.primero.messageSecret;
  if (!ref)
    return { status: 'skip', message: 'primero.messageSecret is not set, so its length is not checked' };
  let value: string;
  try {
    value = resolveSecret(ref, env);
  } catch (error) {
    return { status: 'skip', message: `not checked: ${errorMessage(error)}` };
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes === MESSAGE_SECRET_BYTES) {
    return { status: 'ok', message: `PRIMERO_MESSAGE_SECRET (${describeSecretRef(ref)}) is ${bytes} bytes` };
  }
  return {
    status: 'fail',
    message: `PRIMERO_MESSAGE_SECRET (${describeSecretRef(ref)}) is ${bytes} bytes; Primero needs exactly ${MESSAGE_SECRET_BYTES} (generate one with \`openssl rand -hex 16\`; changing it loses the columns it encrypted)`,
  };
}
