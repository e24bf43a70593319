import type { PrimeroClient } from './client.js';

/**
 * Primero's configuration states (/api/v2/configurations). Every endpoint needs the role permission
 * `primero_configuration: manage`. GET never returns `data`; only the database holds it.
 */

export interface ConfigurationMeta {
  id: string;
  name: string | null;
  description: string | null;
  version: string;
  created_on: string | null;
  created_by: string | null;
  applied_on: string | null;
  applied_by: string | null;
  primero_version: string | null;
  /** False when this Primero is older than `primero_version`: an apply would silently do nothing. */
  can_apply?: boolean;
}

/** The full record as stored, including `data`: what the database holds and a transfer posts. */
export interface StoredConfiguration {
  id: string;
  name: string | null;
  description: string | null;
  version: string;
  primero_version: string | null;
  data: Record<string, unknown>;
}

export function listConfigurations(client: PrimeroClient): Promise<ConfigurationMeta[]> {
  return client.list<ConfigurationMeta>('configurations');
}

export async function getConfiguration(
  client: PrimeroClient,
  id: string,
  options: { busyRetries?: number } = {},
): Promise<ConfigurationMeta | undefined> {
  const body = await client.find<{ data: ConfigurationMeta }>(
    `configurations/${encodeURIComponent(id)}`,
    options,
  );
  return body?.data;
}

/** Snapshots the site's current configuration into a new configuration state. */
export async function snapshotConfiguration(
  client: PrimeroClient,
  label: { name: string; description: string },
): Promise<ConfigurationMeta> {
  const body = await client.post<{ data: ConfigurationMeta }>('configurations', { data: label });
  return body.data;
}

/**
 * Stores a configuration as given: its id, version, data and `primero_version`, the fields Primero's own
 * promote job sends (app/services/api_connector/primero_configuration_connector.rb, `params`). Primero keeps
 * a sent `primero_version` (`||=` in app/models/primero_configuration.rb), so its own version guard
 * (`can_apply?`) still holds for a snapshot made on a newer demo.
 */
export async function storeConfiguration(
  client: PrimeroClient,
  configuration: StoredConfiguration,
): Promise<ConfigurationMeta> {
  const { id, name, description, version, primero_version, data } = configuration;
  const body = await client.post<{ data: ConfigurationMeta }>('configurations', {
    data: { id, name, description, version, ...(primero_version ? { primero_version } : {}), data },
  });
  return body.data;
}

/** Queues an apply in Primero's worker; returns at once. */
export async function queueApply(client: PrimeroClient, id: string): Promise<void> {
  await client.patch(`configurations/${encodeURIComponent(id)}`, { data: { apply_now: true } });
}

/** Queues sending the configuration to the production site Primero itself is configured with. */
export async function queuePromote(client: PrimeroClient, id: string): Promise<void> {
  await client.patch(`configurations/${encodeURIComponent(id)}`, { data: { promote: true } });
}
