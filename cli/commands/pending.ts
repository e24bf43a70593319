import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { Registrar } from '../registrar.js';

/**
 * A command group whose issue has not landed. It says so and exits 2: it never pretends to work.
 */
export function registerPending(
  program: Command,
  registrar: Registrar,
  name: string,
  description: string,
  issue: number,
): Command {
  return program
    .command(name)
    .description(`${description} (not available yet)`)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(
      registrar.action(async () => {
        throw new UsageError(
          `tier4 ${name} is not available in this version yet (tracked in issue #${issue}).`,
          'Run `tier4 --help` to see the commands that are.',
        );
      }),
    );
}
