import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { SiteConfig } from '../core/config/schema.js';
import { UsageError } from '../core/errors.js';
import { resolveSecret } from '../core/secrets.js';
import { PrimeroClient, type PrimeroClientOptions } from './client.js';

/** Builds the API client of a site in tier4.yaml: its URL, its service account, its extra CA. */
export function clientForSite(
  name: string,
  site: SiteConfig,
  baseDir: string,
  options: Omit<PrimeroClientOptions, 'site' | 'baseUrl' | 'auth' | 'ca'> & { env?: NodeJS.ProcessEnv } = {},
): PrimeroClient {
  const { env, ...rest } = options;
  const auth = site.primero.auth;
  if (!auth) {
    throw new UsageError(
      `sites.${name}.primero.auth is not set: tier4 needs a Primero service account on ${name}.`,
      'Add auth: {username, password: {env: NAME}} (or {token: {env: NAME}} in IdP mode) for an account ' +
        'whose role has primero_configuration: manage.',
    );
  }
  let ca: string | undefined;
  if (site.primero.caFile) {
    const path = resolve(baseDir, site.primero.caFile);
    try {
      ca = readFileSync(path, 'utf8');
    } catch (error) {
      throw new UsageError(
        `sites.${name}.primero.caFile cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): ${path}`,
      );
    }
  }
  return new PrimeroClient({
    ...rest,
    site: name,
    baseUrl: site.primero.url,
    auth:
      'token' in auth
        ? { token: resolveSecret(auth.token, env) }
        : { username: auth.username, password: resolveSecret(auth.password, env) },
    ...(ca ? { ca } : {}),
  });
}
