import { DnsARecord } from '@cdktf/provider-azurerm/lib/dns-a-record/index.js';
import { DnsZone } from '@cdktf/provider-azurerm/lib/dns-zone/index.js';
import { FederatedIdentityCredential } from '@cdktf/provider-azurerm/lib/federated-identity-credential/index.js';
import type { KubernetesCluster } from '@cdktf/provider-azurerm/lib/kubernetes-cluster/index.js';
import type { PublicIp } from '@cdktf/provider-azurerm/lib/public-ip/index.js';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment/index.js';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity/index.js';
import { CERT_MANAGER_SUBJECT } from '../../core/azure-names.js';
import type { Construct } from '../cdktf.js';
import type { DemoSiteModel } from './model.js';

export interface Dns {
  zone: DnsZone;
  /** The identity cert-manager answers DNS-01 challenges with (workload identity). */
  certManagerIdentity: UserAssignedIdentity;
}

/**
 * When azure.dns is set: a public zone, an alias A record for the site's host name that follows the
 * ingress address, and cert-manager's identity for DNS-01 in that zone. Delegate the zone to the name
 * servers in the `dns_name_servers` output.
 *
 * cert-manager's Azure DNS solver with workload identity (cert-manager docs, configuration/acme/dns01/
 * azuredns.md, "Managed Identity Using AAD Workload Identity"): a user-assigned identity, a federated
 * credential for cert-manager's own ServiceAccount, and "DNS Zone Contributor" on the zone only.
 */
export function createDns(
  scope: Construct,
  model: DemoSiteModel,
  resourceGroupName: string,
  ingressIp: PublicIp,
  cluster: KubernetesCluster,
): Dns | undefined {
  if (!model.dnsRecord) return undefined;
  const zone = new DnsZone(scope, 'dns-zone', {
    name: model.dnsRecord.zone,
    resourceGroupName,
    tags: model.tags,
  });
  new DnsARecord(scope, 'dns-site-record', {
    name: model.dnsRecord.name,
    zoneName: zone.name,
    resourceGroupName,
    ttl: 300,
    targetResourceId: ingressIp.id,
    tags: model.tags,
  });
  const certManagerIdentity = new UserAssignedIdentity(scope, 'cert-manager-identity', {
    name: model.names.certManagerIdentity,
    resourceGroupName,
    location: model.azure.location,
    tags: model.tags,
  });
  new FederatedIdentityCredential(scope, 'cert-manager-federation', {
    name: 'cert-manager',
    resourceGroupName,
    parentId: certManagerIdentity.id,
    issuer: cluster.oidcIssuerUrl,
    subject: CERT_MANAGER_SUBJECT,
    audience: ['api://AzureADTokenExchange'],
  });
  new RoleAssignment(scope, 'cert-manager-dns-zone-contributor', {
    scope: zone.id,
    roleDefinitionName: 'DNS Zone Contributor',
    principalId: certManagerIdentity.principalId,
    principalType: 'ServicePrincipal',
  });
  return { zone, certManagerIdentity };
}
