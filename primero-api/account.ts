import type { PrimeroClient } from './client.js';

/**
 * The service account as Primero sees it: its modules and its role's permissions. Facts (Primero v2.15.2):
 * - `POST /api/v2/tokens` answers the signed-in user's `id` (Api::V2::TokensController#respond_with; in IdP
 *   mode #create_idp). Devise signs in with HTTP basic auth alone (`config.http_authenticatable = true` in
 *   config/initializers/devise.rb), and the login throttle counts only requests that name a user_name in the
 *   body (config/initializers/rack_attack.rb).
 * - Every user may read its own record (`can_access_self` in app/models/ability.rb):
 *   `GET /api/v2/users/:id?extended=true` returns `module_unique_ids`, `role_unique_id` and
 *   `permissions.list` as `{resource, actions}` with the resource pluralized
 *   (app/views/api/v2/users/_user.json.jbuilder).
 */

export interface ServiceAccount {
  id: number | string;
  roleUniqueId?: string;
  modules: string[];
  /** Pluralized resource (as Primero lists them: `cases`, `primero_configurations`) → actions. */
  permissions: Record<string, string[]>;
}

interface UserRecord {
  data?: {
    role_unique_id?: unknown;
    module_unique_ids?: unknown;
    permissions?: { list?: Array<{ resource?: unknown; actions?: unknown }> };
  };
}

export async function readServiceAccount(client: PrimeroClient): Promise<ServiceAccount> {
  const signedIn = await client.post<{ id?: unknown }>('tokens', {});
  const id = signedIn.id;
  if (typeof id !== 'number' && typeof id !== 'string') {
    throw new Error('Primero did not say who the service account is (no id from POST /api/v2/tokens)');
  }
  const record = await client.get<UserRecord>(`users/${encodeURIComponent(String(id))}`, {
    extended: 'true',
  });
  const data = record.data ?? {};
  const permissions: Record<string, string[]> = {};
  for (const entry of data.permissions?.list ?? []) {
    if (typeof entry.resource !== 'string' || !Array.isArray(entry.actions)) continue;
    permissions[entry.resource] = entry.actions.filter(
      (action): action is string => typeof action === 'string',
    );
  }
  return {
    id,
    ...(typeof data.role_unique_id === 'string' ? { roleUniqueId: data.role_unique_id } : {}),
    modules: Array.isArray(data.module_unique_ids)
      ? data.module_unique_ids.filter((module): module is string => typeof module === 'string')
      : [],
    permissions,
  };
}
