import { DataAzurermClientConfig } from '@cdktf/provider-azurerm/lib/data-azurerm-client-config/index.js';
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider/index.js';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group/index.js';
import { RandomProvider } from '@cdktf/provider-random/lib/provider/index.js';
import { AzurermBackend, type Construct, LocalBackend, TerraformStack } from '../cdktf.js';
import { createCluster } from './aks.js';
import { createDns } from './dns.js';
import { createKeyVault, createPrimeroSecrets, storeSecret } from './keyvault.js';
import type { DemoSiteModel } from './model.js';
import { createLogAnalytics, sendDiagnostics } from './monitoring.js';
import { createNetwork } from './network.js';
import { createOutputs } from './outputs.js';
import { createPostgres } from './postgres.js';
import { createStorage } from './storage.js';

/** The demo site's infrastructure. Primero itself is deployed onto it by `tier4 site deploy`. */
export class AzureDemoStack extends TerraformStack {
  constructor(scope: Construct, id: string, model: DemoSiteModel) {
    super(scope, id);
    const { azure } = model;

    new AzurermProvider(this, 'azurerm', {
      subscriptionId: azure.subscriptionId,
      ...(azure.tenantId ? { tenantId: azure.tenantId } : {}),
      // Talk to storage with Entra ID, and never through the (closed) blob endpoint.
      storageUseAzuread: true,
      features: [
        {
          keyVault: [{ purgeSoftDeleteOnDestroy: false, recoverSoftDeletedKeyVaults: true }],
          // The group is the site's own. AKS puts resources in it that Terraform did not create (Container
          // Insights data collection rules); they must not block `tier4 site destroy`, which is guarded by
          // typing the site name.
          resourceGroup: [{ preventDeletionIfContainsResources: false }],
          storage: [{ dataPlaneAvailable: false }],
        },
      ],
    });
    new RandomProvider(this, 'random', {});
    if (azure.state.backend === 'azurerm') {
      new AzurermBackend(this, {
        resourceGroupName: azure.state.resourceGroup,
        storageAccountName: azure.state.storageAccount,
        containerName: azure.state.container,
        key: azure.state.key,
        useAzureadAuth: true,
      });
    } else {
      new LocalBackend(this, { path: model.localStatePath });
    }

    const client = new DataAzurermClientConfig(this, 'client', {});
    const resourceGroup = new ResourceGroup(this, 'resource-group', {
      name: model.names.resourceGroup,
      location: azure.location,
      tags: model.tags,
    });
    const rg = resourceGroup.name;
    const workspace = createLogAnalytics(this, model, rg);
    const network = createNetwork(this, model, rg);
    const vault = createKeyVault(this, model, rg, client, network.aksSubnet.id);
    sendDiagnostics(this, 'key-vault-diagnostics', {
      workspace,
      targetResourceId: vault.vault.id,
      logs: [{ categoryGroup: 'audit' }],
    });
    const postgresPassword = createPrimeroSecrets(this, model, vault);
    const postgres = createPostgres(this, model, rg, network, postgresPassword, workspace);
    const storage = createStorage(this, model, rg, network, workspace);
    storeSecret(this, model, vault, 'PRIMERO_STORAGE_AZ_KEY', storage.account.primaryAccessKey);
    const cluster = createCluster(this, model, resourceGroup, network, workspace, vault.vault);
    const dns = createDns(this, model, rg, cluster.ingressIp, cluster.cluster);
    createOutputs(this, model, {
      resourceGroup,
      cluster,
      postgres,
      storage,
      vault: vault.vault,
      dns,
      client,
    });
  }
}
