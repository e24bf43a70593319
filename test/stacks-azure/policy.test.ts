import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, test } from 'vitest';
import { POLICY_CHECK_IDS } from '../../core/config/azure.js';
import {
  POLICY_CHECKS,
  runPolicyChecks,
  type TerraformJson,
  vmSizeVcpus,
} from '../../stacks/azure-demo/policy.js';
import { SYNTHESIZED, terraformRef } from './helpers.js';

// Terraform JSON is untyped; the tests poke at it freely.
// biome-ignore lint/suspicious/noExplicitAny: untyped JSON under test
type Attrs = Record<string, any>;
type Resources = Record<string, Record<string, Attrs>>;

/**
 * One flip per check: the smallest edit of the synthesized JSON that turns the setting the check guards
 * the wrong way. `alsoFails` lists checks that guard the same setting.
 */
const FLIPS: Record<string, { flip: (r: Resources) => void; alsoFails?: string[] }> = {
  CKV_AZURE_3: { flip: (r) => (r.azurerm_storage_account!.storage!.https_traffic_only_enabled = false) },
  CKV_AZURE_44: { flip: (r) => (r.azurerm_storage_account!.storage!.min_tls_version = 'TLS1_0') },
  CKV_AZURE_59: { flip: (r) => (r.azurerm_storage_account!.storage!.public_network_access_enabled = true) },
  CKV_AZURE_190: {
    flip: (r) => (r.azurerm_storage_account!.storage!.allow_nested_items_to_be_public = true),
  },
  CKV2_AZURE_38: {
    flip: (r) => delete r.azurerm_storage_account!.storage!.blob_properties.delete_retention_policy,
  },
  CKV_AZURE_35: {
    flip: (r) => (r.azurerm_storage_account!.storage!.network_rules.default_action = 'Allow'),
  },
  CKV_AZURE_34: {
    flip: (r) => (r.azurerm_storage_container!['container-attachments']!.container_access_type = 'blob'),
  },
  CKV_AZURE_42: { flip: (r) => delete r.azurerm_key_vault!['key-vault']!.soft_delete_retention_days },
  CKV_AZURE_110: {
    flip: (r) => (r.azurerm_key_vault!['key-vault']!.purge_protection_enabled = false),
    alsoFails: ['CKV_AZURE_42'],
  },
  CKV_AZURE_109: { flip: (r) => (r.azurerm_key_vault!['key-vault']!.network_acls.default_action = 'Allow') },
  TIER4_PG_NO_OPEN_FIREWALL: {
    flip: (r) =>
      (r.azurerm_postgresql_flexible_server_firewall_rule = {
        'allow-azure': {
          name: 'AllowAllAzureServicesAndResourcesWithinAzureIps',
          server_id: terraformRef('azurerm_postgresql_flexible_server.postgres.id'),
          start_ip_address: '0.0.0.0',
          end_ip_address: '0.0.0.0',
        },
      }),
  },
  TIER4_PG_PRIVATE_ACCESS: {
    flip: (r) => (r.azurerm_postgresql_flexible_server!.postgres!.public_network_access_enabled = true),
  },
  TIER4_PG_SECURE_TRANSPORT: {
    flip: (r) =>
      (r.azurerm_postgresql_flexible_server_configuration!['postgres-require-secure-transport']!.value =
        'off'),
  },
  TIER4_PG_TLS_MIN: {
    flip: (r) =>
      (r.azurerm_postgresql_flexible_server_configuration!['postgres-ssl-min-protocol-version']!.value =
        'TLSv1.1'),
  },
  CKV_AZURE_4: { flip: (r) => delete r.azurerm_kubernetes_cluster!.aks!.oms_agent },
  CKV_AZURE_5: {
    flip: (r) => (r.azurerm_kubernetes_cluster!.aks!.role_based_access_control_enabled = false),
  },
  CKV_AZURE_6: {
    flip: (r) => (r.azurerm_kubernetes_cluster!.aks!.api_server_access_profile.authorized_ip_ranges = []),
  },
  CKV_AZURE_7: { flip: (r) => delete r.azurerm_kubernetes_cluster!.aks!.network_profile.network_policy },
  CKV_AZURE_141: { flip: (r) => (r.azurerm_kubernetes_cluster!.aks!.local_account_disabled = false) },
  CKV_AZURE_143: {
    flip: (r) => (r.azurerm_kubernetes_cluster!.aks!.default_node_pool.node_public_ip_enabled = true),
  },
  TIER4_AKS_SYSTEM_POOL: {
    flip: (r) => (r.azurerm_kubernetes_cluster!.aks!.default_node_pool.vm_size = 'Standard_B2s_v2'),
  },
  TIER4_AKS_ADMIN_ACCESS: {
    flip: (r) => delete r.azurerm_role_assignment!['aks-admin-group-0-rbac-cluster-admin'],
  },
  CKV_AZURE_171: { flip: (r) => (r.azurerm_kubernetes_cluster!.aks!.automatic_upgrade_channel = 'none') },
  TIER4_DIAGNOSTICS: { flip: (r) => delete r.azurerm_monitor_diagnostic_setting!['key-vault-diagnostics'] },
  TIER4_TAGS: { flip: (r) => delete r.azurerm_storage_account!.storage!.tags['managed-by'] },
};

function failing(doc: TerraformJson): string[] {
  return runPolicyChecks(doc)
    .outcomes.filter((f) => f.status === 'fail')
    .map((f) => f.rule)
    .sort();
}

// The stack as `tier4 azure synth` writes it for the fixture's demo site: read from SYNTHESIZED, which
// test/stacks-azure/synthesized-fixture.test.ts keeps equal to a fresh synthesis. Synthesizing here cost
// seconds per mutant under Stryker (every mutant re-runs the file's hooks, docs/mutation.md).
let synthesized: TerraformJson;
beforeAll(async () => {
  synthesized = JSON.parse(await readFile(SYNTHESIZED, 'utf8'));
});

