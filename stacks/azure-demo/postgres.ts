import type { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace/index.js';
import { PostgresqlFlexibleServer } from '@cdktf/provider-azurerm/lib/postgresql-flexible-server/index.js';
import { PostgresqlFlexibleServerConfiguration } from '@cdktf/provider-azurerm/lib/postgresql-flexible-server-configuration/index.js';
import { PostgresqlFlexibleServerDatabase } from '@cdktf/provider-azurerm/lib/postgresql-flexible-server-database/index.js';
import { PrivateDnsZone } from '@cdktf/provider-azurerm/lib/private-dns-zone/index.js';
import { PrivateDnsZoneVirtualNetworkLink } from '@cdktf/provider-azurerm/lib/private-dns-zone-virtual-network-link/index.js';
import type { Password } from '@cdktf/provider-random/lib/password/index.js';
import type { Construct } from '../cdktf.js';
import type { DemoSiteModel } from './model.js';
import { sendDiagnostics } from './monitoring.js';
import type { Network } from './network.js';

/** The extensions Primero's schema needs; Azure only lets a database create allow-listed ones. */
export const PRIMERO_EXTENSIONS = ['LTREE', 'PG_TRGM', 'PGCRYPTO'];

/**
 * PostgreSQL 15 with private access only: the server lives in its delegated subnet, resolves through a
 * private DNS zone, and has no public endpoint and so no firewall rules at all.
 */
export function createPostgres(
  scope: Construct,
  model: DemoSiteModel,
  resourceGroupName: string,
  network: Network,
  adminPassword: Password,
  workspace: LogAnalyticsWorkspace,
): PostgresqlFlexibleServer {
  const { azure, names, tags } = model;
  const zone = new PrivateDnsZone(scope, 'postgres-dns-zone', {
    name: names.postgresDnsZone,
    resourceGroupName,
    tags,
  });
  const link = new PrivateDnsZoneVirtualNetworkLink(scope, 'postgres-dns-link', {
    name: `${names.vnet}-link`,
    resourceGroupName,
    privateDnsZoneName: zone.name,
    virtualNetworkId: network.vnet.id,
    registrationEnabled: false,
    tags,
  });
  const server = new PostgresqlFlexibleServer(scope, 'postgres', {
    name: names.postgres,
    resourceGroupName,
    location: azure.location,
    version: '15',
    skuName: azure.postgres.skuName,
    storageMb: azure.postgres.storageMb,
    autoGrowEnabled: true,
    backupRetentionDays: azure.postgres.backupRetentionDays,
    geoRedundantBackupEnabled: false,
    delegatedSubnetId: network.postgresSubnet.id,
    privateDnsZoneId: zone.id,
    publicNetworkAccessEnabled: false,
    administratorLogin: model.database.adminLogin,
    administratorPassword: adminPassword.result,
    authentication: { passwordAuthEnabled: true, activeDirectoryAuthEnabled: false },
    tags,
    dependsOn: [link],
    // Azure picks a zone when none is given; never move the server because of it.
    lifecycle: { ignoreChanges: ['zone'] },
  });
  const settings: Array<[string, string, string]> = [
    ['postgres-require-secure-transport', 'require_secure_transport', 'on'],
    ['postgres-ssl-min-protocol-version', 'ssl_min_protocol_version', 'TLSv1.2'],
    ['postgres-extensions', 'azure.extensions', PRIMERO_EXTENSIONS.join(',')],
  ];
  for (const [id, name, value] of settings) {
    new PostgresqlFlexibleServerConfiguration(scope, id, { serverId: server.id, name, value });
  }
  new PostgresqlFlexibleServerDatabase(scope, 'postgres-database', {
    serverId: server.id,
    name: model.database.name,
    charset: 'UTF8',
    collation: 'en_US.utf8',
  });
  sendDiagnostics(scope, 'postgres-diagnostics', {
    workspace,
    targetResourceId: server.id,
    logs: [{ category: 'PostgreSQLLogs' }],
  });
  return server;
}
