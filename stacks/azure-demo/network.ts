import { NetworkSecurityGroup } from '@cdktf/provider-azurerm/lib/network-security-group/index.js';
import { NetworkSecurityRule } from '@cdktf/provider-azurerm/lib/network-security-rule/index.js';
import { Subnet } from '@cdktf/provider-azurerm/lib/subnet/index.js';
import { SubnetNetworkSecurityGroupAssociation } from '@cdktf/provider-azurerm/lib/subnet-network-security-group-association/index.js';
import { VirtualNetwork } from '@cdktf/provider-azurerm/lib/virtual-network/index.js';
import type { Construct } from '../cdktf.js';
import type { DemoSiteModel } from './model.js';

export interface Network {
  vnet: VirtualNetwork;
  aksSubnet: Subnet;
  postgresSubnet: Subnet;
  endpointsSubnet: Subnet;
}

type NsgRule = {
  name: string;
  priority: number;
  direction: 'Inbound' | 'Outbound';
  access: 'Allow' | 'Deny';
  protocol: string;
  sourceAddressPrefix: string;
  destinationPortRanges?: string[];
  destinationPortRange?: string;
};

/** A VNet with one subnet per tier, each behind its own NSG. */
export function createNetwork(scope: Construct, model: DemoSiteModel, resourceGroupName: string): Network {
  const { azure, names, tags } = model;
  const net = azure.network;
  const vnet = new VirtualNetwork(scope, 'vnet', {
    name: names.vnet,
    resourceGroupName,
    location: azure.location,
    addressSpace: [net.vnetCidr],
    tags,
  });
  const subnet = (
    id: string,
    name: string,
    cidr: string,
    extra: Partial<ConstructorParameters<typeof Subnet>[2]>,
  ) =>
    new Subnet(scope, id, {
      name,
      resourceGroupName,
      virtualNetworkName: vnet.name,
      addressPrefixes: [cidr],
      ...extra,
    });
  // Pods reach Key Vault through a service endpoint: the vault firewall admits this subnet.
  const aksSubnet = subnet('subnet-aks', names.aksSubnet, net.aksSubnetCidr, {
    serviceEndpoints: ['Microsoft.KeyVault'],
  });
  const postgresSubnet = subnet('subnet-postgres', names.postgresSubnet, net.postgresSubnetCidr, {
    delegation: [
      {
        name: 'postgres-flexible',
        serviceDelegation: {
          name: 'Microsoft.DBforPostgreSQL/flexibleServers',
          actions: ['Microsoft.Network/virtualNetworks/subnets/join/action'],
        },
      },
    ],
  });
  // Private endpoints obey the subnet NSG only when network policies are on.
  const endpointsSubnet = subnet('subnet-endpoints', names.endpointsSubnet, net.endpointsSubnetCidr, {
    privateEndpointNetworkPolicies: 'Enabled',
  });

  const denyOtherVnet: NsgRule = {
    name: 'deny-other-vnet-inbound',
    priority: 4000,
    direction: 'Inbound',
    access: 'Deny',
    protocol: '*',
    sourceAddressPrefix: 'VirtualNetwork',
  };
  const nsgs: Array<[string, Subnet, NsgRule[]]> = [
    [
      'aks',
      aksSubnet,
      [
        // The ingress load balancer: Primero is served on 443 (80 only redirects and answers ACME).
        {
          name: 'allow-web-inbound',
          priority: 100,
          direction: 'Inbound',
          access: 'Allow',
          protocol: 'Tcp',
          sourceAddressPrefix: 'Internet',
          destinationPortRanges: ['80', '443'],
        },
      ],
    ],
    [
      'postgres',
      postgresSubnet,
      [
        {
          name: 'allow-aks-postgres',
          priority: 100,
          direction: 'Inbound',
          access: 'Allow',
          protocol: 'Tcp',
          sourceAddressPrefix: net.aksSubnetCidr,
          destinationPortRange: '5432',
        },
        denyOtherVnet,
      ],
    ],
    [
      'endpoints',
      endpointsSubnet,
      [
        {
          name: 'allow-aks-https',
          priority: 100,
          direction: 'Inbound',
          access: 'Allow',
          protocol: 'Tcp',
          sourceAddressPrefix: net.aksSubnetCidr,
          destinationPortRange: '443',
        },
        denyOtherVnet,
      ],
    ],
  ];
  for (const [tier, target, rules] of nsgs) {
    const nsg = new NetworkSecurityGroup(scope, `nsg-${tier}`, {
      name: `nsg-${model.deployment}-${model.site}-${tier}`,
      resourceGroupName,
      location: azure.location,
      tags,
    });
    // Separate rule resources: inline rules are attributes-as-blocks, awkward in Terraform JSON.
    for (const r of rules) {
      new NetworkSecurityRule(scope, `nsg-${tier}-${r.name}`, {
        resourceGroupName,
        networkSecurityGroupName: nsg.name,
        sourcePortRange: '*',
        destinationAddressPrefix: '*',
        ...(r.destinationPortRanges ? {} : { destinationPortRange: r.destinationPortRange ?? '*' }),
        ...r,
      });
    }
    new SubnetNetworkSecurityGroupAssociation(scope, `nsg-${tier}-association`, {
      subnetId: target.id,
      networkSecurityGroupId: nsg.id,
    });
  }
  return { vnet, aksSubnet, postgresSubnet, endpointsSubnet };
}
