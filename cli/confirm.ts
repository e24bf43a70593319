import { createInterface } from 'node:readline';
import { UsageError } from '../core/errors.js';
import type { CommandContext } from './context.js';

export interface ConfirmOptions {
  yes?: boolean;
  confirm?: string;
}

/** A person at a terminal, who can be asked. */
export function isInteractive(ctx: CommandContext): boolean {
  return ctx.io.stdin?.isTTY === true && ctx.io.stderr.isTTY === true;
}

/** Asks on stderr and reads one line from stdin; '' when input ends first. */
export async function askLine(ctx: CommandContext, question: string): Promise<string> {
  const stdin = ctx.io.stdin;
  if (!stdin) return '';
  ctx.io.stderr.write(question);
  const lines = createInterface({ input: stdin, terminal: false });
  try {
    return await new Promise<string>((resolve) => {
      lines.once('line', (line) => resolve(line.trim()));
      lines.once('close', () => resolve(''));
    });
  } finally {
    lines.close();
  }
}

/**
 * The one confirmation rule for every command that destroys or replaces. On a terminal (stdin and stderr are
 * TTYs) the operator types the target's name; `--yes` needs `--confirm <name>` too, on a terminal or not, and
 * never falls back to a prompt. Every refusal is a UsageError (exit 2, nothing changed) whose hint is a command
 * line that works as written.
 */
export async function confirmDestructive(
  ctx: CommandContext,
  request: {
    /** The name to type: the site, usually. */
    target: string;
    /** What will happen, in one sentence without a full stop. */
    consequence: string;
    /** The command line so far (without --yes/--confirm), for the hint; e.g. `tier4 backup unlock --site x`. */
    command: string;
  } & ConfirmOptions,
): Promise<void> {
  const { target, consequence } = request;
  const works = `${request.command} --yes --confirm ${target}`;
  if (request.yes || request.confirm !== undefined) {
    if (!request.yes || request.confirm !== target) {
      const wrong = !request.yes
        ? '--confirm also needs --yes'
        : request.confirm === undefined
          ? `--yes also needs --confirm ${target}`
          : `--confirm ${request.confirm} does not match the site name ${target}`;
      throw new UsageError(`${consequence}: ${wrong}. Nothing was changed.`, `Run: ${works}`);
    }
    return;
  }
  if (!isInteractive(ctx)) {
    throw new UsageError(
      `${consequence}. This needs confirmation and there is no terminal to ask on; nothing was changed.`,
      `Run: ${works}`,
    );
  }
  ctx.out.warn(`${consequence}.`);
  if ((await askLine(ctx, `Type the site name (${target}) to go ahead: `)) !== target) {
    throw new UsageError('The site name did not match; nothing was changed.', `Run: ${works}`);
  }
}

/** confirmDestructive for a site, by its name. */
export async function confirmBySiteName(
  ctx: CommandContext,
  site: string,
  consequence: string,
  options: ConfirmOptions & { command: string },
): Promise<void> {
  await confirmDestructive(ctx, { target: site, consequence, ...options });
}
