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
 * Before anything destructive: the operator types the site name. Not on a terminal, `--yes --confirm <site>`
 * says the same thing, so a script cannot destroy a site by accident.
 */
export async function confirmBySiteName(
  ctx: CommandContext,
  site: string,
  consequence: string,
  options: ConfirmOptions,
): Promise<void> {
  if (options.yes) {
    if (options.confirm !== site) {
      throw new UsageError(
        `${consequence}: --yes also needs --confirm ${site}. Nothing was changed.`,
        `Pass --yes --confirm ${site} to confirm non-interactively.`,
      );
    }
    return;
  }
  if (!isInteractive(ctx)) {
    throw new UsageError(
      `${consequence}. This needs confirmation and there is no terminal to ask on; nothing was changed.`,
      `Pass --yes --confirm ${site}.`,
    );
  }
  ctx.out.warn(`${consequence}.`);
  if ((await askLine(ctx, `Type the site name (${site}) to go ahead: `)) !== site) {
    throw new UsageError('The site name did not match; nothing was changed.');
  }
}
