/**
 * Every import of the CDK for Terraform core passes through this module.
 *
 * HashiCorp archived CDKTF in December 2025; `cdktn` (CDK Terrain) is the maintained fork with the same
 * API. Switching is a change of the package name here (and in package.json), nothing else: see
 * docs/decisions/0004-cdktf-and-cdktn.md. Provider bindings (@cdktf/provider-*) are imported by deep path
 * where they are used, because the package roots load all 1,500 resource classes.
 *
 * Only import this module dynamically from the CLI: cdktf costs a few hundred milliseconds to load.
 */

export type { ITerraformDependable } from 'cdktf';
export {
  App,
  AzurermBackend,
  Fn,
  LocalBackend,
  TerraformOutput,
  TerraformStack,
} from 'cdktf';
export { Construct } from 'constructs';
