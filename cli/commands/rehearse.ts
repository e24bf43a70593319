import { join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../core/config/load.js';
import { summarizeConfig } from '../../core/config/summary.js';
import { packageRoot } from '../../core/package-info.js';
import { table } from '../output.js';
import type { Registrar } from '../program.js';

/**
 * The local rehearsal: the main job on embedded defaults, with no cloud account.
 * Each landed feature adds its step here.
 */
export function registerRehearse(program: Command, registrar: Registrar): void {
  program
    .command('rehearse')
    .description('run the local rehearsal on the embedded example configuration (no cloud account needed)')
    .action(
      registrar.action(async (ctx) => {
        const example = join(packageRoot(), 'examples', 'tier4.example.yaml');
        ctx.out.info(`Rehearsal: validating ${example}`);
        const summary = summarizeConfig(loadConfig(example).config);
        const steps = [{ step: 'validate example configuration', ok: true }];
        ctx.out.result(
          () =>
            [
              `The example deployment "${summary.deployment}" is valid:`,
              '',
              table(
                ['site', 'role', 'platform', 'primero', 'backups'],
                summary.sites.map((site) => [
                  site.name,
                  site.role,
                  site.platform,
                  site.primeroUrl,
                  site.backups ?? '(none)',
                ]),
              ),
              '',
              'Rehearsal complete.',
            ].join('\n'),
          { ok: true, steps, ...summary },
        );
      }),
    );
}
