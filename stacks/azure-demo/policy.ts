/**
 * Policy checks over the synthesized Terraform JSON. No scanner runs offline here, so these are our own,
 * each named after the checkov id it mirrors (TIER4_* where checkov has none). They are stricter than
 * checkov in one way: a setting must be written explicitly, never left to a provider default.
 *
 * Pure functions over plain JSON: no cdktf import, so tests and `tier4 doctor` can use them cheaply.
 */

import { countStatuses } from '../../core/checks.js';
import { evaluateRules, type PolicyFinding, type PolicyRule, type RuleOutcome } from '../../core/policy.js';

export type TerraformJson = {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  [key: string]: unknown;
};

/** A check over the Terraform JSON; each finding names the offending resource as `type.name`. */
export type PolicyCheck = PolicyRule<TerraformJson>;

export interface PolicyReport {
  /** One outcome per check: `ok`, `fail`, or `warn` for a failure waived in azure.policyExceptions. */
  outcomes: RuleOutcome[];
  passed: number;
  failed: number;
  waived: number;
}

type Attrs = Record<string, unknown>;

function resourcesOf(doc: TerraformJson, type: string): Array<[string, Attrs]> {
  return Object.entries(doc.resource?.[type] ?? {}).map(([name, attrs]) => [`${type}.${name}`, attrs]);
}

/** Nested blocks are objects in cdktf output, arrays in hand-written JSON: accept both. */
function block(value: unknown): Attrs | undefined {
  const item = Array.isArray(value) ? value[0] : value;
  return item !== null && typeof item === 'object' ? (item as Attrs) : undefined;
}

function at(attrs: Attrs | undefined, ...path: string[]): unknown {
  let value: unknown = attrs;
  for (const key of path) value = block(value)?.[key];
  return value;
}

/** A check that every resource of one type satisfies a predicate. */
function perResource(
  id: string,
  title: string,
  type: string,
  problemOf: (attrs: Attrs, doc: TerraformJson, address: string) => string | undefined,
): PolicyCheck {
  return {
    id,
    title,
    severity: 'fail',
    check(doc) {
      const findings: PolicyFinding[] = [];
      for (const [address, attrs] of resourcesOf(doc, type)) {
        const message = problemOf(attrs, doc, address);
        if (message) findings.push({ rule: id, object: address, message });
      }
      return findings;
    },
  };
}

function mustEqual(path: string[], expected: unknown): (attrs: Attrs) => string | undefined {
  return (attrs) => {
    const actual = at(attrs, ...path);
    return actual === expected
      ? undefined
      : `${path.join('.')} is ${JSON.stringify(actual) ?? 'not set'}, must be ${JSON.stringify(expected)}`;
  };
}

