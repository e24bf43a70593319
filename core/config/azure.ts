import { z } from 'zod';

/** What the Azure demo stack needs. Sizes default small and cheap: the demo site holds no real data. */

const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID');
const cidr = z
  .string()
  .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'must be an IPv4 CIDR such as 203.0.113.0/24');

export const azureSettingsSchema = z
  .object({
    subscriptionId: uuid,
    tenantId: uuid.optional(),
    location: z.string().min(2).default('westeurope'),
    /** Default: rg-<deployment>-<site>. */
    resourceGroup: z.string().optional(),
    network: z
      .object({
        vnetCidr: cidr.default('10.40.0.0/16'),
        aksSubnetCidr: cidr.default('10.40.0.0/20'),
        postgresSubnetCidr: cidr.default('10.40.16.0/24'),
      })
      .strict()
      .default({
        vnetCidr: '10.40.0.0/16',
        aksSubnetCidr: '10.40.0.0/20',
        postgresSubnetCidr: '10.40.16.0/24',
      }),
    aks: z
      .object({
        vmSize: z.string().default('Standard_B2s_v2'),
        minNodes: z.number().int().min(1).default(1),
        maxNodes: z.number().int().min(1).default(3),
        kubernetesVersion: z.string().optional(),
        upgradeChannel: z.enum(['patch', 'stable', 'rapid', 'node-image']).default('patch'),
        /** Who may reach the API server. Required: an AKS API open to the internet is not a default we ship. */
        authorizedIpRanges: z
          .array(cidr)
          .min(1, 'needs at least one CIDR allowed to reach the AKS API server'),
        /** Entra ID groups that get cluster-admin. */
        adminGroupObjectIds: z.array(uuid).default([]),
      })
      .strict(),
    postgres: z
      .object({
        skuName: z.string().default('B_Standard_B1ms'),
        storageMb: z.number().int().min(32_768).default(32_768),
        backupRetentionDays: z.number().int().min(7).max(35).default(7),
      })
      .strict()
      .default({ skuName: 'B_Standard_B1ms', storageMb: 32_768, backupRetentionDays: 7 }),
    storage: z
      .object({
        backupImmutabilityDays: z.number().int().min(1).default(30),
        softDeleteDays: z.number().int().min(1).max(365).default(14),
      })
      .strict()
      .default({ backupImmutabilityDays: 30, softDeleteDays: 14 }),
    keyVault: z
      .object({
        /** On by default. It blocks deleting the vault for the retention period: a quick tear-down is not possible. */
        purgeProtection: z.boolean().default(true),
        softDeleteRetentionDays: z.number().int().min(7).max(90).default(90),
        allowedIpRanges: z.array(cidr).default([]),
      })
      .strict()
      .default({ purgeProtection: true, softDeleteRetentionDays: 90, allowedIpRanges: [] }),
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
  })
  .strict()
  .superRefine((azure, ctx) => {
    if (azure.aks.maxNodes < azure.aks.minNodes) {
      ctx.addIssue({ code: 'custom', path: ['aks', 'maxNodes'], message: 'must be at least aks.minNodes' });
    }
  });

export type AzureSettings = z.infer<typeof azureSettingsSchema>;
