import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, test } from 'vitest';
import { POLICY_CHECK_IDS } from '../../core/config/azure.js';
import { loadConfig } from '../../core/config/load.js';
import { POLICY_CHECKS, runPolicyChecks, type TerraformJson } from '../../stacks/azure-demo/policy.js';
import { synthesizeAzureDemo } from '../../stacks/azure-demo/synth.js';
import { FIXTURE, tempDir, terraformRef } from './helpers.js';

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
  CKV_AZURE_171: { flip: (r) => (r.azurerm_kubernetes_cluster!.aks!.automatic_upgrade_channel = 'none') },
  TIER4_DIAGNOSTICS: { flip: (r) => delete r.azurerm_monitor_diagnostic_setting!['key-vault-diagnostics'] },
  TIER4_TAGS: { flip: (r) => delete r.azurerm_storage_account!.storage!.tags['managed-by'] },
};

function failing(doc: TerraformJson): string[] {
  return runPolicyChecks(doc)
    .findings.filter((f) => f.status === 'fail')
    .map((f) => f.check)
    .sort();
}

describe('policy checks over the synthesized stack', () => {
  let synthesized: TerraformJson;
  beforeAll(async () => {
    const result = await synthesizeAzureDemo(loadConfig(FIXTURE), 'demo', await tempDir('policy'));
    synthesized = JSON.parse(await readFile(result.file, 'utf8'));
  });

  test('every check passes on the default synthesis', () => {
    const report = runPolicyChecks(synthesized);
    expect(report.findings.filter((f) => f.status !== 'pass')).toEqual([]);
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
    const finding = runPolicyChecks(doc).findings.find((f) => f.check === id)!;
    expect(finding.problems.length).toBeGreaterThan(0);
    expect(finding.problems[0]!.resource).toMatch(/^azurerm_/);
  });

  test('a flipped check named in the exceptions is waived with its reason, not failed', () => {
    const doc = structuredClone(synthesized);
    FLIPS.CKV_AZURE_59!.flip(doc.resource as Resources);
    const report = runPolicyChecks(doc, [
      { check: 'CKV_AZURE_59', reason: 'backups written from outside Azure' },
    ]);
    expect(report.failed).toBe(0);
    expect(report.waived).toBe(1);
    expect(report.findings.find((f) => f.check === 'CKV_AZURE_59')).toMatchObject({
      status: 'waived',
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
