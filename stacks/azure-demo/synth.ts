import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LoadedConfig } from '../../core/config/load.js';
import { errorMessage, OperationError } from '../../core/errors.js';
import { App } from '../cdktf.js';
import { buildModel, type DemoSiteModel } from './model.js';
import { type PolicyReport, runPolicyChecks, type TerraformJson } from './policy.js';
import { AzureDemoStack } from './stack.js';

export interface AzureDemoSynthesis {
  /** The cdktf output folder (holds manifest.json and stacks/<site>/). */
  outDir: string;
  /** The Terraform working directory: the folder with cdk.tf.json, where terraform init/plan/apply run. */
  stackDir: string;
  /** The Terraform JSON file. */
  file: string;
  resourceCount: number;
  /** Resource counts by Terraform type, e.g. {azurerm_subnet: 3}. */
  resourceTypes: Record<string, number>;
  policy: PolicyReport;
  model: DemoSiteModel;
}

/** Where synth writes when no --out is given: cdktf.out/ beside the configuration file. */
export function defaultOutDir(loaded: LoadedConfig): string {
  return join(loaded.baseDir, 'cdktf.out');
}

/**
 * Synthesizes the Azure demo stack for one site into `outDir` and runs the policy checks over the
 * result. Touches no cloud and needs no credentials. Throws UsageError for a site that is not on Azure
 * or a configuration the stack cannot honour; policy failures are returned, not thrown.
 */
export async function synthesizeAzureDemo(
  loaded: LoadedConfig,
  siteName: string,
  outDir: string,
): Promise<AzureDemoSynthesis> {
  const model = buildModel(loaded, siteName);
  const absoluteOut = resolve(outDir);
  const app = new App({ outdir: absoluteOut, stackTraces: false });
  new AzureDemoStack(app, model.site, model);
  try {
    app.synth();
  } catch (error) {
    throw new OperationError(
      `Synthesizing the ${model.site} stack failed: ${errorMessage(error)}`,
      `Check that ${absoluteOut} is writable.`,
      error,
    );
  }
  const stackDir = join(absoluteOut, 'stacks', model.site);
  const file = join(stackDir, 'cdk.tf.json');
  const doc = JSON.parse(await readFile(file, 'utf8')) as TerraformJson;
  const resourceTypes: Record<string, number> = {};
  for (const [type, resources] of Object.entries(doc.resource ?? {})) {
    resourceTypes[type] = Object.keys(resources).length;
  }
  return {
    outDir: absoluteOut,
    stackDir,
    file,
    resourceCount: Object.values(resourceTypes).reduce((sum, n) => sum + n, 0),
    resourceTypes,
    policy: runPolicyChecks(doc, model.azure.policyExceptions),
    model,
  };
}