describe('policy checks over the synthesized stack', () => {
  test('every check passes on the default synthesis', () => {
    const report = runPolicyChecks(synthesized);
    expect(report.outcomes.filter((f) => f.status !== 'ok')).toEqual([]);
    expect(report.passed).toBe(POLICY_CHECKS.length);
  });

  test('the flips below cover every check, and the configuration schema knows every check id', () => {
    const ids = POLICY_CHECKS.map((check) => check.id).sort();
    expect(Object.keys(FLIPS).sort()).toEqual(ids);
    expect([...POLICY_CHECK_IDS].sort()).toEqual(ids);
  });

  test.each(Object.keys(FLIPS))('%s fails when its setting is flipped', (id) => {
    const doc = structuredClone(synthesized);
    FLIPS[id]!.flip(doc.resource as Resources);
    expect(failing(doc)).toEqual([id, ...(FLIPS[id]!.alsoFails ?? [])].sort());
    const finding = runPolicyChecks(doc).outcomes.find((f) => f.rule === id)!;
    // One offending resource, named by its Terraform address.
    expect(finding.findings).toHaveLength(1);
    expect(finding.findings[0]!.object).toMatch(/^azurerm_[a-z_]+\.[a-z0-9-]+$/);
  });

  test('a flipped check named in the exceptions is waived with its reason, not failed', () => {
    const doc = structuredClone(synthesized);
    FLIPS.CKV_AZURE_59!.flip(doc.resource as Resources);
    const report = runPolicyChecks(doc, [
      { check: 'CKV_AZURE_59', reason: 'backups written from outside Azure' },
    ]);
    expect(report.failed).toBe(0);
    expect(report.waived).toBe(1);
    expect(report.outcomes.find((f) => f.rule === 'CKV_AZURE_59')).toMatchObject({
      status: 'warn',
      reason: 'backups written from outside Azure',
    });
  });

  test('hand-written Terraform JSON, with nested blocks as arrays, is read the same way', () => {
    const doc = structuredClone(synthesized);
    const aks = (doc.resource as Resources).azurerm_kubernetes_cluster!.aks!;
    aks.default_node_pool = [aks.default_node_pool];
    aks.network_profile = [aks.network_profile];
    expect(failing(doc)).toEqual([]);
    aks.default_node_pool[0].node_public_ip_enabled = true;
    expect(failing(doc)).toEqual(['CKV_AZURE_143']);
  });
});

type Edit = (r: Resources) => void;
const storage = (r: Resources) => r.azurerm_storage_account!.storage!;
const vault = (r: Resources) => r.azurerm_key_vault!['key-vault']!;
const server = (r: Resources) => r.azurerm_postgresql_flexible_server!.postgres!;
const aks = (r: Resources) => r.azurerm_kubernetes_cluster!.aks!;
const pgSetting = (r: Resources, id: string) => r.azurerm_postgresql_flexible_server_configuration![id]!;
const firewallRule = (start: string, end: string) => (r: Resources) => {
  r.azurerm_postgresql_flexible_server_firewall_rule = {
    rule: {
      name: 'office',
      server_id: terraformRef('azurerm_postgresql_flexible_server.postgres.id'),
      start_ip_address: start,
      end_ip_address: end,
    },
  };
};
const nodePool = (attrs: Attrs) => (r: Resources) => {
  r.azurerm_kubernetes_cluster_node_pool = {
    extra: {
      name: 'extra',
      kubernetes_cluster_id: terraformRef('azurerm_kubernetes_cluster.aks.id'),
      node_public_ip_enabled: false,
      ...attrs,
    },
  };
};

/**
 * Every way each check can fail, not one flip each: [check, what is wrong, edit, checks that must then
 * fail]. An edit that must fail nothing is a boundary the check must accept.
 */
