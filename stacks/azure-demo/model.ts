import { isAbsolute, join, resolve } from 'node:path';
import { type AzureResourceNames, azureResourceNames } from '../../core/azure-names.js';
import type { AzureSettings } from '../../core/config/azure.js';
import type { LoadedConfig } from '../../core/config/load.js';
import { getSite } from '../../core/config/load.js';
import { parseRepositoryUrl } from '../../core/config/repository-url.js';
import { DEFAULT_NAMESPACE } from '../../core/config/schema.js';
import { UsageError } from '../../core/errors.js';

/**
 * Everything the stack needs, worked out from tier4.yaml before any construct exists: names, sizes and
 * the settings the workload depends on. Every inconsistency is a UsageError here, so nothing half-synthesizes.
 */
export interface DemoSiteModel {
  deployment: string;
  site: string;
  role: 'demo' | 'production';
  azure: AzureSettings;
  tags: Record<string, string>;
  names: AzureResourceNames & {
    aksSubnet: string;
    postgresSubnet: string;
    endpointsSubnet: string;
    postgresDnsZone: string;
  };
  database: { name: string; adminLogin: string };
  /** backupState: the backup lock and verification records, which the immutable backups container refuses. */
  containers: { attachments: string; backups: string; backupState: string };
  /** The Kubernetes namespace and service account Primero runs as (for the federated credential). */
  workload: { namespace: string; serviceAccount: string };
  /** Host name of the site and, when azure.dns is set, the record in that zone ('@' at the apex). */
  host: string;
  dnsRecord: { zone: string; name: string } | undefined;
  /** Where Terraform state lives when the backend is local (absolute). */
  localStatePath: string;
}

export { KEY_VAULT_SECRETS } from '../../core/azure-names.js';

// Azure reserves these PostgreSQL administrator names.
const RESERVED_PG_LOGINS = new Set([
  'azure_superuser',
  'azure_pg_admin',
  'admin',
  'administrator',
  'root',
  'guest',
  'public',
]);

export function buildModel(loaded: LoadedConfig, siteName: string): DemoSiteModel {
  const { config } = loaded;
  const { name: site, site: siteConfig } = getSite(config, siteName);
  if (siteConfig.platform !== 'azure') {
    throw new UsageError(
      `Site "${site}" runs on ${siteConfig.platform}, not azure: it has no Terraform stack.`,
      `The Azure stack is for a site with platform: azure. For "${site}" use \`tier4 site render|preview|deploy ${site}\`.`,
    );
  }
  const azure = siteConfig.azure;
  if (!azure) {
    throw new UsageError(`sites.${site}.azure is missing.`, 'Add an azure: block (see the example file).');
  }
  const deployment = config.deployment.name;
  const prefix = `${deployment}-${site}`;
  const names = azureResourceNames(deployment, site, azure);
  const { storageAccount, postgres } = names;

  const containers = {
    attachments: 'primero-attachments',
    backups: 'tier4-backups',
    backupState: 'tier4-backup-state',
  };
  const attachments = siteConfig.attachments;
  if (attachments.type === 'azure') {
    if (attachments.account !== storageAccount) {
      throw new UsageError(
        `sites.${site}.attachments.account is "${attachments.account}", but the stack creates storage account "${storageAccount}".`,
        `Set attachments.account to ${storageAccount}, or azure.storage.accountName to ${attachments.account}.`,
      );
    }
    containers.attachments = attachments.container;
  }
  const repository = siteConfig.backups ? parseRepositoryUrl(siteConfig.backups.repository) : undefined;
  if (repository && typeof repository !== 'string' && repository.kind === 'azblob') {
    if (repository.account !== storageAccount) {
      throw new UsageError(
        `sites.${site}.backups.repository names storage account "${repository.account}", but the stack creates "${storageAccount}".`,
        `Use azblob://${storageAccount}/<container>/<prefix>, or set azure.storage.accountName.`,
      );
    }
    containers.backups = repository.container;
    // The backups container is immutable (30 days): the lock and verification records are rewritten and
    // deleted, which Azure refuses there with 409 (backups/lock.ts). They need a container of their own.
    const state = siteConfig.backups?.stateRepository
      ? parseRepositoryUrl(siteConfig.backups.stateRepository)
      : undefined;
    const suggestion = `azblob://${storageAccount}/${containers.backupState}/${site}`;
    if (!state || typeof state === 'string' || state.kind !== 'azblob' || state.account !== storageAccount) {
      throw new UsageError(
        `sites.${site}.backups.stateRepository must name a container of storage account "${storageAccount}": the backups container is immutable, and the backup lock and verification records must be rewritten.`,
        `Set backups.stateRepository: ${suggestion}`,
      );
    }
    if (state.container === repository.container) {
      throw new UsageError(
        `sites.${site}.backups.stateRepository is in the immutable backups container "${repository.container}".`,
        `Use its own container, e.g. ${suggestion}`,
      );
    }
    containers.backupState = state.container;
  }
  if (containers.backupState === containers.attachments) {
    throw new UsageError(
      `The backup state and attachments share the container "${containers.backupState}".`,
      'Give backups.stateRepository a container of its own.',
    );
  }
  if (containers.backups === containers.attachments) {
    throw new UsageError(
      `Backups and attachments share the container "${containers.backups}".`,
      'Backups need their own container: it carries an immutability policy.',
    );
  }

  const dbUrl = new URL(siteConfig.database.url);
  const adminLogin = decodeURIComponent(dbUrl.username);
  if (
    RESERVED_PG_LOGINS.has(adminLogin) ||
    adminLogin.startsWith('pg_') ||
    !/^[a-z][a-z0-9_]{0,62}$/.test(adminLogin)
  ) {
    throw new UsageError(
      `sites.${site}.database.url user "${adminLogin}" cannot be an Azure PostgreSQL administrator name.`,
      'Use a lowercase name that is not admin, root, azure_superuser or pg_*, such as "primero".',
    );
  }
  const databaseName = decodeURIComponent(dbUrl.pathname.replace(/^\//, '')) || 'primero_production';

  const host = new URL(siteConfig.primero.url).hostname;
  let dnsRecord: DemoSiteModel['dnsRecord'];
  if (azure.dns) {
    const zone = azure.dns.zone.replace(/\.$/, '');
    if (host !== zone && !host.endsWith(`.${zone}`)) {
      throw new UsageError(
        `The site's host ${host} (primero.url) is not in the DNS zone ${zone} (azure.dns.zone).`,
        'Set azure.dns.zone to the zone that holds the host name, or remove azure.dns.',
      );
    }
    dnsRecord = { zone, name: host === zone ? '@' : host.slice(0, -(zone.length + 1)) };
  }

  const statePath =
    azure.state.backend === 'local' && azure.state.path
      ? azure.state.path
      : join('.tier4', 'terraform', `${prefix}.tfstate`);
  return {
    deployment,
    site,
    role: siteConfig.role,
    azure,
    tags: { site, role: siteConfig.role, deployment, 'managed-by': 'tier4' },
    names: {
      ...names,
      aksSubnet: 'snet-aks',
      postgresSubnet: 'snet-postgres',
      endpointsSubnet: 'snet-endpoints',
      postgresDnsZone: `${postgres}.private.postgres.database.azure.com`,
    },
    database: { name: databaseName, adminLogin },
    containers,
    workload: {
      namespace: siteConfig.kubernetes?.namespace ?? DEFAULT_NAMESPACE,
      serviceAccount: azure.aks.workloadServiceAccount,
    },
    host,
    dnsRecord,
    localStatePath: isAbsolute(statePath) ? statePath : resolve(loaded.baseDir, statePath),
  };
}
