import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../core/config/load.js';
import { KEY_VAULT_SECRETS } from '../../stacks/azure-demo/model.js';
import { OUTPUT_NAMES } from '../../stacks/azure-demo/outputs.js';
import type { TerraformJson } from '../../stacks/azure-demo/policy.js';
import { type AzureDemoSynthesis, synthesizeAzureDemo } from '../../stacks/azure-demo/synth.js';
import { EXAMPLE, FIXTURE, fixtureWith, tempDir, terraformRef } from './helpers.js';

// Terraform JSON is untyped; the tests poke at it freely.
// biome-ignore lint/suspicious/noExplicitAny: untyped JSON under test
type Attrs = Record<string, any>;

async function synthDoc(
  configFile: string,
  site = 'demo',
): Promise<{ result: AzureDemoSynthesis; doc: TerraformJson; text: string }> {
  const result = await synthesizeAzureDemo(loadConfig(configFile), site, await tempDir('synth'));
  const text = await readFile(result.file, 'utf8');
  return { result, doc: JSON.parse(text), text };
}

function one(doc: TerraformJson, type: string): Attrs {
  const all = Object.values(doc.resource?.[type] ?? {});
  expect(all, `exactly one ${type}`).toHaveLength(1);
  return all[0] as Attrs;
}

describe('the shipped example synthesizes', () => {
  test('demo: every part of the site, with no policy failure', async () => {
    const { result, doc } = await synthDoc(EXAMPLE);
    expect(result.policy.failed).toBe(0);
    expect(result.file).toBe(join(result.stackDir, 'cdk.tf.json'));
    expect(result.resourceTypes).toMatchObject({
      azurerm_resource_group: 1,
      azurerm_virtual_network: 1,
      azurerm_subnet: 3,
      azurerm_network_security_group: 3,
      azurerm_subnet_network_security_group_association: 3,
      azurerm_kubernetes_cluster: 1,
      azurerm_postgresql_flexible_server: 1,
      azurerm_postgresql_flexible_server_database: 1,
      azurerm_storage_account: 1,
      azurerm_storage_container: 3,
      azurerm_storage_container_immutability_policy: 1,
      azurerm_key_vault: 1,
      azurerm_key_vault_secret: 5,
      azurerm_log_analytics_workspace: 1,
      azurerm_monitor_diagnostic_setting: 4,
      azurerm_monitor_data_collection_rule: 1,
      azurerm_monitor_data_collection_rule_association: 1,
      azurerm_dns_zone: 1,
      azurerm_dns_a_record: 1,
      random_password: 4,
    });
    // Names line up with the rest of the example: database URL, attachments account, backup repository.
    expect(one(doc, 'azurerm_postgresql_flexible_server').name).toBe('psql-example-cp-demo');
    expect(one(doc, 'azurerm_storage_account').name).toBe('stexamplecpdemo');
    const containers = Object.values(doc.resource!.azurerm_storage_container!).map((c) => (c as Attrs).name);
    expect(containers.sort()).toEqual(['primero-attachments', 'tier4-backup-state', 'tier4-backups']);
    expect(one(doc, 'azurerm_dns_a_record').name).toBe('demo');
    expect(Object.keys(doc.output as object).sort()).toEqual([...OUTPUT_NAMES].sort());
  });

  test('an Azure backup repository needs its mutable state outside the immutable container', async () => {
    const missing = await fixtureWith(
      (doc) => doc.deleteIn(['sites', 'demo', 'backups', 'stateRepository']),
      EXAMPLE,
    );
    await expect(synthesizeAzureDemo(loadConfig(missing), 'demo', await tempDir('synth'))).rejects.toThrow(
      /stateRepository must name a container of storage account "stexamplecpdemo": the backups container is immutable/,
    );
    const same = await fixtureWith(
      (doc) =>
        doc.setIn(
          ['sites', 'demo', 'backups', 'stateRepository'],
          'azblob://stexamplecpdemo/tier4-backups/state',
        ),
      EXAMPLE,
    );
    await expect(synthesizeAzureDemo(loadConfig(same), 'demo', await tempDir('synth'))).rejects.toThrow(
      /is in the immutable backups container "tier4-backups"/,
    );
  });

  test('the example refuses the production site, which runs on Kubernetes', async () => {
    await expect(
      synthesizeAzureDemo(loadConfig(EXAMPLE), 'production', await tempDir('synth')),
    ).rejects.toThrow(/runs on kubernetes, not azure/);
  });
});