const BRANCHES: Array<[string, string, Edit, string[]]> = [
  ['CKV_AZURE_3', 'HTTPS-only off', (r) => (storage(r).https_traffic_only_enabled = false), ['CKV_AZURE_3']],
  [
    'CKV_AZURE_3',
    'HTTPS-only left to the default',
    (r) => delete storage(r).https_traffic_only_enabled,
    ['CKV_AZURE_3'],
  ],
  ['CKV_AZURE_44', 'TLS 1.0', (r) => (storage(r).min_tls_version = 'TLS1_0'), ['CKV_AZURE_44']],
  ['CKV_AZURE_44', 'TLS 1.1', (r) => (storage(r).min_tls_version = 'TLS1_1'), ['CKV_AZURE_44']],
  ['CKV_AZURE_44', 'no minimum TLS', (r) => delete storage(r).min_tls_version, ['CKV_AZURE_44']],
  ['CKV_AZURE_44', 'TLS 1.3 is accepted', (r) => (storage(r).min_tls_version = 'TLS1_3'), []],
  [
    'CKV_AZURE_59',
    'public access left to the default',
    (r) => delete storage(r).public_network_access_enabled,
    ['CKV_AZURE_59'],
  ],
  [
    'CKV_AZURE_190',
    'public blobs left to the default',
    (r) => delete storage(r).allow_nested_items_to_be_public,
    ['CKV_AZURE_190'],
  ],
  [
    'CKV2_AZURE_38',
    'no container soft delete',
    (r) => delete storage(r).blob_properties.container_delete_retention_policy,
    ['CKV2_AZURE_38'],
  ],
  [
    'CKV2_AZURE_38',
    'blob soft delete of 0 days',
    (r) => (storage(r).blob_properties.delete_retention_policy.days = 0),
    ['CKV2_AZURE_38'],
  ],
  [
    'CKV2_AZURE_38',
    'container soft delete without days',
    (r) => delete storage(r).blob_properties.container_delete_retention_policy.days,
    ['CKV2_AZURE_38'],
  ],
  ['CKV2_AZURE_38', 'no blob properties at all', (r) => delete storage(r).blob_properties, ['CKV2_AZURE_38']],
  [
    'CKV2_AZURE_38',
    'one day is accepted',
    (r) => (storage(r).blob_properties.delete_retention_policy.days = 1),
    [],
  ],
  [
    'CKV_AZURE_35',
    'storage firewall allows by default',
    (r) => (storage(r).network_rules.default_action = 'Allow'),
    ['CKV_AZURE_35'],
  ],
  ['CKV_AZURE_35', 'no storage firewall', (r) => delete storage(r).network_rules, ['CKV_AZURE_35']],
  [
    'CKV_AZURE_35',
    'firewall default left unset',
    (r) => delete storage(r).network_rules.default_action,
    ['CKV_AZURE_35'],
  ],
  [
    'CKV_AZURE_34',
    'a public container',
    (r) => (r.azurerm_storage_container!['container-backups']!.container_access_type = 'container'),
    ['CKV_AZURE_34'],
  ],
  [
    'CKV_AZURE_34',
    'access type left to the default',
    (r) => delete r.azurerm_storage_container!['container-backups']!.container_access_type,
    ['CKV_AZURE_34'],
  ],
  [
    'CKV_AZURE_42',
    'purge protection left to the default',
    (r) => delete vault(r).purge_protection_enabled,
    ['CKV_AZURE_110', 'CKV_AZURE_42'],
  ],
  ['CKV_AZURE_109', 'no vault firewall', (r) => delete vault(r).network_acls, ['CKV_AZURE_109']],
  [
    'TIER4_PG_NO_OPEN_FIREWALL',
    'a rule for all of Azure (0.0.0.0-0.0.0.0)',
    firewallRule('0.0.0.0', '0.0.0.0'),
    ['TIER4_PG_NO_OPEN_FIREWALL'],
  ],
  [
    'TIER4_PG_NO_OPEN_FIREWALL',
    'a rule ending at 255.255.255.255',
    firewallRule('10.1.2.3', '255.255.255.255'),
    ['TIER4_PG_NO_OPEN_FIREWALL'],
  ],
  [
    'TIER4_PG_NO_OPEN_FIREWALL',
    'a rule starting at 0.0.0.0',
    firewallRule('0.0.0.0', '10.1.2.3'),
    ['TIER4_PG_NO_OPEN_FIREWALL'],
  ],
  [
    'TIER4_PG_NO_OPEN_FIREWALL',
    'one office address is accepted',
    firewallRule('203.0.113.4', '203.0.113.4'),
    [],
  ],
  [
    'TIER4_PG_PRIVATE_ACCESS',
    'public access left to the default',
    (r) => delete server(r).public_network_access_enabled,
    ['TIER4_PG_PRIVATE_ACCESS'],
  ],
  [
    'TIER4_PG_PRIVATE_ACCESS',
    'no delegated subnet',
    (r) => delete server(r).delegated_subnet_id,
    ['TIER4_PG_PRIVATE_ACCESS'],
  ],
  [
    'TIER4_PG_PRIVATE_ACCESS',
    'an empty delegated subnet',
    (r) => (server(r).delegated_subnet_id = ''),
    ['TIER4_PG_PRIVATE_ACCESS'],
  ],
  [
    'TIER4_PG_PRIVATE_ACCESS',
    'no private DNS zone',
    (r) => delete server(r).private_dns_zone_id,
    ['TIER4_PG_PRIVATE_ACCESS'],
  ],
  [
    'TIER4_PG_SECURE_TRANSPORT',
    'the setting missing',
    (r) => delete r.azurerm_postgresql_flexible_server_configuration!['postgres-require-secure-transport'],
    ['TIER4_PG_SECURE_TRANSPORT'],
  ],
  [
    'TIER4_PG_SECURE_TRANSPORT',
    'the setting on another server',
    (r) =>
      (pgSetting(r, 'postgres-require-secure-transport').server_id = terraformRef(
        'azurerm_postgresql_flexible_server.other.id',
      )),
    ['TIER4_PG_SECURE_TRANSPORT'],
  ],
  [
    'TIER4_PG_SECURE_TRANSPORT',
    'ON in capitals is accepted',
    (r) => (pgSetting(r, 'postgres-require-secure-transport').value = 'ON'),
    [],
  ],
  [
    'TIER4_PG_TLS_MIN',
    'the setting missing',
    (r) => delete r.azurerm_postgresql_flexible_server_configuration!['postgres-ssl-min-protocol-version'],
    ['TIER4_PG_TLS_MIN'],
  ],
  [
    'TIER4_PG_TLS_MIN',
    'TLSv1.2 set on another server',
    (r) =>
      (pgSetting(r, 'postgres-ssl-min-protocol-version').server_id = terraformRef(
        'azurerm_postgresql_flexible_server.other.id',
      )),
    ['TIER4_PG_TLS_MIN'],
  ],
  [
    'TIER4_PG_TLS_MIN',
    'TLSv1.3 is accepted',
    (r) => (pgSetting(r, 'postgres-ssl-min-protocol-version').value = 'TLSv1.3'),
    [],
  ],
  [
    'CKV_AZURE_4',
    'an empty workspace id',
    (r) => (aks(r).oms_agent.log_analytics_workspace_id = ''),
    ['CKV_AZURE_4'],
  ],
  [
    'CKV_AZURE_5',
    'RBAC left to the default',
    (r) => delete aks(r).role_based_access_control_enabled,
    ['CKV_AZURE_5'],
  ],
  [
    'CKV_AZURE_6',
    'the API open to 0.0.0.0/0',
    (r) => aks(r).api_server_access_profile.authorized_ip_ranges.push('0.0.0.0/0'),
    ['CKV_AZURE_6'],
  ],
  ['CKV_AZURE_6', 'no API access profile', (r) => delete aks(r).api_server_access_profile, ['CKV_AZURE_6']],
  [
    'CKV_AZURE_6',
    'a private cluster needs no ranges',
    (r) => {
      aks(r).private_cluster_enabled = true;
      delete aks(r).api_server_access_profile;
    },
    [],
  ],
  ['CKV_AZURE_7', 'no network profile', (r) => delete aks(r).network_profile, ['CKV_AZURE_7']],
  [
    'CKV_AZURE_141',
    'local accounts left to the default',
    (r) => delete aks(r).local_account_disabled,
    ['CKV_AZURE_141'],
  ],
  [
    'CKV_AZURE_143',
    'public IPs on the default pool left to the default',
    (r) => delete aks(r).default_node_pool.node_public_ip_enabled,
    ['CKV_AZURE_143'],
  ],
  [
    'CKV_AZURE_143',
    'an extra pool with public IPs',
    nodePool({ node_public_ip_enabled: true, vm_size: 'Standard_D4as_v5' }),
    ['CKV_AZURE_143'],
  ],
  [
    'CKV_AZURE_143',
    'an extra pool without the setting',
    nodePool({ node_public_ip_enabled: undefined, vm_size: 'Standard_D4as_v5' }),
    ['CKV_AZURE_143'],
  ],
  ['CKV_AZURE_171', 'no upgrade channel', (r) => delete aks(r).automatic_upgrade_channel, ['CKV_AZURE_171']],
  ['CKV_AZURE_171', 'node-image is accepted', (r) => (aks(r).automatic_upgrade_channel = 'node-image'), []],
  ['CKV_AZURE_171', 'stable is accepted', (r) => (aks(r).automatic_upgrade_channel = 'stable'), []],
  ['CKV_AZURE_171', 'rapid is accepted', (r) => (aks(r).automatic_upgrade_channel = 'rapid'), []],
  [
    'TIER4_AKS_SYSTEM_POOL',
    'a 2-vCPU size',
    (r) => (aks(r).default_node_pool.vm_size = 'Standard_D2as_v5'),
    ['TIER4_AKS_SYSTEM_POOL'],
  ],
  [
    'TIER4_AKS_SYSTEM_POOL',
    'a size constrained to 2 active vCPUs',
    (r) => (aks(r).default_node_pool.vm_size = 'Standard_E4-2ds_v5'),
    ['TIER4_AKS_SYSTEM_POOL'],
  ],
  [
    'TIER4_AKS_SYSTEM_POOL',
    'an old name that does not tell its vCPUs',
    (r) => (aks(r).default_node_pool.vm_size = 'Standard_DS4_v2'),
    ['TIER4_AKS_SYSTEM_POOL'],
  ],
  [
    'TIER4_AKS_SYSTEM_POOL',
    'B-series with 4 vCPUs',
    (r) => (aks(r).default_node_pool.vm_size = 'Standard_B4ms'),
    ['TIER4_AKS_SYSTEM_POOL'],
  ],
  [
    'TIER4_AKS_SYSTEM_POOL',
    'no size',
    (r) => delete aks(r).default_node_pool.vm_size,
    ['TIER4_AKS_SYSTEM_POOL'],
  ],
  [
    'TIER4_AKS_SYSTEM_POOL',
    'autoscaling down to one node',
    (r) => (aks(r).default_node_pool.min_count = 1),
    ['TIER4_AKS_SYSTEM_POOL'],
  ],
  [
    'TIER4_AKS_SYSTEM_POOL',
    'autoscaling without a minimum',
    (r) => delete aks(r).default_node_pool.min_count,
    ['TIER4_AKS_SYSTEM_POOL'],
  ],
  [
    'TIER4_AKS_SYSTEM_POOL',
    'a fixed pool of one node',
    (r) => {
      aks(r).default_node_pool.auto_scaling_enabled = false;
      aks(r).default_node_pool.node_count = 1;
    },
    ['TIER4_AKS_SYSTEM_POOL'],
  ],
  [
    'TIER4_AKS_SYSTEM_POOL',
    'a fixed pool with no count',
    (r) => {
      aks(r).default_node_pool.auto_scaling_enabled = false;
    },
    ['TIER4_AKS_SYSTEM_POOL'],
  ],
  [
    'TIER4_AKS_SYSTEM_POOL',
    'a fixed pool of two 4-vCPU nodes is accepted',
    (r) => {
      aks(r).default_node_pool.auto_scaling_enabled = false;
      aks(r).default_node_pool.node_count = 2;
      aks(r).default_node_pool.vm_size = 'Standard_D4s_v5';
    },
    [],
  ],
  [
    'TIER4_AKS_SYSTEM_POOL',
    'an extra B-series system pool',
    nodePool({ mode: 'System', vm_size: 'Standard_B2s', auto_scaling_enabled: true, min_count: 2 }),
    ['TIER4_AKS_SYSTEM_POOL'],
  ],
  [
    'TIER4_AKS_SYSTEM_POOL',
    'an extra B-series user pool is accepted',
    nodePool({ mode: 'User', vm_size: 'Standard_B2s', node_count: 1 }),
    [],
  ],
  [
    'TIER4_AKS_ADMIN_ACCESS',
    'no admin group',
    (r) => (aks(r).azure_active_directory_role_based_access_control.admin_group_object_ids = []),
    ['TIER4_AKS_ADMIN_ACCESS'],
  ],
  [
    'TIER4_AKS_ADMIN_ACCESS',
    'no Azure AD block',
    (r) => delete aks(r).azure_active_directory_role_based_access_control,
    ['TIER4_AKS_ADMIN_ACCESS'],
  ],
  [
    'TIER4_AKS_ADMIN_ACCESS',
    'no right to fetch credentials',
    (r) => delete r.azurerm_role_assignment!['aks-admin-group-0-cluster-user'],
    ['TIER4_AKS_ADMIN_ACCESS'],
  ],
  [
    'TIER4_AKS_ADMIN_ACCESS',
    'the admin role on another scope',
    (r) =>
      (r.azurerm_role_assignment!['aks-admin-group-0-rbac-cluster-admin']!.scope = terraformRef(
        'azurerm_resource_group.resource-group.id',
      )),
    ['TIER4_AKS_ADMIN_ACCESS'],
  ],
  [
    'TIER4_AKS_ADMIN_ACCESS',
    'a second admin group without roles',
    (r) =>
      aks(r).azure_active_directory_role_based_access_control.admin_group_object_ids.push(
        '99999999-2222-3333-4444-555555555555',
      ),
    ['TIER4_AKS_ADMIN_ACCESS'],
  ],
  [
    'TIER4_DIAGNOSTICS',
    'AKS without diagnostics',
    (r) => delete r.azurerm_monitor_diagnostic_setting!['aks-diagnostics'],
    ['TIER4_DIAGNOSTICS'],
  ],
  [
    'TIER4_DIAGNOSTICS',
    'PostgreSQL without diagnostics',
    (r) => delete r.azurerm_monitor_diagnostic_setting!['postgres-diagnostics'],
    ['TIER4_DIAGNOSTICS'],
  ],
  [
    'TIER4_DIAGNOSTICS',
    'storage without diagnostics',
    (r) => delete r.azurerm_monitor_diagnostic_setting!['storage-diagnostics'],
    ['TIER4_DIAGNOSTICS'],
  ],
  [
    'TIER4_DIAGNOSTICS',
    'a setting with no logs',
    (r) => (r.azurerm_monitor_diagnostic_setting!['aks-diagnostics']!.enabled_log = []),
    ['TIER4_DIAGNOSTICS'],
  ],
  [
    'TIER4_DIAGNOSTICS',
    'a setting with no workspace',
    (r) => delete r.azurerm_monitor_diagnostic_setting!['postgres-diagnostics']!.log_analytics_workspace_id,
    ['TIER4_DIAGNOSTICS'],
  ],
  ['TIER4_TAGS', 'an empty site tag', (r) => (aks(r).tags.site = ''), ['TIER4_TAGS']],
  [
    'TIER4_TAGS',
    'no tags on the DNS zone',
    (r) => delete r.azurerm_dns_zone!['dns-zone']!.tags,
    ['TIER4_TAGS'],
  ],
  [
    'TIER4_TAGS',
    'no role tag on the data collection rule',
    (r) => delete r.azurerm_monitor_data_collection_rule!['container-insights-rule']!.tags.role,
    ['TIER4_TAGS'],
  ],
];

