export {
  connectKube,
  type Kube,
  type KubeEnvironment,
  type KubeTarget,
  type LoadedKubeConfig,
  loadKubeConfig,
  SERVICE_ACCOUNT_DIR,
} from './client.js';
