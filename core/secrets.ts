import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { UsageError } from './errors.js';
import { registerSecret } from './redact.js';

/**
 * A secret in tier4.yaml is a reference, never a value: `{env: NAME}` or `{file: /path}`.
 * An inline string is a validation error, so a config file can be committed or shared safely.
 */
export const secretRefSchema = z.preprocess(
  (value, ctx) => {
    if (typeof value === 'string' || typeof value === 'number') {
      // Never echo the value: it is probably the secret itself.
      ctx.addIssue({
        code: 'custom',
        message: 'inline secrets are not allowed; reference it as {env: NAME} or {file: /path}',
      });
      return z.NEVER;
    }
    return value;
  },
  z.union(
    [
      z
        .object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name') })
        .strict(),
      z.object({ file: z.string().min(1, 'must be a file path') }).strict(),
    ],
    { error: 'must be {env: NAME} or {file: /path}' },
  ),
);

export type SecretRef = z.infer<typeof secretRefSchema>;

/** Keys, passwords and age identities are a few hundred bytes; a bigger file is a wrong path. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

export function describeSecretRef(ref: SecretRef): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`;
}

/**
 * Reads a secret and registers it for redaction before anyone can print it.
 * Trailing newlines of files are dropped (editors add them).
 */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
  let value: string | undefined;
  if ('env' in ref) {
    value = env[ref.env];
    if (value === undefined || value === '') {
      throw new UsageError(
        `The secret ${describeSecretRef(ref)} is not set.`,
        `Export ${ref.env} in the environment that runs tier4.`,
      );
    }
  } else {
    try {
      // A FIFO or a device would block or never end, and a huge file is not a secret: check before reading.
      const info = statSync(ref.file);
      if (!info.isFile()) {
        throw new UsageError(
          `The secret ${describeSecretRef(ref)} is not a regular file.`,
          'Point it at a file that holds the secret.',
        );
      }
      if (info.size > MAX_SECRET_FILE_BYTES) {
        throw new UsageError(
          `The secret ${describeSecretRef(ref)} is larger than 64 KiB (${info.size} bytes): it is not a secret file.`,
          'Check the path; a secret file holds one key or password.',
        );
      }
      value = readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      if (error instanceof UsageError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(
        `The secret ${describeSecretRef(ref)} cannot be read (${code ?? 'error'}).`,
        'Check the path and that this user may read it.',
      );
    }
    if (value === '') throw new UsageError(`The secret ${describeSecretRef(ref)} is empty.`);
  }
  registerSecret(value);
  return value;
}
