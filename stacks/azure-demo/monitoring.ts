import { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace/index.js';
import { MonitorDataCollectionRule } from '@cdktf/provider-azurerm/lib/monitor-data-collection-rule/index.js';
import { MonitorDataCollectionRuleAssociation } from '@cdktf/provider-azurerm/lib/monitor-data-collection-rule-association/index.js';
import { MonitorDiagnosticSetting } from '@cdktf/provider-azurerm/lib/monitor-diagnostic-setting/index.js';
import type { Construct } from '../cdktf.js';
import type { DemoSiteModel } from './model.js';

export function createLogAnalytics(
  scope: Construct,
  model: DemoSiteModel,
  resourceGroupName: string,
): LogAnalyticsWorkspace {
  return new LogAnalyticsWorkspace(scope, 'log-analytics', {
    name: model.names.logAnalytics,
    resourceGroupName,
    location: model.azure.location,
    sku: 'PerGB2018',
    retentionInDays: model.azure.monitoring.retentionDays,
    dailyQuotaGb: model.azure.monitoring.dailyQuotaGb,
    tags: model.tags,
  });
}

/** A log category, or a category group such as `audit` where the resource type offers one. */
export type LogSelector = { category: string } | { categoryGroup: string };

/** Sends a resource's logs (and its metrics, when it has any) to the workspace. */
export function sendDiagnostics(
  scope: Construct,
  id: string,
  options: {
    workspace: LogAnalyticsWorkspace;
    targetResourceId: string;
    logs: LogSelector[];
    metrics?: boolean;
  },
): MonitorDiagnosticSetting {
  return new MonitorDiagnosticSetting(scope, id, {
    name: 'tier4-to-log-analytics',
    targetResourceId: options.targetResourceId,
    logAnalyticsWorkspaceId: options.workspace.id,
    enabledLog: options.logs,
    ...(options.metrics === false ? {} : { enabledMetric: [{ category: 'AllMetrics' }] }),
  });
}

/**
 * Container Insights with managed-identity auth needs a data collection rule and its association with the
 * cluster: `oms_agent.msi_auth_for_monitoring_enabled` alone collects nothing, because the rule is created
 * by the Azure CLI, not by AKS (hashicorp/terraform-provider-azurerm#23510). Shape, names and stream
 * follow Microsoft's own Terraform onboarding (microsoft/Docker-Provider
 * scripts/onboarding/aks/onboarding-msi-terraform/main.tf): rule `MSCI-<region>-<cluster>`, extension
 * `ContainerInsights` on stream `Microsoft-ContainerInsights-Group-Default`, association
 * `ContainerInsightsExtension`.
 */
export function collectContainerInsights(
  scope: Construct,
  model: DemoSiteModel,
  resourceGroupName: string,
  workspace: LogAnalyticsWorkspace,
  clusterId: string,
): MonitorDataCollectionRule {
  const streams = [CONTAINER_INSIGHTS_STREAM];
  const rule = new MonitorDataCollectionRule(scope, 'container-insights-rule', {
    name: `MSCI-${model.azure.location}-${model.names.aks}`.slice(0, 64),
    resourceGroupName,
    location: model.azure.location,
    description: 'Container Insights for the demo cluster (tier4)',
    destinations: { logAnalytics: [{ name: 'ciworkspace', workspaceResourceId: workspace.id }] },
    dataFlow: [{ streams, destinations: ['ciworkspace'] }],
    dataSources: {
      extension: [
        {
          name: 'ContainerInsightsExtension',
          extensionName: 'ContainerInsights',
          streams,
          // ContainerLogV2 and a 1-minute interval are the product defaults; all namespaces.
          extensionJson: JSON.stringify({
            dataCollectionSettings: {
              interval: '1m',
              namespaceFilteringMode: 'Off',
              enableContainerLogV2: true,
            },
          }),
        },
      ],
    },
    tags: model.tags,
  });
  new MonitorDataCollectionRuleAssociation(scope, 'container-insights-association', {
    name: 'ContainerInsightsExtension',
    targetResourceId: clusterId,
    dataCollectionRuleId: rule.id,
    description: 'Container Insights for this cluster; deleting it stops the collection.',
  });
  return rule;
}

export const CONTAINER_INSIGHTS_STREAM = 'Microsoft-ContainerInsights-Group-Default';
