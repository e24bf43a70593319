import { z } from 'zod';

/** What the Azure demo stack needs. Sizes default small and cheap: the demo site holds no real data. */

const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID');
const cidr = z
  .string()
  .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'must be an IPv4 CIDR such as 203.0.113.0/24');

const networkDefaults = {
  vnetCidr: '10.40.0.0/16',
  aksSubnetCidr: '10.40.0.0/20',
  postgresSubnetCidr: '10.40.16.0/24',
  endpointsSubnetCidr: '10.40.17.0/24',
  podCidr: '10.244.0.0/16',
  serviceCidr: '10.41.0.0/16',
};

const postgresDefaults = { skuName: 'B_Standard_B1ms', storageMb: 32_768, backupRetentionDays: 7 };
const storageDefaults = { backupImmutabilityDays: 30, softDeleteDays: 14 };
const keyVaultDefaults = { purgeProtection: true, softDeleteRetentionDays: 90, allowedIpRanges: [] };
const monitoringDefaults = { retentionDays: 30, dailyQuotaGb: 1 };

/** Check ids the policy module knows; an exception for any other id is a typo. */
export const POLICY_CHECK_IDS = [
  'CKV_AZURE_3',
  'CKV_AZURE_44',
  'CKV_AZURE_59',
  'CKV_AZURE_190',
  'CKV2_AZURE_38',
  'CKV_AZURE_35',
  'CKV_AZURE_34',
  'CKV_AZURE_42',
  'CKV_AZURE_110',
  'CKV_AZURE_109',
  'TIER4_PG_NO_OPEN_FIREWALL',
  'TIER4_PG_PRIVATE_ACCESS',
  'TIER4_PG_SECURE_TRANSPORT',
  'TIER4_PG_TLS_MIN',
  'CKV_AZURE_4',
  'CKV_AZURE_5',
  'CKV_AZURE_6',
  'CKV_AZURE_7',
  'CKV_AZURE_141',
  'CKV_AZURE_143',
  'TIER4_AKS_SYSTEM_POOL',
  'TIER4_AKS_ADMIN_ACCESS',
  'CKV_AZURE_171',
  'TIER4_DIAGNOSTICS',
  'TIER4_TAGS',
] as const;