/** Exactly what each failing branch reports, as [resource, problem]: the right resource, the right reason. */
const BRANCH_FINDINGS: Record<string, Array<[string, string]>> = {
  'CKV_AZURE_3: HTTPS-only off': [
    ['azurerm_storage_account.storage', 'https_traffic_only_enabled is false, must be true'],
  ],
  'CKV_AZURE_3: HTTPS-only left to the default': [
    ['azurerm_storage_account.storage', 'https_traffic_only_enabled is not set, must be true'],
  ],
  'CKV_AZURE_44: TLS 1.0': [
    ['azurerm_storage_account.storage', 'min_tls_version is "TLS1_0", must be one of "TLS1_2", "TLS1_3"'],
  ],
  'CKV_AZURE_44: TLS 1.1': [
    ['azurerm_storage_account.storage', 'min_tls_version is "TLS1_1", must be one of "TLS1_2", "TLS1_3"'],
  ],
  'CKV_AZURE_44: no minimum TLS': [
    ['azurerm_storage_account.storage', 'min_tls_version is not set, must be one of "TLS1_2", "TLS1_3"'],
  ],
  'CKV_AZURE_59: public access left to the default': [
    ['azurerm_storage_account.storage', 'public_network_access_enabled is not set, must be false'],
  ],
  'CKV_AZURE_190: public blobs left to the default': [
    ['azurerm_storage_account.storage', 'allow_nested_items_to_be_public is not set, must be false'],
  ],
  'CKV2_AZURE_38: no container soft delete': [
    [
      'azurerm_storage_account.storage',
      'blob_properties.container_delete_retention_policy.days is not set, must be at least 1',
    ],
  ],
  'CKV2_AZURE_38: blob soft delete of 0 days': [
    [
      'azurerm_storage_account.storage',
      'blob_properties.delete_retention_policy.days is 0, must be at least 1',
    ],
  ],
  'CKV2_AZURE_38: container soft delete without days': [
    [
      'azurerm_storage_account.storage',
      'blob_properties.container_delete_retention_policy.days is not set, must be at least 1',
    ],
  ],
  'CKV2_AZURE_38: no blob properties at all': [
    [
      'azurerm_storage_account.storage',
      'blob_properties.delete_retention_policy.days is not set, must be at least 1',
    ],
  ],
  'CKV_AZURE_35: storage firewall allows by default': [
    ['azurerm_storage_account.storage', 'network_rules.default_action is "Allow", must be "Deny"'],
  ],
  'CKV_AZURE_35: no storage firewall': [
    ['azurerm_storage_account.storage', 'network_rules.default_action is not set, must be "Deny"'],
  ],
  'CKV_AZURE_35: firewall default left unset': [
    ['azurerm_storage_account.storage', 'network_rules.default_action is not set, must be "Deny"'],
  ],
  'CKV_AZURE_34: a public container': [
    [
      'azurerm_storage_container.container-backups',
      'container_access_type is "container", must be "private"',
    ],
  ],
  'CKV_AZURE_34: access type left to the default': [
    ['azurerm_storage_container.container-backups', 'container_access_type is not set, must be "private"'],
  ],
  'CKV_AZURE_42: purge protection left to the default': [
    ['azurerm_key_vault.key-vault', 'purge_protection_enabled is not set, must be true'],
  ],
  'CKV_AZURE_109: no vault firewall': [
    ['azurerm_key_vault.key-vault', 'network_acls.default_action is not set, must be "Deny"'],
  ],
  'TIER4_PG_NO_OPEN_FIREWALL: a rule for all of Azure (0.0.0.0-0.0.0.0)': [
    ['azurerm_postgresql_flexible_server_firewall_rule.rule', 'opens 0.0.0.0-0.0.0.0'],
  ],
  'TIER4_PG_NO_OPEN_FIREWALL: a rule ending at 255.255.255.255': [
    ['azurerm_postgresql_flexible_server_firewall_rule.rule', 'opens 10.1.2.3-255.255.255.255'],
  ],
  'TIER4_PG_NO_OPEN_FIREWALL: a rule starting at 0.0.0.0': [
    ['azurerm_postgresql_flexible_server_firewall_rule.rule', 'opens 0.0.0.0-10.1.2.3'],
  ],
  'TIER4_PG_PRIVATE_ACCESS: public access left to the default': [
    [
      'azurerm_postgresql_flexible_server.postgres',
      'public_network_access_enabled is not set, must be false',
    ],
  ],
  'TIER4_PG_PRIVATE_ACCESS: no delegated subnet': [
    ['azurerm_postgresql_flexible_server.postgres', 'delegated_subnet_id is not set'],
  ],
  'TIER4_PG_PRIVATE_ACCESS: an empty delegated subnet': [
    ['azurerm_postgresql_flexible_server.postgres', 'delegated_subnet_id is not set'],
  ],
  'TIER4_PG_PRIVATE_ACCESS: no private DNS zone': [
    ['azurerm_postgresql_flexible_server.postgres', 'private_dns_zone_id is not set'],
  ],
  'TIER4_PG_SECURE_TRANSPORT: the setting missing': [
    ['azurerm_postgresql_flexible_server.postgres', 'require_secure_transport is not set, must be on'],
  ],
  'TIER4_PG_SECURE_TRANSPORT: the setting on another server': [
    ['azurerm_postgresql_flexible_server.postgres', 'require_secure_transport is not set, must be on'],
  ],
  'TIER4_PG_TLS_MIN: TLSv1.2 set on another server': [
    [
      'azurerm_postgresql_flexible_server.postgres',
      'ssl_min_protocol_version is not set, must be TLSv1.2 or TLSv1.3',
    ],
  ],
  'TIER4_AKS_SYSTEM_POOL: autoscaling without a minimum': [
    [
      'azurerm_kubernetes_cluster.aks',
      'default_node_pool: min_count is not set; a system pool needs at least 2 nodes',
    ],
  ],
  'TIER4_PG_TLS_MIN: the setting missing': [
    [
      'azurerm_postgresql_flexible_server.postgres',
      'ssl_min_protocol_version is not set, must be TLSv1.2 or TLSv1.3',
    ],
  ],
  'CKV_AZURE_4: an empty workspace id': [
    ['azurerm_kubernetes_cluster.aks', 'oms_agent.log_analytics_workspace_id is not set'],
  ],
  'CKV_AZURE_5: RBAC left to the default': [
    ['azurerm_kubernetes_cluster.aks', 'role_based_access_control_enabled is not set, must be true'],
  ],
  'CKV_AZURE_6: the API open to 0.0.0.0/0': [
    ['azurerm_kubernetes_cluster.aks', 'api_server_access_profile.authorized_ip_ranges admits 0.0.0.0/0'],
  ],
  'CKV_AZURE_6: no API access profile': [
    ['azurerm_kubernetes_cluster.aks', 'api_server_access_profile.authorized_ip_ranges is empty'],
  ],
  'CKV_AZURE_7: no network profile': [
    ['azurerm_kubernetes_cluster.aks', 'network_profile.network_policy is not set'],
  ],
  'CKV_AZURE_141: local accounts left to the default': [
    ['azurerm_kubernetes_cluster.aks', 'local_account_disabled is not set, must be true'],
  ],
  'CKV_AZURE_143: public IPs on the default pool left to the default': [
    ['azurerm_kubernetes_cluster.aks', 'default_node_pool.node_public_ip_enabled is not set, must be false'],
  ],
  'CKV_AZURE_143: an extra pool with public IPs': [
    ['azurerm_kubernetes_cluster_node_pool.extra', 'node_public_ip_enabled is true, must be false'],
  ],
  'CKV_AZURE_143: an extra pool without the setting': [
    ['azurerm_kubernetes_cluster_node_pool.extra', 'node_public_ip_enabled is not set, must be false'],
  ],
  'CKV_AZURE_171: no upgrade channel': [
    [
      'azurerm_kubernetes_cluster.aks',
      'automatic_upgrade_channel is not set, must be one of "patch", "stable", "rapid", "node-image"',
    ],
  ],
  'TIER4_AKS_SYSTEM_POOL: a 2-vCPU size': [
    [
      'azurerm_kubernetes_cluster.aks',
      'default_node_pool: vm_size Standard_D2as_v5 has 2 vCPUs; a system pool needs at least 4',
    ],
  ],
  'TIER4_AKS_SYSTEM_POOL: a size constrained to 2 active vCPUs': [
    [
      'azurerm_kubernetes_cluster.aks',
      'default_node_pool: vm_size Standard_E4-2ds_v5 has 2 vCPUs; a system pool needs at least 4',
    ],
  ],
  'TIER4_AKS_SYSTEM_POOL: an old name that does not tell its vCPUs': [
    [
      'azurerm_kubernetes_cluster.aks',
      'default_node_pool: vm_size Standard_DS4_v2: cannot tell its vCPUs from the name; choose a v3-or-later size with at least 4 vCPUs (such as Standard_D4as_v5)',
    ],
  ],
  'TIER4_AKS_SYSTEM_POOL: B-series with 4 vCPUs': [
    [
      'azurerm_kubernetes_cluster.aks',
      'default_node_pool: vm_size Standard_B4ms is B-series, which AKS does not support for system pools',
    ],
  ],
  'TIER4_AKS_SYSTEM_POOL: no size': [
    [
      'azurerm_kubernetes_cluster.aks',
      'default_node_pool: vm_size is not set: cannot tell its vCPUs from the name; choose a v3-or-later size with at least 4 vCPUs (such as Standard_D4as_v5)',
    ],
  ],
  'TIER4_AKS_SYSTEM_POOL: autoscaling down to one node': [
    [
      'azurerm_kubernetes_cluster.aks',
      'default_node_pool: min_count is 1; a system pool needs at least 2 nodes',
    ],
  ],
  'TIER4_AKS_SYSTEM_POOL: a fixed pool of one node': [
    [
      'azurerm_kubernetes_cluster.aks',
      'default_node_pool: node_count is 1; a system pool needs at least 2 nodes',
    ],
  ],
  'TIER4_AKS_SYSTEM_POOL: a fixed pool with no count': [
    [
      'azurerm_kubernetes_cluster.aks',
      'default_node_pool: node_count is not set; a system pool needs at least 2 nodes',
    ],
  ],
  'TIER4_AKS_SYSTEM_POOL: an extra B-series system pool': [
    [
      'azurerm_kubernetes_cluster_node_pool.extra',
      'vm_size Standard_B2s is B-series, which AKS does not support for system pools',
    ],
  ],
  'TIER4_AKS_ADMIN_ACCESS: no admin group': [
    [
      'azurerm_kubernetes_cluster.aks',
      'azure_active_directory_role_based_access_control.admin_group_object_ids is empty: nobody may deploy',
    ],
  ],
  'TIER4_AKS_ADMIN_ACCESS: no Azure AD block': [
    [
      'azurerm_kubernetes_cluster.aks',
      'azure_active_directory_role_based_access_control.admin_group_object_ids is empty: nobody may deploy',
    ],
  ],
  'TIER4_AKS_ADMIN_ACCESS: no right to fetch credentials': [
    [
      'azurerm_kubernetes_cluster.aks',
      'admin group 11111111-2222-3333-4444-555555555555 has no "Azure Kubernetes Service Cluster User Role" assignment on the cluster',
    ],
  ],
  'TIER4_AKS_ADMIN_ACCESS: the admin role on another scope': [
    [
      'azurerm_kubernetes_cluster.aks',
      'admin group 11111111-2222-3333-4444-555555555555 has no "Azure Kubernetes Service RBAC Cluster Admin" assignment on the cluster',
    ],
  ],
  'TIER4_AKS_ADMIN_ACCESS: a second admin group without roles': [
    [
      'azurerm_kubernetes_cluster.aks',
      'admin group 99999999-2222-3333-4444-555555555555 has no "Azure Kubernetes Service RBAC Cluster Admin" assignment on the cluster',
    ],
  ],
  'TIER4_DIAGNOSTICS: AKS without diagnostics': [
    ['azurerm_kubernetes_cluster.aks', 'has no diagnostic setting sending logs to Log Analytics'],
  ],
  'TIER4_DIAGNOSTICS: PostgreSQL without diagnostics': [
    [
      'azurerm_postgresql_flexible_server.postgres',
      'has no diagnostic setting sending logs to Log Analytics',
    ],
  ],
  'TIER4_DIAGNOSTICS: storage without diagnostics': [
    ['azurerm_storage_account.storage', 'has no diagnostic setting sending logs to Log Analytics'],
  ],
  'TIER4_DIAGNOSTICS: a setting with no logs': [
    ['azurerm_kubernetes_cluster.aks', 'has no diagnostic setting sending logs to Log Analytics'],
  ],
  'TIER4_DIAGNOSTICS: a setting with no workspace': [
    [
      'azurerm_postgresql_flexible_server.postgres',
      'has no diagnostic setting sending logs to Log Analytics',
    ],
  ],
  'TIER4_TAGS: an empty site tag': [['azurerm_kubernetes_cluster.aks', 'missing tags: site']],
  'TIER4_TAGS: no tags on the DNS zone': [
    ['azurerm_dns_zone.dns-zone', 'missing tags: site, role, managed-by'],
  ],
  'TIER4_TAGS: no role tag on the data collection rule': [
    ['azurerm_monitor_data_collection_rule.container-insights-rule', 'missing tags: role'],
  ],
};

