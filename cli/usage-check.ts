import type { Command, Option } from 'commander';

/** Commander keeps these private; reading them is how we walk a line without running anything. */
interface CommandInternals {
  _defaultCommandName?: string | null;
  _actionHandler?: unknown;
}

function findOption(command: Command, flag: string): Option | undefined {
  for (let current: Command | null = command; current; current = current.parent) {
    const option = current.options.find((candidate) => candidate.long === flag || candidate.short === flag);
    if (option) return option;
  }
  return undefined;
}

function defaultSubcommand(command: Command): Command | undefined {
  const name = (command as unknown as CommandInternals)._defaultCommandName;
  return name ? command.commands.find((sub) => sub.name() === name) : undefined;
}

/** A group that also runs on its own (`tier4 doctor` beside `tier4 doctor serve`): commander calls its action. */
function runsAlone(command: Command): boolean {
  return Boolean((command as unknown as CommandInternals)._actionHandler);
}

function pathOf(command: Command): string {
  const names: string[] = [];
  for (let current: Command | null = command; current; current = current.parent)
    names.unshift(current.name());
  return names.join(' ');
}

/**
 * Checks a tier4 command line against the real program's commands and options, without running it.
 * Returns what is wrong, or undefined when the line names an existing command with known options,
 * its required options and arguments.
 */
export function checkCommandLine(
  program: Command,
  argv: string[],
  options: { complete?: boolean } = {},
): string | undefined {
  /** Complete lines (runbooks) must run as written; a mention in prose only has to name real things. */
  const complete = options.complete !== false;
  let command = program;
  const given = new Set<Option>();
  let positional = 0;
  for (let i = 0; i < argv.length; i += 1) {
    const token = argv[i]!;
    if (token === '--help' || token === '-h') return undefined;
    if (token.startsWith('-') && token.length > 1) {
      const [flag, inline] = token.includes('=')
        ? [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)]
        : [token, undefined];
      let option = findOption(command, flag!);
      if (!option) {
        const fallback = defaultSubcommand(command);
        option = fallback ? findOption(fallback, flag!) : undefined;
        if (option) command = fallback!;
      }
      if (!option) return `unknown option ${flag} for \`${pathOf(command)}\``;
      given.add(option);
      let value = inline;
      if (option.required && inline === undefined) {
        if (i + 1 >= argv.length) return `option ${flag} needs a value`;
        i += 1;
        value = argv[i];
      }
      if (option.argChoices && value !== undefined && !option.argChoices.includes(value))
        return `option ${flag} takes ${option.argChoices.join(', ')}, not "${value}"`;
      continue;
    }
    const sub =
      positional === 0
        ? command.commands.find(
            (candidate) => candidate.name() === token || candidate.aliases().includes(token),
          )
        : undefined;
    if (sub) {
      command = sub;
      continue;
    }
    if (command.commands.length > 0 && !runsAlone(command)) {
      const fallback = defaultSubcommand(command);
      if (!fallback) return `unknown command "${token}" for \`${pathOf(command)}\``;
      command = fallback;
    }
    positional += 1;
    const declared = command.registeredArguments;
    if (complete && positional > declared.length && !declared.at(-1)?.variadic) {
      return `too many arguments for \`${pathOf(command)}\``;
    }
  }
  if (!complete) return undefined;
  if (command.commands.length > 0 && !runsAlone(command)) {
    const fallback = defaultSubcommand(command);
    if (!fallback) return `\`${pathOf(command)}\` needs a subcommand`;
    command = fallback;
  }
  if (!runsAlone(command)) return `\`${pathOf(command)}\` does nothing by itself`;
  const missingOption = command.options.find((option) => option.mandatory && !given.has(option));
  if (missingOption) return `\`${pathOf(command)}\` needs ${missingOption.long ?? missingOption.short}`;
  const required = command.registeredArguments.filter((argument) => argument.required).length;
  if (positional < required) return `\`${pathOf(command)}\` needs ${required} argument(s)`;
  return undefined;
}
