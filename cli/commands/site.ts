import type { Command } from 'commander';
import type { Registrar } from '../registrar.js';
import { registerAzureSiteCommands } from './site-azure.js';
import { registerKubernetesSiteCommands } from './site-kubernetes.js';

export function registerSite(program: Command, registrar: Registrar): void {
  const site = program
    .command('site')
    .description('Synthesize, render, plan and deploy the demo and production sites');
  registerAzureSiteCommands(site, registrar);
  registerKubernetesSiteCommands(site, registrar);
}