function mustBeOneOf(path: string[], allowed: unknown[]): (attrs: Attrs) => string | undefined {
  return (attrs) => {
    const actual = at(attrs, ...path);
    return allowed.includes(actual)
      ? undefined
      : `${path.join('.')} is ${JSON.stringify(actual) ?? 'not set'}, must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
  };
}

function mustBeSet(path: string[]): (attrs: Attrs) => string | undefined {
  return (attrs) => {
    const actual = at(attrs, ...path);
    const empty =
      actual === undefined || actual === null || actual === '' || (Array.isArray(actual) && !actual.length);
    return empty ? `${path.join('.')} is not set` : undefined;
  };
}

/** True when `value` is a Terraform reference to the resource at `address` (type.name). */
function references(value: unknown, address: string): boolean {
  return typeof value === 'string' && value.includes(`\${${address}.`);
}

/** A server configuration (azurerm_postgresql_flexible_server_configuration) for the server at `address`. */
function serverSetting(doc: TerraformJson, address: string, name: string): string | undefined {
  for (const [, attrs] of resourcesOf(doc, 'azurerm_postgresql_flexible_server_configuration')) {
    if (attrs.name === name && references(attrs.server_id, address)) return String(attrs.value);
  }
  return undefined;
}

const REQUIRED_TAGS = ['site', 'role', 'managed-by'];
/** The taggable resource types the stack creates. */
const TAGGED_TYPES = [
  'azurerm_resource_group',
  'azurerm_virtual_network',
  'azurerm_network_security_group',
  'azurerm_kubernetes_cluster',
  'azurerm_postgresql_flexible_server',
  'azurerm_storage_account',
  'azurerm_key_vault',
  'azurerm_key_vault_secret',
  'azurerm_log_analytics_workspace',
  'azurerm_private_dns_zone',
  'azurerm_private_dns_zone_virtual_network_link',
  'azurerm_private_endpoint',
  'azurerm_public_ip',
  'azurerm_user_assigned_identity',
  'azurerm_dns_zone',
  'azurerm_dns_a_record',
  'azurerm_monitor_data_collection_rule',
];

/**
 * What AKS asks of a system node pool (azure-aks-docs articles/aks/use-system-pools.md, "System node
 * pools have the following restrictions"): at least two nodes, a VM size with at least 4 vCPUs, and no
 * B-series.
 */
export const SYSTEM_POOL_MIN_NODES = 2;
export const SYSTEM_POOL_MIN_VCPUS = 4;

/**
 * vCPUs of an Azure VM size, read from its name where the name says it: the naming convention
 * (Standard_<family><vCPUs>[-<constrained vCPUs>]<features>_v<version>, azure-compute-docs
 * articles/virtual-machines/vm-naming-conventions.md) holds for v3 and later; older names such as
 * Standard_DS4_v2 (8 vCPUs) number sizes differently, so they give undefined.
 */
export function vmSizeVcpus(size: string): number | undefined {
  const match = /^Standard_[A-Z]+(\d+)(?:-(\d+))?[a-z]*_v(\d+)$/.exec(size);
  if (!match || Number(match[3]) < 3) return undefined;
  return Number(match[2] ?? match[1]);
}

function systemPoolProblem(pool: Attrs | undefined): string | undefined {
  const size = String(at(pool, 'vm_size') ?? '');
  if (/^Standard_B/i.test(size))
    return `vm_size ${size} is B-series, which AKS does not support for system pools`;
  const vcpus = vmSizeVcpus(size);
  if (vcpus === undefined)
    return `vm_size ${size || 'is not set'}: cannot tell its vCPUs from the name; choose a v3-or-later size with at least ${SYSTEM_POOL_MIN_VCPUS} vCPUs (such as Standard_D4as_v5)`;
  if (vcpus < SYSTEM_POOL_MIN_VCPUS)
    return `vm_size ${size} has ${vcpus} vCPUs; a system pool needs at least ${SYSTEM_POOL_MIN_VCPUS}`;
  const autoscaling = at(pool, 'auto_scaling_enabled') === true;
  const nodes = at(pool, autoscaling ? 'min_count' : 'node_count');
  if (typeof nodes !== 'number' || nodes < SYSTEM_POOL_MIN_NODES)
    return `${autoscaling ? 'min_count' : 'node_count'} is ${JSON.stringify(nodes) ?? 'not set'}; a system pool needs at least ${SYSTEM_POOL_MIN_NODES} nodes`;
  return undefined;
}

/**
 * The roles an admin group needs to run `tier4 site deploy` on a cluster with Azure RBAC for Kubernetes
 * authorization (azure-aks-docs manage-azure-rbac.md): Kubernetes rights come only from Azure role
 * assignments, and fetching a kubeconfig is listClusterUserCredential, granted by the Cluster User Role
 * (azure-aks-docs concepts-identity.md).
 */
export const ADMIN_GROUP_ROLES = [
  'Azure Kubernetes Service RBAC Cluster Admin',
  'Azure Kubernetes Service Cluster User Role',
] as const;

function adminAccessProblem(attrs: Attrs, doc: TerraformJson, address: string): string | undefined {
  const groups = at(attrs, 'azure_active_directory_role_based_access_control', 'admin_group_object_ids');
  if (!Array.isArray(groups) || groups.length === 0)
    return 'azure_active_directory_role_based_access_control.admin_group_object_ids is empty: nobody may deploy';
  const assignments = resourcesOf(doc, 'azurerm_role_assignment').map(([, a]) => a);
  for (const group of groups) {
    for (const role of ADMIN_GROUP_ROLES) {
      const granted = assignments.some(
        (a) => a.principal_id === group && a.role_definition_name === role && references(a.scope, address),
      );
      if (!granted) return `admin group ${String(group)} has no "${role}" assignment on the cluster`;
    }
  }
  return undefined;
}

/** The resource types whose logs must reach Log Analytics. */
const DIAGNOSED_TYPES = [
  'azurerm_kubernetes_cluster',
  'azurerm_postgresql_flexible_server',
  'azurerm_key_vault',
  'azurerm_storage_account',
];

export const POLICY_CHECKS: PolicyCheck[] = [
  // Storage
  perResource(
    'CKV_AZURE_3',
    'Storage accepts HTTPS only',
    'azurerm_storage_account',
    mustEqual(['https_traffic_only_enabled'], true),
  ),
  perResource(
    'CKV_AZURE_44',
    'Storage requires TLS 1.2 or newer',
    'azurerm_storage_account',
    mustBeOneOf(['min_tls_version'], ['TLS1_2', 'TLS1_3']),
  ),
  perResource(
    'CKV_AZURE_59',
    'Storage has no public network access',
    'azurerm_storage_account',
    mustEqual(['public_network_access_enabled'], false),
  ),
  perResource(
    'CKV_AZURE_190',
    'Storage allows no public blobs or containers',
    'azurerm_storage_account',
    mustEqual(['allow_nested_items_to_be_public'], false),
  ),
  perResource(
    'CKV2_AZURE_38',
    'Storage soft-deletes blobs and containers',
    'azurerm_storage_account',
    (attrs) => {
      for (const policy of ['delete_retention_policy', 'container_delete_retention_policy']) {
        const days = at(attrs, 'blob_properties', policy, 'days');
        if (typeof days !== 'number' || days < 1)
          return `blob_properties.${policy}.days is ${JSON.stringify(days) ?? 'not set'}, must be at least 1`;
      }
      return undefined;
    },
  ),
  perResource(
    'CKV_AZURE_35',
    'Storage firewall denies by default',
    'azurerm_storage_account',
    mustEqual(['network_rules', 'default_action'], 'Deny'),
  ),
  perResource(
    'CKV_AZURE_34',
    'Blob containers are private',
    'azurerm_storage_container',
    mustEqual(['container_access_type'], 'private'),
  ),
  // Key Vault
  perResource(
    'CKV_AZURE_42',
    'Key Vault is recoverable (soft delete and purge protection)',
    'azurerm_key_vault',
    (attrs) =>
      mustBeSet(['soft_delete_retention_days'])(attrs) ??
      mustEqual(['purge_protection_enabled'], true)(attrs),
  ),
  perResource(
    'CKV_AZURE_110',
    'Key Vault has purge protection',
    'azurerm_key_vault',
    mustEqual(['purge_protection_enabled'], true),
  ),
  perResource(
    'CKV_AZURE_109',
    'Key Vault firewall denies by default',
    'azurerm_key_vault',
    mustEqual(['network_acls', 'default_action'], 'Deny'),
  ),
  // PostgreSQL flexible server
  perResource(
    'TIER4_PG_NO_OPEN_FIREWALL',
    'PostgreSQL has no firewall rule open to all of Azure or the internet',
    'azurerm_postgresql_flexible_server_firewall_rule',
    (attrs) =>
      attrs.start_ip_address === '0.0.0.0' || attrs.end_ip_address === '255.255.255.255'
        ? `opens ${String(attrs.start_ip_address)}-${String(attrs.end_ip_address)}`
        : undefined,
  ),
  perResource(
    'TIER4_PG_PRIVATE_ACCESS',
    'PostgreSQL is reachable only inside the VNet',
    'azurerm_postgresql_flexible_server',
    (attrs) =>
      mustEqual(['public_network_access_enabled'], false)(attrs) ??
      mustBeSet(['delegated_subnet_id'])(attrs) ??
      mustBeSet(['private_dns_zone_id'])(attrs),
  ),
  perResource(
    'TIER4_PG_SECURE_TRANSPORT',
    'PostgreSQL requires TLS',
    'azurerm_postgresql_flexible_server',
    (_attrs, doc, address) => {
      const value = serverSetting(doc, address, 'require_secure_transport');
      return value?.toLowerCase() === 'on'
        ? undefined
        : `require_secure_transport is ${value ?? 'not set'}, must be on`;
    },
  ),
  perResource(
    'TIER4_PG_TLS_MIN',
    'PostgreSQL requires TLS 1.2 or newer',
    'azurerm_postgresql_flexible_server',
    (_attrs, doc, address) => {
      const value = serverSetting(doc, address, 'ssl_min_protocol_version');
      return value === 'TLSv1.2' || value === 'TLSv1.3'
        ? undefined
        : `ssl_min_protocol_version is ${value ?? 'not set'}, must be TLSv1.2 or TLSv1.3`;
    },
  ),
  // AKS
  perResource(
    'CKV_AZURE_4',
    'AKS sends container logs to Log Analytics',
    'azurerm_kubernetes_cluster',
    mustBeSet(['oms_agent', 'log_analytics_workspace_id']),
  ),
  perResource(
    'CKV_AZURE_5',
    'AKS has Kubernetes RBAC',
    'azurerm_kubernetes_cluster',
    mustEqual(['role_based_access_control_enabled'], true),
  ),
  perResource(
    'CKV_AZURE_6',
    'AKS API server admits only authorized ranges',
    'azurerm_kubernetes_cluster',
    (attrs) => {
      if (attrs.private_cluster_enabled === true) return undefined;
      const ranges = at(attrs, 'api_server_access_profile', 'authorized_ip_ranges');
      if (!Array.isArray(ranges) || ranges.length === 0)
        return 'api_server_access_profile.authorized_ip_ranges is empty';
      if (ranges.includes('0.0.0.0/0'))
        return 'api_server_access_profile.authorized_ip_ranges admits 0.0.0.0/0';
      return undefined;
    },
  ),
  perResource(
    'CKV_AZURE_7',
    'AKS enforces network policy',
    'azurerm_kubernetes_cluster',
    mustBeSet(['network_profile', 'network_policy']),
  ),
  perResource(
    'CKV_AZURE_141',
    'AKS local admin account is disabled',
    'azurerm_kubernetes_cluster',
    mustEqual(['local_account_disabled'], true),
  ),
  {
    id: 'CKV_AZURE_143',
    title: 'AKS nodes have no public IP',
    severity: 'fail',
    check(doc) {
      const problems: PolicyFinding[] = [];
      for (const [address, attrs] of resourcesOf(doc, 'azurerm_kubernetes_cluster')) {
        const problem = mustEqual(['default_node_pool', 'node_public_ip_enabled'], false)(attrs);
        if (problem) problems.push({ rule: this.id, object: address, message: problem });
      }
      for (const [address, attrs] of resourcesOf(doc, 'azurerm_kubernetes_cluster_node_pool')) {
        const problem = mustEqual(['node_public_ip_enabled'], false)(attrs);
        if (problem) problems.push({ rule: this.id, object: address, message: problem });
      }
      return problems;
    },
  },
  {
    id: 'TIER4_AKS_SYSTEM_POOL',
    title: `AKS system pools have at least ${SYSTEM_POOL_MIN_NODES} nodes of ${SYSTEM_POOL_MIN_VCPUS}+ vCPUs, not B-series`,
    severity: 'fail',
    check(doc) {
      const problems: PolicyFinding[] = [];
      for (const [address, attrs] of resourcesOf(doc, 'azurerm_kubernetes_cluster')) {
        const problem = systemPoolProblem(block(attrs.default_node_pool));
        if (problem)
          problems.push({ rule: this.id, object: address, message: `default_node_pool: ${problem}` });
      }
      for (const [address, attrs] of resourcesOf(doc, 'azurerm_kubernetes_cluster_node_pool')) {
        if (attrs.mode !== 'System') continue;
        const problem = systemPoolProblem(attrs);
        if (problem) problems.push({ rule: this.id, object: address, message: problem });
      }
      return problems;
    },
  },
  perResource(
    'TIER4_AKS_ADMIN_ACCESS',
    'AKS admin groups may fetch credentials and administer the cluster',
    'azurerm_kubernetes_cluster',
    adminAccessProblem,
  ),
  perResource('CKV_AZURE_171', 'AKS upgrades automatically', 'azurerm_kubernetes_cluster', (attrs) =>
    mustBeOneOf(['automatic_upgrade_channel'], ['patch', 'stable', 'rapid', 'node-image'])(attrs),
  ),
  // Across resources
  {
    id: 'TIER4_DIAGNOSTICS',
    title: 'AKS, PostgreSQL, Key Vault and storage send logs to Log Analytics',
    severity: 'fail',
    check(doc) {
      const settings = resourcesOf(doc, 'azurerm_monitor_diagnostic_setting').map(([, attrs]) => attrs);
      const problems: PolicyFinding[] = [];
      for (const type of DIAGNOSED_TYPES) {
        for (const [address] of resourcesOf(doc, type)) {
          const found = settings.some(
            (s) =>
              references(s.target_resource_id, address) &&
              typeof s.log_analytics_workspace_id === 'string' &&
              Array.isArray(s.enabled_log) &&
              s.enabled_log.length > 0,
          );
          if (!found)
            problems.push({
              rule: this.id,
              object: address,
              message: 'has no diagnostic setting sending logs to Log Analytics',
            });
        }
      }
      return problems;
    },
  },
  {
    id: 'TIER4_TAGS',
    title: `Every resource is tagged ${REQUIRED_TAGS.join(', ')}`,
    severity: 'fail',
    check(doc) {
      const problems: PolicyFinding[] = [];
      for (const type of TAGGED_TYPES) {
        for (const [address, attrs] of resourcesOf(doc, type)) {
          const tags = (attrs.tags ?? {}) as Record<string, unknown>;
          const missing = REQUIRED_TAGS.filter((tag) => typeof tags[tag] !== 'string' || tags[tag] === '');
          if (missing.length > 0)
            problems.push({ rule: this.id, object: address, message: `missing tags: ${missing.join(', ')}` });
        }
      }
      return problems;
    },
  },
];

/** Runs every check. A failing check listed in `exceptions` is reported as waived (`warn`), with its reason. */
export function runPolicyChecks(
  doc: TerraformJson,
  exceptions: ReadonlyArray<{ check: string; reason: string }> = [],
): PolicyReport {
  const waivers = exceptions.map((e) => ({ rule: e.check, reason: e.reason }));
  const outcomes = evaluateRules(POLICY_CHECKS, doc, undefined, waivers);
  const counts = countStatuses(outcomes);
  return { outcomes, passed: counts.ok, failed: counts.fail, waived: counts.warn };
}
