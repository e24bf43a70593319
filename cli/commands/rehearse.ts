import type { Command } from 'commander';
import type { Registrar } from '../program.js';

/** The local rehearsal: the main job on embedded defaults, no cloud account. Each landed feature adds a step. */
export function registerRehearse(program: Command, registrar: Registrar): void {
  program
    .command('rehearse')
    .description(
      'run the local rehearsal: back up, verify and restore a throwaway PostgreSQL; synthesize the example stacks',
    )
    .option(
      '--keep',
      'keep the work folder (configuration, repository, synthesized stacks) and print where it is',
    )
    .action(
      registrar.action(async (ctx, options: { keep?: boolean }) => {
        const { rehearse } = await import('../../rehearsal/rehearse.js');
        const { synthesizeAzureDemo } = await import('../../stacks/azure-demo/synth.js');
        const { join } = await import('node:path');
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
          extraSteps: [
            {
              name: 'synthesize the Azure demo stack (Terraform JSON, policy checks)',
              run: async (example, workDir) => {
                const synth = await synthesizeAzureDemo(example, 'demo', join(workDir, 'cdktf.out'));
                return `${synth.resourceCount} resources; policy ${synth.policy.passed} passed, ${synth.policy.failed} failed`;
              },
            },
          ],
        });
        ctx.out.result(
          () =>
            [
              `Rehearsal complete: ${result.steps.length} steps passed.`,
              ...(result.workDir
                ? [`Work folder kept at ${result.workDir} (tier4.yaml, repository/, cdktf.out/).`]
                : []),
            ].join('\n'),
          result,
        );
        return result.ok ? 0 : 1;
      }),
    );
}
