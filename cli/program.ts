import { Command, Option } from 'commander';
import { UsageError } from '../core/errors.js';
import { toolVersion } from '../core/package-info.js';
import { registerBackup } from './commands/backup.js';
import { registerCerts } from './commands/certs.js';
import { registerConfig } from './commands/config.js';
import { registerDoctor, registerStatus } from './commands/doctor.js';
import { registerDrill } from './commands/drill.js';
import { registerPromote } from './commands/promote.js';
import { registerRehearse } from './commands/rehearse.js';
import { registerRestore } from './commands/restore.js';
import { registerRunbook } from './commands/runbook.js';
import { registerSite } from './commands/site.js';
import type { Shell } from './completion.js';
import { CommandContext, type GlobalOptions } from './context.js';
import { type Io, OUTPUT_FORMATS } from './output.js';
import type { ActionBody, Registrar } from './registrar.js';

/** Shared state between the action wrappers and the entry point. */
export interface RunState {
  exitCode: number;
  context?: CommandContext;
}

export function buildProgram(io: Io, signal: AbortSignal, state: RunState): Command {
  const program = new Command('tier4')
    .description(
      'Run Primero v2 in the Tier 4 model: backups, restore drills, certificates, promotion, sites.',
    )
    .version(toolVersion(), '-V, --version', 'print the tier4 version')
    .option('-c, --config <file>', 'configuration file (default: ./tier4.yaml, or $TIER4_CONFIG)')
    .option('--json', 'print one JSON document on stdout; human text goes to stderr (the same as -o json)')
    .addOption(
      new Option('-o, --output <format>', 'text, or one json or yaml document on stdout').choices(
        OUTPUT_FORMATS,
      ),
    )
    .option('-q, --quiet', 'print only results and errors')
    .option('-v, --verbose', 'print details, and stack traces on errors')
    .option('--no-color', 'no colour (also off when stdout is not a terminal or NO_COLOR is set)')
    .showSuggestionAfterError()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .exitOverride();

  const registrar: Registrar = {
    action<A extends unknown[]>(body: ActionBody<A>) {
      return async (...args: unknown[]) => {
        // commander passes (...arguments, options, command)
        const command = args[args.length - 1] as Command;
        const path: string[] = [];
        for (let at: Command | null = command; at?.parent; at = at.parent) path.unshift(at.name());
        const ctx = await CommandContext.create(
          io,
          command.optsWithGlobals<GlobalOptions>(),
          signal,
          path.join(' '),
        );
        state.context = ctx;
        const code = await body(ctx, ...(args.slice(0, -1) as A));
        state.exitCode = typeof code === 'number' ? code : 0;
      };
    },
  };

  registerConfig(program, registrar);
  registerSite(program, registrar);
  registerBackup(program, registrar);
  registerRestore(program, registrar);
  registerDrill(program, registrar);
  registerDoctor(program, registrar);
  registerStatus(program, registrar);
  registerCerts(program, registrar);
  registerPromote(program, registrar);
  registerRunbook(program, registrar);
  registerRehearse(program, registrar);
  program
    .command('completion')
    .description('print a shell completion script: source <(tier4 completion bash)')
    .argument('<shell>', 'bash, zsh or fish')
    .action(
      registrar.action(async (ctx, shell: string) => {
        const { completionScript, SHELLS } = await import('./completion.js');
        if (!(SHELLS as readonly string[]).includes(shell))
          throw new UsageError(`No completion for "${shell}".`, `Choose one of: ${SHELLS.join(', ')}.`);
        ctx.io.stdout.write(completionScript(shell as Shell, program));
      }),
    );
  return program;
}
