import type { SiteConfig } from '../core/config/schema.js';
import { OperationError } from '../core/errors.js';
import { resolveSecret } from '../core/secrets.js';
import type { StoredConfiguration } from '../primero-api/configurations.js';

/**
 * Reads one configuration state, with its data, from a site's database. Primero's API never returns
 * `data`, so when demo cannot reach production this is how the snapshot travels.
 */
export async function readStoredConfiguration(
  siteName: string,
  site: SiteConfig,
  id: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StoredConfiguration> {
  const password = resolveSecret(site.database.password, env);
  const url = new URL(site.database.url);
  const sslmode = url.searchParams.get('sslmode');
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password,
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'primero_production',
    ...(sslmode && sslmode !== 'disable' && sslmode !== 'prefer' && sslmode !== 'allow'
      ? { ssl: { rejectUnauthorized: sslmode === 'verify-full' || sslmode === 'verify-ca' } }
      : {}),
    connectionTimeoutMillis: 15_000,
  });
  try {
    await client.connect();
  } catch (error) {
    throw new OperationError(
      `Cannot connect to ${siteName}'s database at ${url.hostname}:${url.port || 5432} (${(error as Error).message}).`,
      `Check sites.${siteName}.database and that this machine may reach it; or use promotion.transfer: promote.`,
    );
  }
  try {
    const result = await client.query(
      'SELECT id::text AS id, name, description, version, primero_version, data FROM primero_configurations WHERE id = $1',
      [id],
    );
    const row = result.rows[0] as StoredConfiguration | undefined;
    if (!row) {
      throw new OperationError(
        `${siteName}'s database has no configuration ${id}.`,
        `Check that sites.${siteName}.database is the database of ${site.primero.url}.`,
      );
    }
    return { ...row, data: row.data ?? {} };
  } finally {
    await client.end().catch(() => {});
  }
}