describe('each policy check on every branch that can make it fail', () => {
  test.each(BRANCHES)('%s: %s', (id, _label, edit, expected) => {
    const doc = structuredClone(synthesized);
    edit(doc.resource as Resources);
    expect(failing(doc)).toEqual([...expected].sort());
    const findings = runPolicyChecks(doc).outcomes.find((f) => f.rule === id)!.findings;
    expect(findings.map((f) => [f.object, f.message])).toEqual(BRANCH_FINDINGS[`${id}: ${_label}`] ?? []);
  });

  test('every failing branch states its findings, and only those', () => {
    const failingBranches = BRANCHES.filter(([id, , , expected]) => expected.includes(id)).map(
      ([id, label]) => `${id}: ${label}`,
    );
    expect(Object.keys(BRANCH_FINDINGS).sort()).toEqual(failingBranches.sort());
  });

  test('every check has a branch beyond its one flip', () => {
    const covered = new Set(BRANCHES.map(([id]) => id));
    const missing = POLICY_CHECKS.map((c) => c.id).filter((id) => !covered.has(id) && id !== 'CKV_AZURE_110');
    expect(missing).toEqual([]);
  });

  test('vCPUs are read from sizes that follow the naming convention, and only from those', () => {
    expect(vmSizeVcpus('Standard_D4as_v5')).toBe(4);
    expect(vmSizeVcpus('Standard_D16-4s_v5')).toBe(4);
    expect(vmSizeVcpus('Standard_E2s_v3')).toBe(2);
    expect(vmSizeVcpus('Standard_DS4_v2')).toBeUndefined();
    expect(vmSizeVcpus('Standard_B2s')).toBeUndefined();
    expect(vmSizeVcpus('D4as_v5')).toBeUndefined();
  });
});

