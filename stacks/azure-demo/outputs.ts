import type { DataAzurermClientConfig } from '@cdktf/provider-azurerm/lib/data-azurerm-client-config/index.js';
import type { KeyVault } from '@cdktf/provider-azurerm/lib/key-vault/index.js';
import type { PostgresqlFlexibleServer } from '@cdktf/provider-azurerm/lib/postgresql-flexible-server/index.js';
import type { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group/index.js';
import { type Construct, TerraformOutput } from '../cdktf.js';
import type { Cluster } from './aks.js';
import type { Dns } from './dns.js';
import { type DemoSiteModel, KEY_VAULT_SECRETS } from './model.js';
import type { Storage } from './storage.js';

/** The names of the stack's outputs: the contract with `tier4 site deploy` and with people. */
export const OUTPUT_NAMES = [
  'resource_group',
  'aks_cluster_name',
  'aks_credentials_command',
  'aks_oidc_issuer_url',
  'tenant_id',
  'workload_identity_client_id',
  'cert_manager_identity_client_id',
  'workload_service_account',
  'ingress_ip',
  'ingress_ip_resource_group',
  'database_host',
  'database_name',
  'database_user',
  'storage_account',
  'attachments_container',
  'backups_container',
  'key_vault_name',
  'key_vault_uri',
  'key_vault_secrets',
  'dns_name_servers',
] as const;

/** Everything the workload deployment needs. None of it is secret: secrets stay in Key Vault. */
export function createOutputs(
  scope: Construct,
  model: DemoSiteModel,
  parts: {
    resourceGroup: ResourceGroup;
    cluster: Cluster;
    postgres: PostgresqlFlexibleServer;
    storage: Storage;
    vault: KeyVault;
    dns: Dns | undefined;
    client: DataAzurermClientConfig;
  },
): void {
  const { resourceGroup, cluster, postgres, storage, vault, dns, client } = parts;
  const values: Record<(typeof OUTPUT_NAMES)[number], { value: unknown; description: string }> = {
    resource_group: { value: resourceGroup.name, description: 'Resource group holding the site' },
    aks_cluster_name: { value: cluster.cluster.name, description: 'AKS cluster name' },
    aks_credentials_command: {
      value: `az aks get-credentials --resource-group ${model.names.resourceGroup} --name ${model.names.aks} && kubelogin convert-kubeconfig -l azurecli`,
      description: 'How to get a kubeconfig (Entra ID sign-in; local accounts are disabled)',
    },
    aks_oidc_issuer_url: {
      value: cluster.cluster.oidcIssuerUrl,
      description: 'OIDC issuer for workload identity',
    },
    tenant_id: {
      value: model.azure.tenantId ?? client.tenantId,
      description: 'Entra ID tenant: sites.<name>.azure.tenantId, for the Key Vault SecretProviderClass',
    },
    workload_identity_client_id: {
      value: cluster.workloadIdentity.clientId,
      description: 'sites.<name>.azure.identities.workloadClientId: the Key Vault reader identity',
    },
    cert_manager_identity_client_id: {
      value: dns ? dns.certManagerIdentity.clientId : '',
      description:
        'sites.<name>.azure.identities.certManagerClientId: DNS-01 in the zone (empty without azure.dns)',
    },
    workload_service_account: {
      value: `${model.workload.namespace}/${model.workload.serviceAccount}`,
      description: 'The namespace/service account the workload identity trusts',
    },
    ingress_ip: { value: cluster.ingressIp.ipAddress, description: 'Static public address for the ingress' },
    ingress_ip_resource_group: {
      value: resourceGroup.name,
      description: 'service.beta.kubernetes.io/azure-load-balancer-resource-group for the ingress Service',
    },
    database_host: { value: postgres.fqdn, description: 'PostgreSQL host (private; TLS required)' },
    database_name: { value: model.database.name, description: 'Primero database' },
    database_user: { value: model.database.adminLogin, description: 'PostgreSQL user' },
    storage_account: {
      value: storage.account.name,
      description: 'Storage account (Primero storage type: microsoft)',
    },
    attachments_container: { value: storage.attachments.name, description: 'Container for attachments' },
    backups_container: {
      value: storage.backups.name,
      description: 'Container for tier4 backups (immutable)',
    },
    key_vault_name: { value: vault.name, description: 'Key Vault holding the generated secrets' },
    key_vault_uri: { value: vault.vaultUri, description: 'Key Vault URI' },
    key_vault_secrets: {
      value: KEY_VAULT_SECRETS,
      description: 'Environment variable -> Key Vault secret name',
    },
    dns_name_servers: {
      value: dns ? dns.zone.nameServers : [],
      description: 'Delegate the DNS zone to these name servers',
    },
  };
  for (const name of OUTPUT_NAMES) {
    const { value, description } = values[name];
    new TerraformOutput(scope, name, { value, description });
  }
}
