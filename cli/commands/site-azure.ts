import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { Registrar } from '../program.js';

export function registerAzureSiteCommands(site: Command, registrar: Registrar): void {
  for (const name of 'synth plan apply destroy'.split(' ')) {
    site
      .command(name)
      .description('The Azure demo stack (Terraform): not available yet')
      .allowUnknownOption()
      .allowExcessArguments()
      .argument('[args...]')
      .action(
        registrar.action(async () => {
          throw new UsageError(
            `tier4 site ${name} is not available in this version yet (tracked in issue #5).`,
          );
        }),
      );
  }
}
