import { CommanderError } from 'commander';
import {
  EXIT_FAILURE,
  EXIT_INTERRUPTED,
  EXIT_OK,
  EXIT_USAGE,
  errorMessage,
  Tier4Error,
} from '../core/errors.js';
import { redact } from '../core/redact.js';
import type { GlobalOptions } from './context.js';
import { type Io, Output } from './output.js';
import { buildProgram, type RunState } from './program.js';

/** Runs the tier4 CLI and returns its exit code. Never throws and never calls process.exit. */
export async function runCli(
  argv: string[],
  io: Io,
  signal: AbortSignal = new AbortController().signal,
): Promise<number> {
  const state: RunState = { exitCode: EXIT_OK };
  const program = buildProgram(io, signal, state);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      const code = commanderExitCode(error);
      // With --json a script reads stdout only: a usage error is one JSON document there too.
      if (code !== EXIT_OK && argv.includes('--json')) {
        const message = error.message.replace(/^error: /, '');
        io.stdout.write(
          `${JSON.stringify({ ok: false, error: { message, hint: 'run with --help for usage', exitCode: code } }, null, 2)}\n`,
        );
      }
      return code;
    }
    const globals = state.context?.globals ?? program.opts<GlobalOptions>();
    const out =
      state.context?.out ??
      new Output(io, {
        json: globals.json === true,
        quiet: globals.quiet === true,
        verbose: globals.verbose === true,
        color: globals.color !== false && io.stdout.isTTY === true && io.env.NO_COLOR === undefined,
      });
    return signal.aborted
      ? reportInterrupted(out, error, state.context?.commandPath)
      : reportError(out, error);
  }
}

/** What each interrupted command leaves behind, so the operator knows what to do next. */
const LEFT_BEHIND: Record<string, string> = {
  'backup create':
    'No backup set was recorded: the unfinished set was removed and the lock released (prune removes anything left). Run the backup again.',
};

/** Ctrl-C: exit 130 and say what was left, never a hint meant for another failure. */
function reportInterrupted(out: Output, error: unknown, command: string | undefined): number {
  const message = `Interrupted: ${errorMessage(error)}`;
  const known = error instanceof Tier4Error && error.exitCode !== EXIT_USAGE ? error.hint : undefined;
  const hint = (command ? LEFT_BEHIND[command] : undefined) ?? known;
  out.error(message, hint);
  if (out.json)
    out.result('', { ok: false, error: { message, hint: hint ?? null, exitCode: EXIT_INTERRUPTED } });
  return EXIT_INTERRUPTED;
}

function commanderExitCode(error: CommanderError): number {
  // --help and --version are successes; everything else commander rejects is a usage error.
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
  return EXIT_USAGE;
}

function reportError(out: Output, error: unknown): number {
  const known = error instanceof Tier4Error;
  const exitCode = known ? error.exitCode : EXIT_FAILURE;
  const message = known ? error.message : `unexpected failure: ${errorMessage(error)}`;
  const hint = known
    ? error.hint
    : out.options.verbose
      ? undefined
      : 'Run again with --verbose for details, and report it if it persists.';
  out.error(message, hint);
  if (out.options.verbose && error instanceof Error && error.stack) out.debug(redact(error.stack));
  if (out.json) out.result('', { ok: false, error: { message, hint: hint ?? null, exitCode } });
  return exitCode;
}

export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  };
}
