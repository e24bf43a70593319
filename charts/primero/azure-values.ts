import { azureResourceNames, KEY_VAULT_SECRETS } from '../../core/azure-names.js';
import type { SiteConfig, Tier4Config } from '../../core/config/schema.js';
import { UsageError } from '../../core/errors.js';
import { requiredSecrets } from './config.js';
import type { PrimeroValues } from './values.js';

type SecretRef = { path: string[]; ref: { env: string } | { file: string } };

/** A Key Vault secret name (letters, digits, hyphens) for a Secret key with no generated counterpart. */
export function vaultObjectName(key: string): string {
  return key
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * The azure values for a site on Azure: resource names shared with the Terraform stack, the identities'
 * client ids recorded from `tier4 site apply`, and, for every Secret key the pods read, the Key Vault
 * secret it comes from. Keys the stack generates map to its secrets (KEY_VAULT_SECRETS; the database
 * password and the storage key wherever tier4.yaml references them); any other key maps to a vault secret
 * named after it, which the operator stores once (`az keyvault secret set`) and which `tier4 site render`
 * lists. The TLS Secret (cert-manager) and the database CA (public) do not come from the vault.
 */
export function azureValues(
  config: Tier4Config,
  siteName: string,
  site: SiteConfig,
  values: PrimeroValues,
  refs: SecretRef[],
): PrimeroValues['azure'] {
  const azure = site.azure;
  if (site.platform !== 'azure' || !azure) return undefined;
  const missing = (setting: string, output: string) =>
    new UsageError(
      `sites.${siteName}.azure.${setting} is not set; the manifests need it to reach Key Vault with the site's workload identity.`,
      `Run \`tier4 site apply ${siteName}\` and copy its ${output} output into sites.${siteName}.azure.${setting}.`,
    );
  if (!azure.tenantId) throw missing('tenantId', 'tenant_id');
  const clientId = azure.identities.workloadClientId;
  if (!clientId) throw missing('identities.workloadClientId', 'workload_identity_client_id');
  const names = azureResourceNames(config.deployment.name, siteName, azure);

  const refAt = (path: string) => refs.find((r) => r.path.join('.') === path)?.ref;
  const keyOf = (ref: SecretRef['ref'] | undefined) =>
    ref ? ('env' in ref ? ref.env : ref.file.split('/').pop()) : undefined;
  const storageKeys = new Set(['attachments.key', 'backups.azure.key'].map((p) => keyOf(refAt(p))));
  const generated: Record<string, string> = KEY_VAULT_SECRETS;
  const skip = new Set([values.tls.secretName, values.database.ca?.name]);

  const secrets: NonNullable<PrimeroValues['azure']>['keyVault']['secrets'] = [];
  // The doctor's promotion-peer credentials are Secret keys too (requiredSecrets leaves them out).
  const doctorKeys = [...values.ops.doctor.env, ...values.ops.doctor.files].map((item) => ({
    secret: item.from.name,
    keys: [item.from.key],
  }));
  for (const { secret, keys } of [...requiredSecrets(values), ...doctorKeys]) {
    if (skip.has(secret)) continue;
    for (const key of keys) {
      const object =
        secret === values.database.password.name && key === values.database.password.key
          ? KEY_VAULT_SECRETS.POSTGRES_PASSWORD
          : storageKeys.has(key)
            ? KEY_VAULT_SECRETS.PRIMERO_STORAGE_AZ_KEY
            : (generated[key] ?? vaultObjectName(key));
      if (!secrets.some((s) => s.secret === secret && s.key === key)) secrets.push({ secret, key, object });
    }
  }
  return {
    resourceGroup: names.resourceGroup,
    ingressIpName: names.ingressIp,
    keyVault: {
      name: names.keyVault,
      tenantId: azure.tenantId,
      clientId,
      serviceAccount: azure.aks.workloadServiceAccount,
      secrets,
    },
  };
}

/** Vault secrets the stack does not generate: the operator stores each once before deploying. */
export function vaultSecretsToAdd(values: PrimeroValues): string[] {
  const generated = new Set<string>(Object.values(KEY_VAULT_SECRETS));
  const objects = values.azure?.keyVault.secrets.map((s) => s.object) ?? [];
  return [...new Set(objects.filter((object) => !generated.has(object)))].sort();
}
