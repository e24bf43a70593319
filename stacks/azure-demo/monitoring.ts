import { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace/index.js';
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
