import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import {
  byName,
  containerSecurityContext,
  type KubeObject,
  labels,
  metadata,
  podSecurityContext,
  selectorLabels,
} from './common.js';
import type { PrimeroValues } from './values.js';

/**
 * The demo site's wiring to Azure, rendered only when values.azure is set:
 *
 * - Key Vault → Kubernetes Secrets with the Secrets Store CSI driver's Azure provider (the AKS add-on the
 *   stack enables) in workload-identity mode. The SecretProviderClass names the vault, the tenant and the
 *   identity's client id, lists the vault secrets, and `secretObjects` syncs them into the Secrets the pods
 *   already read (secrets-store-csi-driver-provider-azure docs, configurations/identity-access-modes/
 *   workload-identity-mode; secrets-store-csi-driver docs, topics/sync-as-kubernetes-secret: a synced
 *   Secret exists only while a pod mounts the volume).
 * - One small Deployment mounts that volume, as the ServiceAccount the stack's federated credential trusts
 *   (annotated with the identity's client id, pods labelled azure.workload.identity/use, per the Azure
 *   Workload Identity docs). It keeps the synced Secrets in place before the migration Job and while app,
 *   worker and ops jobs come and go, and no other pod can read the vault.
 * - The ingress Service's annotations that bind it to the stack's static public IP.
 */

export const KEY_VAULT_CLASS = 'primero-key-vault';
export const KEY_VAULT_SYNC = 'primero-key-vault-sync';
const SYNC_UID = 65535;
/** busybox: it sleeps, and its `test` lets the probes see that the vault's secrets are mounted. */
export const HOLDER_IMAGE = 'busybox:1.37.0';
const MOUNT = '/mnt/key-vault';

/** azure.workload.identity/client-id on the ServiceAccount; the pod label opts pods into the webhook. */
export const WORKLOAD_IDENTITY = {
  clientIdAnnotation: 'azure.workload.identity/client-id',
  useLabel: 'azure.workload.identity/use',
} as const;

export function keyVaultServiceAccount(values: PrimeroValues): IServiceAccount | undefined {
  const vault = values.azure?.keyVault;
  if (!vault) return undefined;
  const meta = metadata(values, vault.serviceAccount, 'key-vault', {
    [WORKLOAD_IDENTITY.clientIdAnnotation]: vault.clientId,
  });
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { ...meta, labels: { ...meta.labels, [WORKLOAD_IDENTITY.useLabel]: 'true' } },
    automountServiceAccountToken: false,
  };
}

export function secretProviderClass(values: PrimeroValues): KubeObject | undefined {
  const vault = values.azure?.keyVault;
  if (!vault) return undefined;
  const objectNames = [...new Set(vault.secrets.map((s) => s.object))].sort();
  // The provider reads `objects` as YAML: an array of YAML documents, one per vault object.
  const objects = `array:\n${objectNames.map((name) => `  - |\n    objectName: ${name}\n    objectType: secret\n`).join('')}`;
  const bySecret = new Map<string, Array<{ objectName: string; key: string }>>();
  for (const { secret, key, object } of vault.secrets) {
    bySecret.set(secret, [...(bySecret.get(secret) ?? []), { objectName: object, key }]);
  }
  return {
    apiVersion: 'secrets-store.csi.x-k8s.io/v1',
    kind: 'SecretProviderClass',
    metadata: metadata(values, KEY_VAULT_CLASS, 'key-vault'),
    spec: {
      provider: 'azure',
      parameters: {
        usePodIdentity: 'false',
        clientID: vault.clientId,
        keyvaultName: vault.name,
        tenantID: vault.tenantId,
        objects,
      },
      secretObjects: [...bySecret.entries()]
        .sort(([a], [b]) => byName(a, b))
        .map(([secretName, data]) => ({ secretName, type: 'Opaque', data })),
    },
  };
}

export function keyVaultSyncDeployment(values: PrimeroValues): IDeployment | undefined {
  const vault = values.azure?.keyVault;
  if (!vault) return undefined;
  const firstObject = [...vault.secrets.map((s) => s.object)].sort()[0];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(values, KEY_VAULT_SYNC, 'key-vault'),
    spec: {
      replicas: 1,
      selector: { matchLabels: selectorLabels(values, 'key-vault') },
      template: {
        metadata: { labels: { ...labels(values, 'key-vault'), [WORKLOAD_IDENTITY.useLabel]: 'true' } },
        spec: {
          serviceAccountName: vault.serviceAccount,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurityContext(SYNC_UID),
          containers: [
            {
              name: 'hold',
              image: HOLDER_IMAGE,
              command: ['sleep', '2147483647'],
              securityContext: containerSecurityContext(SYNC_UID),
              // Started once the driver has mounted the first vault secret (so the Secrets are synced).
              startupProbe: {
                exec: { command: ['test', '-s', `${MOUNT}/${firstObject}`] },
                periodSeconds: 5,
                failureThreshold: 60,
              },
              livenessProbe: { exec: { command: ['test', '-d', MOUNT] }, periodSeconds: 60 },
              resources: {
                requests: { cpu: '10m', memory: '16Mi' },
                limits: { cpu: '50m', memory: '32Mi' },
              },
              volumeMounts: [{ name: 'key-vault', mountPath: MOUNT, readOnly: true }],
            },
          ],
          volumes: [
            {
              name: 'key-vault',
              csi: {
                driver: 'secrets-store.csi.k8s.io',
                readOnly: true,
                volumeAttributes: { secretProviderClass: KEY_VAULT_CLASS },
              },
            },
          ],
        },
      },
    },
  };
}

/**
 * Binds the LoadBalancer Service to the stack's static public IP by name, in the stack's resource group
 * (cloud-provider-azure docs, topics/loadbalancer: service.beta.kubernetes.io/azure-pip-name and
 * azure-load-balancer-resource-group; azure-aks-docs static-ip.md: an IP outside the node resource group
 * needs the cluster identity to hold Network Contributor on its group, which the stack grants).
 */
export function loadBalancerAnnotations(values: PrimeroValues): Record<string, string> | undefined {
  const azure = values.azure;
  if (!azure || values.exposure.type !== 'LoadBalancer') return undefined;
  return {
    'service.beta.kubernetes.io/azure-pip-name': azure.ingressIpName,
    'service.beta.kubernetes.io/azure-load-balancer-resource-group': azure.resourceGroup,
  };
}
