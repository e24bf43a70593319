/**
 * The stacks' public surface, for the CLI and the rehearsal (test/architecture.test.ts). Loaded eagerly: the
 * production manifests' render and checks (`config validate` needs them) and the demo stack's names. On demand,
 * so that no command loads more than it needs: the demo stack's synthesis (cdktf and the azurerm bindings),
 * and the terraform and pulumi drivers (execa).
 */
export { settingsToRecord } from '../core/azure-names.js';
export type { PolicyReport } from './azure-demo/policy.js';
export type { AzureDemoSynthesis } from './azure-demo/synth.js';
export type { TerraformRunner } from './azure-demo/terraform.js';
export type { PulumiSite } from './production/pulumi.js';
export { kubernetesSiteProblems, renderSiteManifests } from './production/render.js';

export const loadAzureDemoSynth = () => import('./azure-demo/synth.js');
export const loadTerraform = () => import('./azure-demo/terraform.js');
export const loadPulumi = () => import('./production/pulumi.js');
