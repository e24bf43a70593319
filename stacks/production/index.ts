import { readFileSync } from 'node:fs';
import { loadConfig } from '../../core/config/load.js';
import { deploySite } from './program.js';

/**
 * Entry point for the `pulumi` CLI. tier4 sets TIER4_CONFIG (absolute path of tier4.yaml) and TIER4_SITE;
 * everything else comes from tier4.yaml, so there is no Pulumi stack configuration to keep in step.
 */
const file = process.env.TIER4_CONFIG;
const site = process.env.TIER4_SITE;
if (!file || !site) {
  throw new Error(
    'Run this program through `tier4 site preview|deploy <site>` (TIER4_CONFIG and TIER4_SITE are not set).',
  );
}
const loaded = loadConfig(file);
const result = deploySite({
  config: loaded.config,
  siteName: site,
  configText: readFileSync(loaded.path, 'utf8'),
  firstInstall: process.env.TIER4_FIRST_INSTALL === '1',
});

export const namespace = result.namespace;
export const resources = result.resources;