describe('resources and their key settings', () => {
  let doc: TerraformJson;
  let text: string;
  beforeAll(async () => {
    ({ doc, text } = await synthDoc(FIXTURE));
  });

  test('AKS: free tier, autoscaling 2-3, CNI overlay with network policy, Entra ID RBAC, workload identity', () => {
    const aks = one(doc, 'azurerm_kubernetes_cluster');
    expect(aks).toMatchObject({
      sku_tier: 'Free',
      local_account_disabled: true,
      role_based_access_control_enabled: true,
      oidc_issuer_enabled: true,
      workload_identity_enabled: true,
      automatic_upgrade_channel: 'patch',
      azure_active_directory_role_based_access_control: { azure_rbac_enabled: true },
      api_server_access_profile: { authorized_ip_ranges: ['203.0.113.0/24'] },
      default_node_pool: {
        // use-system-pools.md: 2+ nodes, 4+ vCPUs, no B-series in a system pool.
        vm_size: 'Standard_D4as_v5',
        auto_scaling_enabled: true,
        min_count: 2,
        max_count: 3,
        node_public_ip_enabled: false,
      },
      network_profile: { network_plugin: 'azure', network_plugin_mode: 'overlay', network_policy: 'cilium' },
    });
    expect(aks.oms_agent.log_analytics_workspace_id).toContain('azurerm_log_analytics_workspace.');
    const subjects = Object.values(doc.resource!.azurerm_federated_identity_credential!).map(
      (f) => (f as Attrs).subject,
    );
    // Primero's Key Vault reader, and cert-manager for DNS-01 in the zone.
    expect(subjects.sort()).toEqual([
      'system:serviceaccount:cert-manager:cert-manager',
      'system:serviceaccount:primero:primero',
    ]);
  });

  test('Container Insights: a data collection rule to the workspace, associated with the cluster', () => {
    const rule = one(doc, 'azurerm_monitor_data_collection_rule');
    expect(rule).toMatchObject({
      name: 'MSCI-westeurope-aks-test-cp-demo',
      destinations: { log_analytics: [{ name: 'ciworkspace' }] },
      data_flow: [{ streams: ['Microsoft-ContainerInsights-Group-Default'], destinations: ['ciworkspace'] }],
      data_sources: {
        extension: [
          {
            name: 'ContainerInsightsExtension',
            extension_name: 'ContainerInsights',
            streams: ['Microsoft-ContainerInsights-Group-Default'],
          },
        ],
      },
    });
    expect(rule.destinations.log_analytics[0].workspace_resource_id).toBe(
      terraformRef('azurerm_log_analytics_workspace.log-analytics.id'),
    );
    expect(JSON.parse(rule.data_sources.extension[0].extension_json)).toEqual({
      dataCollectionSettings: { interval: '1m', namespaceFilteringMode: 'Off', enableContainerLogV2: true },
    });
    expect(one(doc, 'azurerm_monitor_data_collection_rule_association')).toMatchObject({
      name: 'ContainerInsightsExtension',
      target_resource_id: terraformRef('azurerm_kubernetes_cluster.aks.id'),
      data_collection_rule_id: terraformRef(
        'azurerm_monitor_data_collection_rule.container-insights-rule.id',
      ),
    });
  });

  test('the admin group may fetch a kubeconfig and administer the cluster (Azure RBAC)', () => {
    const assignments = Object.values(doc.resource!.azurerm_role_assignment!) as Attrs[];
    const onCluster = assignments
      .filter((a) => a.scope === terraformRef('azurerm_kubernetes_cluster.aks.id'))
      .map((a) => [a.principal_id, a.principal_type, a.role_definition_name]);
    expect(onCluster.sort()).toEqual([
      ['11111111-2222-3333-4444-555555555555', 'Group', 'Azure Kubernetes Service Cluster User Role'],
      ['11111111-2222-3333-4444-555555555555', 'Group', 'Azure Kubernetes Service RBAC Cluster Admin'],
    ]);
  });

  test('PostgreSQL 15: private access, TLS 1.2 required, Primero extensions allowed, database created', () => {
    const server = one(doc, 'azurerm_postgresql_flexible_server');
    expect(server).toMatchObject({
      version: '15',
      sku_name: 'B_Standard_B1ms',
      storage_mb: 32768,
      backup_retention_days: 7,
      public_network_access_enabled: false,
      administrator_login: 'primero',
    });
    expect(server.delegated_subnet_id).toContain('azurerm_subnet.subnet-postgres');
    expect(server.private_dns_zone_id).toContain('azurerm_private_dns_zone.postgres-dns-zone');
    expect(server.administrator_password).toBe(
      terraformRef('random_password.postgres-admin-password.result'),
    );
    const settings = Object.fromEntries(
      Object.values(doc.resource!.azurerm_postgresql_flexible_server_configuration!).map((c) => [
        (c as Attrs).name,
        (c as Attrs).value,
      ]),
    );
    expect(settings).toEqual({
      require_secure_transport: 'on',
      ssl_min_protocol_version: 'TLSv1.2',
      'azure.extensions': 'LTREE,PG_TRGM,PGCRYPTO',
    });
    expect(one(doc, 'azurerm_postgresql_flexible_server_database').name).toBe('primero_production');
    const subnet = doc.resource!.azurerm_subnet!['subnet-postgres'] as Attrs;
    expect(subnet.delegation[0].service_delegation.name).toBe('Microsoft.DBforPostgreSQL/flexibleServers');
  });

  test('storage: private, TLS 1.2, versioning and soft delete, immutable backups container', () => {
    expect(one(doc, 'azurerm_storage_account')).toMatchObject({
      https_traffic_only_enabled: true,
      min_tls_version: 'TLS1_2',
      public_network_access_enabled: false,
      allow_nested_items_to_be_public: false,
      network_rules: { default_action: 'Deny', bypass: ['AzureServices'] },
      blob_properties: {
        versioning_enabled: true,
        delete_retention_policy: { days: 14 },
        container_delete_retention_policy: { days: 14 },
      },
    });
    const policy = one(doc, 'azurerm_storage_container_immutability_policy');
    expect(policy.immutability_period_in_days).toBe(30);
    expect(policy.storage_container_resource_manager_id).toContain(
      'azurerm_storage_container.container-backups',
    );
    // Only the backups: the lock and verification records (backups.stateRepository) must stay rewritable.
    expect(policy.storage_container_resource_manager_id).not.toContain('backup-state');
    expect(one(doc, 'azurerm_private_endpoint').private_service_connection.subresource_names).toEqual([
      'blob',
    ]);
  });

  test('Key Vault: RBAC, purge protection, firewall; the secrets Primero needs, generated', () => {
    expect(one(doc, 'azurerm_key_vault')).toMatchObject({
      rbac_authorization_enabled: true,
      purge_protection_enabled: true,
      soft_delete_retention_days: 90,
      network_acls: { default_action: 'Deny', bypass: 'AzureServices', ip_rules: ['203.0.113.0/24'] },
    });
    const secrets = Object.values(doc.resource!.azurerm_key_vault_secret!) as Attrs[];
    expect(secrets.map((s) => s.name).sort()).toEqual(Object.values(KEY_VAULT_SECRETS).sort());
    for (const secret of secrets) {
      // Every value is a reference to a generated password or an attribute, never a literal.
      expect(secret.value).toMatch(
        /^\$\{(random_password\.[\w-]+\.result|azurerm_storage_account\.storage\.primary_access_key)\}$/,
      );
    }
    // Primero's message secret is an RbNaCl SecretBox key: exactly 32 bytes (one per ASCII character).
    expect(doc.resource!.random_password!['primero-message-secret']).toMatchObject({
      length: 32,
      special: false,
    });
  });

  test('every taggable resource carries site, role and managed-by', () => {
    for (const type of [
      'azurerm_resource_group',
      'azurerm_kubernetes_cluster',
      'azurerm_key_vault',
      'azurerm_storage_account',
    ]) {
      expect(one(doc, type).tags).toMatchObject({ site: 'demo', role: 'demo', 'managed-by': 'tier4' });
    }
  });

  test('uses azurerm 4.x attribute names, not the deprecated ones', () => {
    for (const deprecated of [
      '"enable_rbac_authorization"',
      '"enable_https_traffic_only"',
      '"enable_auto_scaling"',
      '"enable_node_public_ip"',
      '"automatic_channel_upgrade"',
      '"local_authentication_disabled"',
      '"metric"',
    ]) {
      expect(text).not.toContain(deprecated);
    }
    expect((doc.terraform as Attrs).required_providers.azurerm.version).toMatch(/^4\./);
  });

  test('state: local by default beside the configuration, or the azurerm backend from the configuration', async () => {
    expect((doc.terraform as Attrs).backend.local.path).toMatch(/\.tier4\/terraform\/test-cp-demo\.tfstate$/);
    const file = await fixtureWith((config) =>
      config.setIn(['sites', 'demo', 'azure', 'state'], {
        backend: 'azurerm',
        resourceGroup: 'rg-tfstate',
        storageAccount: 'sttfstate',
        container: 'tfstate',
      }),
    );
    const { doc: remote } = await synthDoc(file);
    expect((remote.terraform as Attrs).backend).toEqual({
      azurerm: {
        resource_group_name: 'rg-tfstate',
        storage_account_name: 'sttfstate',
        container_name: 'tfstate',
        key: 'tier4-demo.tfstate',
        use_azuread_auth: true,
      },
    });
  });
});

