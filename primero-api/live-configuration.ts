import type { PrimeroClient } from './client.js';

/**
 * A site's live configuration, read through Primero's read APIs: the same models a configuration state
 * carries (PrimeroConfiguration::CONFIGURABLE_MODELS). Nothing here is a record, a user or an attachment.
 */

export type JsonObject = Record<string, unknown>;

export const CONFIGURABLE_MODELS = [
  'FormSection',
  'Lookup',
  'Agency',
  'Role',
  'UserGroup',
  'Report',
  'ContactInformation',
] as const;
export type ConfigurableModel = (typeof CONFIGURABLE_MODELS)[number];

export interface LiveConfiguration {
  site: string;
  /** `system_version` from /api/v2/contact_information, when Primero reported one. */
  systemVersion?: string;
  models: Record<ConfigurableModel, JsonObject[]>;
}

export async function readSystemVersion(client: PrimeroClient): Promise<string | undefined> {
  const body = await client.get<{ data?: { system_version?: unknown } }>('contact_information');
  const version = body.data?.system_version;
  return typeof version === 'string' && version !== '' ? version : undefined;
}

export async function readLiveConfiguration(client: PrimeroClient): Promise<LiveConfiguration> {
  // One after the other: a small site is quick, and a busy production is not hammered.
  const forms = await client.get<{ data?: JsonObject[] }>('forms');
  const lookups = await client.list<JsonObject>('lookups');
  const agencies = await client.list<JsonObject>('agencies');
  const roles = await client.list<JsonObject>('roles');
  const userGroups = await client.list<JsonObject>('user_groups');
  const reports = await client.list<JsonObject>('reports');
  const contact = await client.get<{ data?: JsonObject }>('contact_information');
  const systemVersion = contact.data?.system_version;
  return {
    site: client.site,
    ...(typeof systemVersion === 'string' && systemVersion !== '' ? { systemVersion } : {}),
    models: {
      FormSection: Array.isArray(forms.data) ? forms.data : [],
      Lookup: lookups,
      Agency: agencies,
      Role: roles,
      UserGroup: userGroups,
      Report: reports,
      ContactInformation: contact.data ? [contact.data] : [],
    },
  };
}
