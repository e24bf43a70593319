import type { SiteConfig } from '../core/config/schema.js';
import { OperationError, Tier4Error } from '../core/errors.js';
import { connectDatabase } from '../core/postgres/connection.js';
import { resolveSecret } from '../core/secrets.js';
import type { StoredConfiguration } from '../primero-api/index.js';

/**
 * Reads one configuration state, with its data, from a site's database. Primero's API never returns
 * `data`, so when demo cannot reach production this is how the snapshot travels.
 *
 * The connection is every feature's (core/postgres/connection.ts): the same URL means the same
 * database name and the same TLS rule (libpq's sslmode; `prefer` to a remote host insists on TLS, and
 * `sslrootcert` is honoured), so a snapshot never crosses the network in plaintext where a backup would not.
 */
export async function readStoredConfiguration(
  siteName: string,
  site: SiteConfig,
  id: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StoredConfiguration> {
  const target = { url: site.database.url, password: resolveSecret(site.database.password, env) };
  let client: Awaited<ReturnType<typeof connectDatabase>>;
  try {
    client = await connectDatabase(target);
  } catch (error) {
    const cause = error instanceof Tier4Error ? error.message : String(error);
    throw new OperationError(
      `Cannot read the snapshot from ${siteName}'s database: ${cause}`,
      `Check sites.${siteName}.database (its sslmode and sslrootcert too) and that this machine may reach it; ` +
        'or use promotion.transfer: promote.',
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
