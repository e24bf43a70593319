import type { AzureSettings } from './config/azure.js';
import { siteStorageAccount } from './config/placement.js';

/**
 * The names of the demo site's Azure resources, from the deployment and site names alone. One definition
 * for the Terraform stack (model.ts) and for the manifests that must name the same resources (the chart's
 * Key Vault, load balancer and cert-manager wiring). Pure: no cdktf.
 */
export interface AzureResourceNames {
  resourceGroup: string;
  vnet: string;
  aks: string;
  aksDnsPrefix: string;
  postgres: string;
  storageAccount: string;
  keyVault: string;
  logAnalytics: string;
  workloadIdentity: string;
  certManagerIdentity: string;
  ingressIp: string;
}

function trimName(text: string, max: number): string {
  return text.slice(0, max).replace(/-+$/, '');
}

export function azureResourceNames(
  deployment: string,
  site: string,
  azure: AzureSettings,
): AzureResourceNames {
  const prefix = `${deployment}-${site}`;
  return {
    resourceGroup: azure.resourceGroup ?? `rg-${prefix}`,
    vnet: `vnet-${prefix}`,
    aks: trimName(`aks-${prefix}`, 63),
    aksDnsPrefix: trimName(prefix, 54),
    postgres: trimName(`psql-${prefix}`, 63),
    storageAccount: siteStorageAccount(deployment, site, azure),
    keyVault: trimName(`kv-${prefix}`, 24).replace(/--+/g, '-'),
    logAnalytics: `log-${prefix}`,
    workloadIdentity: `id-${prefix}-primero`,
    certManagerIdentity: `id-${prefix}-cert-manager`,
    ingressIp: `pip-${prefix}-ingress`,
  };
}

/**
 * cert-manager's own ServiceAccount, as its Helm chart installs it (namespace cert-manager, account
 * cert-manager): the subject the DNS-01 identity trusts (cert-manager docs, configuration/acme/dns01/
 * azuredns.md, "Managed Identity Using AAD Workload Identity").
 */
export const CERT_MANAGER_SUBJECT = 'system:serviceaccount:cert-manager:cert-manager';

/** The ServiceAccount that holds the Key Vault identity in the site's namespace (azure.aks.workloadServiceAccount). */
export function workloadSubject(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

/** Key Vault secret names (letters, digits, hyphens), keyed by the environment variable Primero reads. */
export const KEY_VAULT_SECRETS = {
  PRIMERO_SECRET_KEY_BASE: 'primero-secret-key-base',
  DEVISE_SECRET_KEY: 'devise-secret-key',
  PRIMERO_MESSAGE_SECRET: 'primero-message-secret',
  POSTGRES_PASSWORD: 'postgres-password',
  PRIMERO_STORAGE_AZ_KEY: 'storage-account-key',
} as const;

/** Stack outputs that `site render|deploy` reads from tier4.yaml, and where each goes there. */
const RECORDED_OUTPUTS = [
  ['tenant_id', 'tenantId'],
  ['workload_identity_client_id', 'identities.workloadClientId'],
  ['cert_manager_identity_client_id', 'identities.certManagerClientId'],
] as const;

/**
 * After an apply: the settings tier4.yaml lacks (or holds a stale value for), as `azure.<path>: value`
 * lines for the operator to copy. Empty when the configuration already matches the outputs.
 */
export function settingsToRecord(
  azure: Pick<AzureSettings, 'tenantId' | 'identities'>,
  outputs: Record<string, unknown>,
): string[] {
  const current: Record<(typeof RECORDED_OUTPUTS)[number][1], string | undefined> = {
    tenantId: azure.tenantId,
    'identities.workloadClientId': azure.identities.workloadClientId,
    'identities.certManagerClientId': azure.identities.certManagerClientId,
  };
  return RECORDED_OUTPUTS.flatMap(([output, setting]) => {
    const value = outputs[output];
    if (typeof value !== 'string' || value === '' || current[setting] === value) return [];
    return [`azure.${setting}: ${value}`];
  });
}
