import type { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace/index.js';
import { PrivateDnsZone } from '@cdktf/provider-azurerm/lib/private-dns-zone/index.js';
import { PrivateDnsZoneVirtualNetworkLink } from '@cdktf/provider-azurerm/lib/private-dns-zone-virtual-network-link/index.js';
import { PrivateEndpoint } from '@cdktf/provider-azurerm/lib/private-endpoint/index.js';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account/index.js';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container/index.js';
import { StorageContainerImmutabilityPolicy } from '@cdktf/provider-azurerm/lib/storage-container-immutability-policy/index.js';
import type { Construct } from '../cdktf.js';
import type { DemoSiteModel } from './model.js';
import { sendDiagnostics } from './monitoring.js';
import type { Network } from './network.js';

export interface Storage {
  account: StorageAccount;
  attachments: StorageContainer;
  backups: StorageContainer;
  /** Mutable backup state (lock, verification records): no immutability policy. */
  backupState: StorageContainer;
}

/**
 * One StorageV2 account with no public endpoint: pods reach it through a private endpoint. Terraform
 * manages containers through Azure Resource Manager (azurerm 4.x with storage_account_id), so it needs no
 * data-plane access either. Shared keys stay on because Primero's `microsoft` storage type uses one.
 */
export function createStorage(
  scope: Construct,
  model: DemoSiteModel,
  resourceGroupName: string,
  network: Network,
  workspace: LogAnalyticsWorkspace,
): Storage {
  const { azure, names, tags, containers } = model;
  const days = azure.storage.softDeleteDays;
  const account = new StorageAccount(scope, 'storage', {
    name: names.storageAccount,
    resourceGroupName,
    location: azure.location,
    accountKind: 'StorageV2',
    accountTier: 'Standard',
    accountReplicationType: 'LRS',
    accessTier: 'Hot',
    httpsTrafficOnlyEnabled: true,
    minTlsVersion: 'TLS1_2',
    allowNestedItemsToBePublic: false,
    publicNetworkAccessEnabled: false,
    crossTenantReplicationEnabled: false,
    infrastructureEncryptionEnabled: true,
    sharedAccessKeyEnabled: true,
    networkRules: { defaultAction: 'Deny', bypass: ['AzureServices'] },
    blobProperties: {
      versioningEnabled: true,
      deleteRetentionPolicy: { days },
      containerDeleteRetentionPolicy: { days },
    },
    tags,
  });
  const container = (id: string, name: string) =>
    new StorageContainer(scope, id, {
      name,
      storageAccountId: account.id,
      containerAccessType: 'private',
    });
  const attachments = container('container-attachments', containers.attachments);
  const backups = container('container-backups', containers.backups);
  const backupState = container('container-backup-state', containers.backupState);
  // Unlocked, so the period can still be changed; a locked policy can never be shortened or removed.
  new StorageContainerImmutabilityPolicy(scope, 'backups-immutability', {
    storageContainerResourceManagerId: backups.id,
    immutabilityPeriodInDays: azure.storage.backupImmutabilityDays,
    protectedAppendWritesEnabled: false,
    locked: false,
  });

  const zone = new PrivateDnsZone(scope, 'blob-dns-zone', {
    name: 'privatelink.blob.core.windows.net',
    resourceGroupName,
    tags,
  });
  new PrivateDnsZoneVirtualNetworkLink(scope, 'blob-dns-link', {
    name: `${names.vnet}-link`,
    resourceGroupName,
    privateDnsZoneName: zone.name,
    virtualNetworkId: network.vnet.id,
    registrationEnabled: false,
    tags,
  });
  new PrivateEndpoint(scope, 'blob-endpoint', {
    name: `pe-${names.storageAccount}-blob`,
    resourceGroupName,
    location: azure.location,
    subnetId: network.endpointsSubnet.id,
    privateServiceConnection: {
      name: `${names.storageAccount}-blob`,
      privateConnectionResourceId: account.id,
      subresourceNames: ['blob'],
      isManualConnection: false,
    },
    privateDnsZoneGroup: { name: 'blob', privateDnsZoneIds: [zone.id] },
    tags,
  });
  sendDiagnostics(scope, 'storage-diagnostics', {
    workspace,
    targetResourceId: `${account.id}/blobServices/default`,
    logs: [{ categoryGroup: 'audit' }],
  });
  return { account, attachments, backups, backupState };
}