export const azureSettingsSchema = z
  .object({
    subscriptionId: uuid,
    tenantId: uuid.optional(),
    location: z.string().min(2).default('westeurope'),
    /** Default: rg-<deployment>-<site>. */
    resourceGroup: z.string().optional(),
    network: z
      .object({
        vnetCidr: cidr.default(networkDefaults.vnetCidr),
        aksSubnetCidr: cidr.default(networkDefaults.aksSubnetCidr),
        postgresSubnetCidr: cidr.default(networkDefaults.postgresSubnetCidr),
        /** Private endpoints (blob storage). */
        endpointsSubnetCidr: cidr.default(networkDefaults.endpointsSubnetCidr),
        /** Azure CNI overlay: pod and service ranges live outside the VNet and must not overlap it. */
        podCidr: cidr.default(networkDefaults.podCidr),
        serviceCidr: cidr.default(networkDefaults.serviceCidr),
      })
      .strict()
      .default(networkDefaults),
    aks: z
      .object({
        /** The system pool: 2+ nodes of 4+ vCPUs, no B-series (policy TIER4_AKS_SYSTEM_POOL). */
        vmSize: z.string().default('Standard_D4as_v5'),
        minNodes: z.number().int().min(1).default(2),
        maxNodes: z.number().int().min(1).default(3),
        kubernetesVersion: z.string().optional(),
        upgradeChannel: z.enum(['patch', 'stable', 'rapid', 'node-image']).default('patch'),
        /** Who may reach the API server. Required: an AKS API open to the internet is not a default we ship. */
        authorizedIpRanges: z
          .array(cidr)
          .min(1, 'needs at least one CIDR allowed to reach the AKS API server'),
        /** Entra ID groups that administer the cluster (Azure RBAC Cluster Admin + Cluster User roles). */
        adminGroupObjectIds: z.array(uuid).default([]),
        /** The Kubernetes service account Primero runs as; it gets a workload identity that may read Key Vault. */
        workloadServiceAccount: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes name')
          .default('primero'),
      })
      .strict(),
    postgres: z
      .object({
        skuName: z.string().default(postgresDefaults.skuName),
        storageMb: z.number().int().min(32_768).default(postgresDefaults.storageMb),
        backupRetentionDays: z.number().int().min(7).max(35).default(postgresDefaults.backupRetentionDays),
      })
      .strict()
      .default(postgresDefaults),
    storage: z
      .object({
        /** Default: st<deployment><site>, letters and digits only, at most 24. */
        accountName: z
          .string()
          .regex(/^[a-z0-9]{3,24}$/, 'must be 3-24 lowercase letters and digits')
          .optional(),
        backupImmutabilityDays: z.number().int().min(1).default(storageDefaults.backupImmutabilityDays),
        softDeleteDays: z.number().int().min(1).max(365).default(storageDefaults.softDeleteDays),
      })
      .strict()
      .default(storageDefaults),
    keyVault: z
      .object({
        /** On by default. It blocks deleting the vault for the retention period: a quick tear-down is not possible. */
        purgeProtection: z.boolean().default(keyVaultDefaults.purgeProtection),
        softDeleteRetentionDays: z
          .number()
          .int()
          .min(7)
          .max(90)
          .default(keyVaultDefaults.softDeleteRetentionDays),
        /** Admitted through the vault firewall, besides aks.authorizedIpRanges and the AKS subnet. */
        allowedIpRanges: z.array(cidr).default([]),
      })
      .strict()
      .default(keyVaultDefaults),
    monitoring: z
      .object({
        retentionDays: z.number().int().min(30).max(730).default(monitoringDefaults.retentionDays),
        /** A cap on ingestion, so a noisy cluster cannot run up the bill. */
        dailyQuotaGb: z.number().min(0.1).default(monitoringDefaults.dailyQuotaGb),
      })
      .strict()
      .default(monitoringDefaults),
    /**
     * Client ids of the identities `tier4 site apply` creates (its outputs workload_identity_client_id and
     * cert_manager_identity_client_id). None is secret; `tier4 site render|deploy` needs them to wire
     * Key Vault and cert-manager, and stops with what to copy when one is missing.
     */
    identities: z
      .object({ workloadClientId: uuid.optional(), certManagerClientId: uuid.optional() })
      .strict()
      .default({}),
    dns: z
      .object({ zone: z.string().min(3) })
      .strict()
      .optional(),
    /** Terraform state: local file (default) or an azurerm backend. */
    state: z
      .discriminatedUnion('backend', [
        z.object({ backend: z.literal('local'), path: z.string().optional() }).strict(),
        z
          .object({
            backend: z.literal('azurerm'),
            resourceGroup: z.string(),
            storageAccount: z.string(),
            container: z.string(),
            key: z.string().default('tier4-demo.tfstate'),
          })
          .strict(),
      ])
      .default({ backend: 'local' }),
    /** Policy checks you accept failing, each with the reason (shown on every synth). */
    policyExceptions: z
      .array(
        z
          .object({
            check: z.enum(POLICY_CHECK_IDS, { error: `must be one of ${POLICY_CHECK_IDS.join(', ')}` }),
            reason: z.string().min(10, 'say why, in a sentence'),
          })
          .strict(),
      )
      .default([]),
  })
  .strict()
  .superRefine((azure, ctx) => {
    if (azure.aks.maxNodes < azure.aks.minNodes) {
      ctx.addIssue({ code: 'custom', path: ['aks', 'maxNodes'], message: 'must be at least aks.minNodes' });
    }
  });

export type AzureSettings = z.infer<typeof azureSettingsSchema>;