describe('configuration the stack cannot honour is refused before synthesis', () => {
  test.each([
    [
      'an attachments account that is not the stack’s',
      (doc: ReturnType<typeof import('yaml').parseDocument>) =>
        doc.setIn(['sites', 'demo', 'attachments', 'account'], 'stsomewhereelse'),
      /attachments.account is "stsomewhereelse"/,
    ],
    [
      'a host outside the DNS zone',
      (doc: ReturnType<typeof import('yaml').parseDocument>) =>
        doc.setIn(['sites', 'demo', 'azure', 'dns', 'zone'], 'other.example'),
      /not in the DNS zone other.example/,
    ],
    [
      'a reserved PostgreSQL administrator name',
      (doc: ReturnType<typeof import('yaml').parseDocument>) =>
        doc.setIn(['sites', 'demo', 'database', 'url'], 'postgres://admin@db.example.org/primero_production'),
      /cannot be an Azure PostgreSQL administrator name/,
    ],
  ])('%s', async (_label, edit, message) => {
    const file = await fixtureWith(edit);
    await expect(synthesizeAzureDemo(loadConfig(file), 'demo', await tempDir('synth'))).rejects.toMatchObject(
      {
        exitCode: 2,
        message: expect.stringMatching(message),
      },
    );
  });
});
