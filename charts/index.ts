/**
 * The Primero chart's public surface, for the stacks (test/architecture.test.ts): the manifests, the values
 * taken from tier4.yaml, and the checks every rendered manifest must pass.
 */
export { vaultSecretsToAdd } from './primero/azure-values.js';
export { byName, labels } from './primero/common.js';
export { requiredSecrets } from './primero/config.js';
export {
  kubernetesSettings,
  renderedDrillServer,
  type ValuesOptions,
  valuesFromSite,
  walArchiveDefault,
} from './primero/from-site.js';
export { runsOnKubernetes } from './primero/in-pod.js';
export { type KubeObject, type PrimeroValues, renderPrimero, type StagedManifest } from './primero/index.js';
export { checkPolicies, type Finding } from './primero/policy.js';
export { checkSchemas } from './primero/schema-check.js';
export { checkUpstreamFidelity } from './primero/upstream-check.js';
