import { DnsARecord } from '@cdktf/provider-azurerm/lib/dns-a-record/index.js';
import { DnsZone } from '@cdktf/provider-azurerm/lib/dns-zone/index.js';
import type { PublicIp } from '@cdktf/provider-azurerm/lib/public-ip/index.js';
import type { Construct } from '../cdktf.js';
import type { DemoSiteModel } from './model.js';

/**
 * When azure.dns is set: a public zone and an alias A record for the site's host name that follows the
 * ingress address. Delegate the zone to the name servers in the `dns_name_servers` output.
 */
export function createDns(
  scope: Construct,
  model: DemoSiteModel,
  resourceGroupName: string,
  ingressIp: PublicIp,
): DnsZone | undefined {
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
  return zone;
}
