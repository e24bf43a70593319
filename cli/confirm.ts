import { createInterface } from 'node:readline/promises';
import { UsageError } from '../core/errors.js';
import type { CommandContext } from './context.js';

export interface ConfirmOptions {
  yes?: boolean;
  confirm?: string;
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
  const stdin = ctx.io.stdin;
  if (!stdin?.isTTY) {
    throw new UsageError(
      `${consequence}. This needs confirmation and there is no terminal to ask on; nothing was changed.`,
      `Pass --yes --confirm ${site}.`,
    );
  }
  ctx.out.warn(`${consequence}.`);
  const rl = createInterface({ input: stdin, output: ctx.io.stderr as NodeJS.WritableStream });
  try {
    const answer = (await rl.question(`Type the site name (${site}) to go ahead: `)).trim();
    if (answer !== site) throw new UsageError('The site name did not match; nothing was changed.');
  } finally {
    rl.close();
  }
}
