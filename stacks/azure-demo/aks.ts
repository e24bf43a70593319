import { FederatedIdentityCredential } from '@cdktf/provider-azurerm/lib/federated-identity-credential/index.js';
import type { KeyVault } from '@cdktf/provider-azurerm/lib/key-vault/index.js';
import { KubernetesCluster } from '@cdktf/provider-azurerm/lib/kubernetes-cluster/index.js';
import type { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace/index.js';
import { PublicIp } from '@cdktf/provider-azurerm/lib/public-ip/index.js';
import type { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group/index.js';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment/index.js';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity/index.js';
import { workloadSubject } from '../../core/azure-names.js';
import type { Construct } from '../cdktf.js';
import type { DemoSiteModel } from './model.js';
import { collectContainerInsights, sendDiagnostics } from './monitoring.js';
import type { Network } from './network.js';
import { ADMIN_GROUP_ROLES } from './policy.js';

export interface Cluster {
  cluster: KubernetesCluster;
  /** The identity Primero's pods assume (workload identity): it may read the vault's secrets. */
  workloadIdentity: UserAssignedIdentity;
  /** A static address for the ingress load balancer, so DNS does not change when the Service is recreated. */
  ingressIp: PublicIp;
}

/** Gives each admin group the roles `tier4 site deploy` needs (see ADMIN_GROUP_ROLES). */
function grantAdminGroups(scope: Construct, groups: string[], clusterId: string): void {
  groups.forEach((group, index) => {
    for (const role of ADMIN_GROUP_ROLES) {
      const id = role === ADMIN_GROUP_ROLES[0] ? 'rbac-cluster-admin' : 'cluster-user';
      new RoleAssignment(scope, `aks-admin-group-${index}-${id}`, {
        scope: clusterId,
        roleDefinitionName: role,
        principalId: group,
        principalType: 'Group',
      });
    }
  });
}

/** The first address after the network address of a CIDR, plus `offset`: AKS wants its DNS IP inside the service range. */
function hostInCidr(cidr: string, offset: number): string {
  const [address = ''] = cidr.split('/');
  const octets = address.split('.').map(Number);
  octets[3] = (octets[3] ?? 0) + offset;
  return octets.join('.');
}

/**
 * A small AKS cluster: free control plane, one autoscaling system pool, Azure CNI overlay with Cilium
 * network policy, Entra ID RBAC with local accounts off, OIDC issuer and workload identity, no public
 * IPs on nodes, and the API server reachable only from the configured ranges.
 */
export function createCluster(
  scope: Construct,
  model: DemoSiteModel,
  resourceGroup: ResourceGroup,
  network: Network,
  workspace: LogAnalyticsWorkspace,
  vault: KeyVault,
): Cluster {
  const { azure, names, tags } = model;
  const aks = azure.aks;
  const cluster = new KubernetesCluster(scope, 'aks', {
    name: names.aks,
    resourceGroupName: resourceGroup.name,
    location: azure.location,
    dnsPrefix: names.aksDnsPrefix,
    skuTier: 'Free',
    ...(aks.kubernetesVersion ? { kubernetesVersion: aks.kubernetesVersion } : {}),
    automaticUpgradeChannel: aks.upgradeChannel,
    nodeOsUpgradeChannel: 'NodeImage',
    identity: { type: 'SystemAssigned' },
    roleBasedAccessControlEnabled: true,
    localAccountDisabled: true,
    azureActiveDirectoryRoleBasedAccessControl: {
      azureRbacEnabled: true,
      adminGroupObjectIds: aks.adminGroupObjectIds,
      ...(azure.tenantId ? { tenantId: azure.tenantId } : {}),
    },
    oidcIssuerEnabled: true,
    workloadIdentityEnabled: true,
    apiServerAccessProfile: { authorizedIpRanges: aks.authorizedIpRanges },
    defaultNodePool: {
      name: 'system',
      vmSize: aks.vmSize,
      autoScalingEnabled: true,
      minCount: aks.minNodes,
      maxCount: aks.maxNodes,
      nodePublicIpEnabled: false,
      vnetSubnetId: network.aksSubnet.id,
      osDiskType: 'Managed',
      osDiskSizeGb: 64,
      // Lets a VM size change roll the pool instead of replacing the cluster.
      temporaryNameForRotation: 'systemtmp',
      upgradeSettings: { maxSurge: '1' },
      tags,
    },
    networkProfile: {
      networkPlugin: 'azure',
      networkPluginMode: 'overlay',
      networkDataPlane: 'cilium',
      networkPolicy: 'cilium',
      podCidr: azure.network.podCidr,
      serviceCidr: azure.network.serviceCidr,
      dnsServiceIp: hostInCidr(azure.network.serviceCidr, 10),
      loadBalancerSku: 'standard',
      outboundType: 'loadBalancer',
    },
    omsAgent: { logAnalyticsWorkspaceId: workspace.id, msiAuthForMonitoringEnabled: true },
    // The Secrets Store CSI driver, so pods can mount Key Vault secrets with their workload identity.
    keyVaultSecretsProvider: { secretRotationEnabled: true },
    tags,
    // The autoscaler owns the node count.
    lifecycle: { ignoreChanges: ['default_node_pool[0].node_count'] },
  });

  // The cluster's own identity must manage the load balancer's address, which lives in our group.
  const ingressIp = new PublicIp(scope, 'ingress-ip', {
    name: names.ingressIp,
    resourceGroupName: resourceGroup.name,
    location: azure.location,
    sku: 'Standard',
    allocationMethod: 'Static',
    tags,
  });
  new RoleAssignment(scope, 'aks-network-contributor', {
    scope: resourceGroup.id,
    roleDefinitionName: 'Network Contributor',
    principalId: cluster.identity.principalId,
  });

  const workloadIdentity = new UserAssignedIdentity(scope, 'workload-identity', {
    name: names.workloadIdentity,
    resourceGroupName: resourceGroup.name,
    location: azure.location,
    tags,
  });
  new FederatedIdentityCredential(scope, 'workload-federation', {
    name: `${model.workload.namespace}-${model.workload.serviceAccount}`,
    resourceGroupName: resourceGroup.name,
    parentId: workloadIdentity.id,
    issuer: cluster.oidcIssuerUrl,
    subject: workloadSubject(model.workload.namespace, model.workload.serviceAccount),
    audience: ['api://AzureADTokenExchange'],
  });
  new RoleAssignment(scope, 'workload-key-vault-reader', {
    scope: vault.id,
    roleDefinitionName: 'Key Vault Secrets User',
    principalId: workloadIdentity.principalId,
    principalType: 'ServicePrincipal',
  });

  sendDiagnostics(scope, 'aks-diagnostics', {
    workspace,
    targetResourceId: cluster.id,
    logs: [{ category: 'kube-audit-admin' }, { category: 'guard' }, { category: 'cluster-autoscaler' }],
  });
  collectContainerInsights(scope, model, resourceGroup.name, workspace, cluster.id);
  grantAdminGroups(scope, aks.adminGroupObjectIds, cluster.id);
  return { cluster, workloadIdentity, ingressIp };
}