describe('the tag check covers every resource the stack tags', () => {
  test('each tagged resource without its tags is named, with the three tags it misses', () => {
    const tagged = Object.entries(synthesized.resource ?? {}).flatMap(([type, resources]) =>
      Object.entries(resources)
        .filter(([, attrs]) => attrs.tags !== undefined)
        .map(([name]) => [type, name] as const),
    );
    // The taggable types the stack creates (azurerm resources with a tags argument), each checked.
    expect(new Set(tagged.map(([type]) => type)).size).toBe(17);
    const found = tagged.map(([type, name]) => {
      const doc = structuredClone(synthesized);
      delete (doc.resource as Resources)[type]![name]!.tags;
      return runPolicyChecks(doc).outcomes.find((f) => f.rule === 'TIER4_TAGS')!.findings;
    });
    expect(found).toEqual(
      tagged.map(([type, name]) => [
        { rule: 'TIER4_TAGS', object: `${type}.${name}`, message: 'missing tags: site, role, managed-by' },
      ]),
    );
  });
});

describe('what each check asks for', () => {
  // `tier4 site azure synth` prints `FAIL <id>: <title>` for each failing check (cli/commands/site-azure.ts).
  const TITLES: Array<[string, string]> = [
    ['CKV_AZURE_3', 'Storage accepts HTTPS only'],
    ['CKV_AZURE_44', 'Storage requires TLS 1.2 or newer'],
    ['CKV_AZURE_59', 'Storage has no public network access'],
    ['CKV_AZURE_190', 'Storage allows no public blobs or containers'],
    ['CKV2_AZURE_38', 'Storage soft-deletes blobs and containers'],
    ['CKV_AZURE_35', 'Storage firewall denies by default'],
    ['CKV_AZURE_34', 'Blob containers are private'],
    ['CKV_AZURE_42', 'Key Vault is recoverable (soft delete and purge protection)'],
    ['CKV_AZURE_110', 'Key Vault has purge protection'],
    ['CKV_AZURE_109', 'Key Vault firewall denies by default'],
    ['TIER4_PG_NO_OPEN_FIREWALL', 'PostgreSQL has no firewall rule open to all of Azure or the internet'],
    ['TIER4_PG_PRIVATE_ACCESS', 'PostgreSQL is reachable only inside the VNet'],
    ['TIER4_PG_SECURE_TRANSPORT', 'PostgreSQL requires TLS'],
    ['TIER4_PG_TLS_MIN', 'PostgreSQL requires TLS 1.2 or newer'],
    ['CKV_AZURE_4', 'AKS sends container logs to Log Analytics'],
    ['CKV_AZURE_5', 'AKS has Kubernetes RBAC'],
    ['CKV_AZURE_6', 'AKS API server admits only authorized ranges'],
    ['CKV_AZURE_7', 'AKS enforces network policy'],
    ['CKV_AZURE_141', 'AKS local admin account is disabled'],
    ['CKV_AZURE_143', 'AKS nodes have no public IP'],
    ['TIER4_AKS_SYSTEM_POOL', 'AKS system pools have at least 2 nodes of 4+ vCPUs, not B-series'],
    ['TIER4_AKS_ADMIN_ACCESS', 'AKS admin groups may fetch credentials and administer the cluster'],
    ['CKV_AZURE_171', 'AKS upgrades automatically'],
    ['TIER4_DIAGNOSTICS', 'AKS, PostgreSQL, Key Vault and storage send logs to Log Analytics'],
    ['TIER4_TAGS', 'Every resource is tagged site, role, managed-by'],
  ];

  test('a failing check is reported with what it asks for, and as a failure', () => {
    const doc = structuredClone(synthesized);
    for (const id of Object.keys(FLIPS)) FLIPS[id]!.flip(doc.resource as Resources);
    const report = runPolicyChecks(doc);
    expect(report.outcomes.map((o) => [o.rule, o.title, o.status])).toEqual(
      TITLES.map(([id, title]) => [id, title, 'fail']),
    );
    expect([report.passed, report.failed, report.waived]).toEqual([0, TITLES.length, 0]);
  });
});

