import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import type { CommandContext } from './context.js';

export interface ConfirmOptions {
  yes?: boolean;
  confirm?: string;
}

/** Adds the rule's two options, with the same help on every command that confirms. */
export function confirmOptions(command: Command): Command {
  return command
    .option('-y, --yes', 'do not prompt; needs --confirm <site> too')
    .option('--confirm <site>', 'the site name, typed out, for non-interactive use');
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

/** What a destructive command asks to be confirmed, and how to confirm it without a terminal. */
export interface ConfirmRequest extends ConfirmOptions {
  /** The name to type: the site, usually. */
  target: string;
  /** What will happen, in one sentence without a full stop. */
  consequence: string;
  /** The command line so far (without --yes/--confirm), for the hint; e.g. `tier4 backup unlock --site x`. */
  command: string;
}

/**
 * The one confirmation rule for every command that destroys or replaces (restore, backup unlock, promote
 * apply and rollback, site apply, deploy and destroy). On a terminal (stdin and stderr are TTYs, whatever
 * stdout is) the operator types the target's name; `--yes` needs `--confirm <name>` too, on a terminal or
 * not, and never falls back to a prompt. Every refusal is a UsageError (exit 2, nothing changed) whose hint
 * is a command line that works as written.
 *
 * This first half checks the flags before anything runs: 'confirmed' when the flags confirm, 'ask' when
 * the command must ask on the terminal (askToConfirm) once it has shown what it will do.
 */
export function confirmationNeeded(ctx: CommandContext, request: ConfirmRequest): 'confirmed' | 'ask' {
  const { target, consequence } = request;
  if (request.yes || request.confirm !== undefined) {
    if (!request.yes || request.confirm !== target) {
      const wrong = !request.yes
        ? '--confirm also needs --yes'
        : request.confirm === undefined
          ? `--yes also needs --confirm ${target}`
          : `--confirm ${request.confirm} does not match the site name ${target}`;
      throw new UsageError(`${consequence}: ${wrong}. Nothing was changed.`, confirmingHint(request));
    }
    return 'confirmed';
  }
  if (!isInteractive(ctx)) {
    throw new UsageError(
      `${consequence}. There is no terminal to ask on: pass --yes --confirm ${target}; nothing was changed.`,
      confirmingHint(request),
    );
  }
  return 'ask';
}

/** The second half: asks for the target's name; a wrong answer is the same refusal (exit 2). */
export async function askToConfirm(ctx: CommandContext, request: ConfirmRequest): Promise<void> {
  ctx.out.warn(`${request.consequence}.`);
  if ((await askLine(ctx, `Type the site name (${request.target}) to go ahead: `)) !== request.target) {
    throw new UsageError('The site name did not match; nothing was changed.', confirmingHint(request));
  }
}

/** Both halves at once, for a command with nothing to show before asking. */
export async function confirmDestructive(ctx: CommandContext, request: ConfirmRequest): Promise<void> {
  if (confirmationNeeded(ctx, request) === 'ask') await askToConfirm(ctx, request);
}

/** `tier4 <words> [-c file]`: the command being confirmed, as the hint shows it. */
export function commandLine(ctx: CommandContext, words: string): string {
  return `tier4 ${words}${ctx.globals.config ? ` -c ${ctx.globals.config}` : ''}`;
}

/** The request for `tier4 site <verb> <site>`, whose target is the site. */
export function siteConfirmation(
  ctx: CommandContext,
  verb: string,
  site: string,
  consequence: string,
  options: ConfirmOptions,
): ConfirmRequest {
  return {
    target: site,
    consequence,
    command: commandLine(ctx, `site ${verb} ${site}`),
    yes: options.yes,
    confirm: options.confirm,
  };
}

function confirmingHint(request: ConfirmRequest): string {
  return `Run: ${request.command} --yes --confirm ${request.target}`;
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
