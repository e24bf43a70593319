import type { Command } from 'commander';
import type { Registrar } from '../registrar.js';

/** The local rehearsal: the main job on embedded defaults, no cloud account. */
export function registerRehearse(program: Command, registrar: Registrar): void {
  program
    .command('rehearse')
    .description(
      'run the local rehearsal: back up, restore, drill a throwaway PostgreSQL; synthesize and render the example sites',
    )
    .option(
      '--keep',
      'keep the work folder (configuration, repository, reports, stacks, manifests) and print where it is',
    )
    .action(
      registrar.action(async (ctx, options: { keep?: boolean }) => {
        const { rehearse } = await import('../../rehearsal/index.js');
        ctx.out.info(
          'Rehearsal: a local production site on a throwaway PostgreSQL 15, and the example deployment.',
        );
        const result = await rehearse({
          keep: options.keep === true,
          signal: ctx.signal,
          onStep: (step) =>
            ctx.out.info(
              `  ${ctx.out.style('✓', 'green')} ${step.step} (${step.seconds.toFixed(1)}s): ${step.detail}`,
            ),
        });
        ctx.out.result(
          () =>
            [
              `Rehearsal complete: ${result.steps.length} steps passed.`,
              ...(result.workDir
                ? [
                    `Work folder kept at ${result.workDir} (tier4.yaml, repository/, drills/, cdktf.out/, rendered/).`,
                  ]
                : []),
            ].join('\n'),
          result,
        );
        return result.ok ? 0 : 1;
      }),
    );
}
