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
import { createOutput, type Io, OUTPUT_FORMATS, type Output, type OutputFormat } from './output.js';
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
      const format = formatInArgv(argv);
      const outputClash = error.code === 'commander.invalidArgument' && error.message.includes('--output');
      const hint = outputClash
        ? '-o is the output format (text, json or yaml); to name a file or folder, use --out or --out-dir.'
        : 'run with --help for usage';
      if (outputClash) io.stderr.write(`hint: ${hint}\n`);
      // With --json or -o yaml a script reads stdout only: a usage error is one document there too.
      if (code !== EXIT_OK && format !== 'text') {
        const message = error.message.replace(/^error: /, '');
        const out = await createOutput(io, { output: format, quiet: true });
        out.result('', { ok: false, error: { message, hint, exitCode: code } });
      }
      return code;
    }
    const globals = state.context?.globals ?? program.opts<GlobalOptions>();
    const out = state.context?.out ?? (await createOutput(io, globals));
    return signal.aborted
      ? reportInterrupted(out, error, state.context?.commandPath)
      : reportError(out, error);
  }
}

/** What each interrupted command leaves behind, so the operator knows what to do next. */
const LEFT_BEHIND: Record<string, string> = {
  'backup create':
    'No backup set was recorded: the unfinished set was removed and the lock released (prune removes anything left). Run the backup again.',
  // Before the restore writes anything (still verifying the set or checking the target).
  'restore run':
    'Nothing was restored and the target was not touched: the restore was still checking the set and the target.',
};

/** Ctrl-C: exit 130 and say what was left, never a hint meant for another failure. */
function reportInterrupted(out: Output, error: unknown, command: string | undefined): number {
  const message = `Interrupted: ${errorMessage(error)}`;
  const known = error instanceof Tier4Error && error.exitCode !== EXIT_USAGE ? error.hint : undefined;
  // An operation that knows what its interruption left says so itself (exit code 130 on its error).
  const exact = error instanceof Tier4Error && error.exitCode === EXIT_INTERRUPTED ? error.hint : undefined;
  const hint = exact ?? (command ? LEFT_BEHIND[command] : undefined) ?? known;
  out.error(message, hint);
  if (out.json)
    out.result('', { ok: false, error: { message, hint: hint ?? null, exitCode: EXIT_INTERRUPTED } });
  return EXIT_INTERRUPTED;
}

/** The format asked for on a command line commander refused: --json, -o/--output FORMAT, --output=FORMAT, -oFORMAT. */
function formatInArgv(argv: string[]): OutputFormat {
  let format: OutputFormat = 'text';
  for (let i = 0; i < argv.length && argv[i] !== '--'; i += 1) {
    const word = argv[i]!;
    const value =
      word === '--json'
        ? 'json'
        : word === '-o' || word === '--output'
          ? argv[i + 1]
          : /^(?:--output=|-o)(.+)$/.exec(word)?.[1];
    if (value && (OUTPUT_FORMATS as readonly string[]).includes(value)) format = value as OutputFormat;
  }
  return format;
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