describe('the readers under the checks, on values the synthesis does not produce', () => {
  const findingsOf = (doc: TerraformJson, id: string) =>
    runPolicyChecks(doc)
      .outcomes.find((f) => f.rule === id)!
      .findings.map((f) => [f.object, f.message]);

  test('a document without resources passes every check (nothing to check)', () => {
    const report = runPolicyChecks({});
    expect([report.passed, report.failed, report.waived]).toEqual([POLICY_CHECKS.length, 0, 0]);
  });

  test('an empty list, or null, is not a setting; a non-empty list is', () => {
    const doc = structuredClone(synthesized);
    server(doc.resource as Resources).delegated_subnet_id = [];
    expect(findingsOf(doc, 'TIER4_PG_PRIVATE_ACCESS')).toEqual([
      ['azurerm_postgresql_flexible_server.postgres', 'delegated_subnet_id is not set'],
    ]);
    server(doc.resource as Resources).delegated_subnet_id = null;
    expect(findingsOf(doc, 'TIER4_PG_PRIVATE_ACCESS')).toEqual([
      ['azurerm_postgresql_flexible_server.postgres', 'delegated_subnet_id is not set'],
    ]);
    server(doc.resource as Resources).delegated_subnet_id = [
      terraformRef('azurerm_subnet.subnet-postgres.id'),
    ];
    expect(failing(doc)).toEqual([]);
  });

  test('a block set to null is a block not set', () => {
    const doc = structuredClone(synthesized);
    storage(doc.resource as Resources).network_rules = null;
    expect(findingsOf(doc, 'CKV_AZURE_35')).toEqual([
      ['azurerm_storage_account.storage', 'network_rules.default_action is not set, must be "Deny"'],
    ]);
  });

  test('an assignment with no scope grants nothing on the cluster', () => {
    const doc = structuredClone(synthesized);
    const assignments = (doc.resource as Resources).azurerm_role_assignment!;
    delete assignments['aks-admin-group-0-rbac-cluster-admin']!.scope;
    expect(findingsOf(doc, 'TIER4_AKS_ADMIN_ACCESS')).toEqual([
      [
        'azurerm_kubernetes_cluster.aks',
        'admin group 11111111-2222-3333-4444-555555555555 has no "Azure Kubernetes Service RBAC Cluster Admin" assignment on the cluster',
      ],
    ]);
  });

  test('a reference to another resource whose name starts the same is not a reference to this one', () => {
    const doc = structuredClone(synthesized);
    pgSetting(doc.resource as Resources, 'postgres-require-secure-transport').server_id = terraformRef(
      'azurerm_postgresql_flexible_server.postgres-old.id',
    );
    expect(findingsOf(doc, 'TIER4_PG_SECURE_TRANSPORT')).toEqual([
      ['azurerm_postgresql_flexible_server.postgres', 'require_secure_transport is not set, must be on'],
    ]);
  });

  test('an extra pool without public IPs passes', () => {
    const doc = structuredClone(synthesized);
    nodePool({ mode: 'User', vm_size: 'Standard_D4as_v5', node_count: 1 })(doc.resource as Resources);
    expect(failing(doc)).toEqual([]);
  });

  test('B-series is told by the name prefix; a name that only contains it is a name tier4 cannot read', () => {
    const doc = structuredClone(synthesized);
    aks(doc.resource as Resources).default_node_pool.vm_size = 'Promo_Standard_B4ms_v5';
    expect(findingsOf(doc, 'TIER4_AKS_SYSTEM_POOL')).toEqual([
      [
        'azurerm_kubernetes_cluster.aks',
        'default_node_pool: vm_size Promo_Standard_B4ms_v5: cannot tell its vCPUs from the name; choose a v3-or-later size with at least 4 vCPUs (such as Standard_D4as_v5)',
      ],
    ]);
  });

  test('vCPUs: multi-letter families, two-digit constrained counts and versions, and only whole names', () => {
    expect(vmSizeVcpus('Standard_DC4s_v3')).toBe(4);
    expect(vmSizeVcpus('Standard_E64-16s_v5')).toBe(16);
    expect(vmSizeVcpus('Standard_D4s_v10')).toBe(4);
    expect(vmSizeVcpus('Promo_Standard_D4s_v5')).toBeUndefined();
    expect(vmSizeVcpus('Standard_D4s_v5_Promo')).toBeUndefined();
  });
});
