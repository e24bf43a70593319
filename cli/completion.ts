import type { Command } from 'commander';

/** One command of the tree, as a shell completes it: its path of names, subcommands and option flags. */
interface CompletionNode {
  path: string[];
  subcommands: string[];
  options: string[];
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** Every command reachable from the root, with what can follow it; read from commander, so it never drifts. */
function commandTree(root: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const visit = (command: Command, path: string[]) => {
    const options = command.options
      .flatMap((option) => [option.short, option.long])
      .filter(Boolean) as string[];
    if (path.length === 0) options.push('--help', '--version');
    else options.push('--help');
    nodes.push({ path, subcommands: command.commands.map((sub) => sub.name()), options });
    for (const sub of command.commands) visit(sub, [...path, sub.name()]);
  };
  visit(root, []);
  return nodes;
}

/** A completion script for the shell: static, generated from the command tree of this tier4 version. */
export function completionScript(shell: Shell, root: Command): string {
  const nodes = commandTree(root);
  if (shell === 'fish') return fishScript(nodes);
  const bash = bashScript(nodes);
  // zsh runs bash completion functions through bashcompinit.
  return shell === 'zsh' ? `#compdef tier4\nautoload -U +X bashcompinit && bashcompinit\n${bash}` : bash;
}

function bashScript(nodes: CompletionNode[]): string {
  const known = nodes
    .filter((node) => node.path.length > 0)
    .map((node) => `"${node.path.join(' ')}"`)
    .join('|');
  const cases = nodes
    .map(
      (node) =>
        `    "${node.path.join(' ')}") words="${[...node.subcommands, ...node.options].join(' ')}" ;;`,
    )
    .join('\n');
  return `# tier4 completion for bash. Load it with: source <(tier4 completion bash)
_tier4_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" next word i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == -* ]] && continue
    next="\${path:+$path }$word"
    case "$next" in
      ${known}) path="$next" ;;
    esac
  done
  local words=""
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _tier4_complete tier4
`;
}

function fishScript(nodes: CompletionNode[]): string {
  const lines = [
    '# tier4 completion for fish. Load it with: tier4 completion fish | source',
    'function __tier4_path',
    '    set -l path',
    '    for word in (commandline -opc)[2..-1]',
    "        string match -q -- '-*' $word; and continue",
    '        set -l next (string join " " $path $word)',
    '        if contains -- $next $__tier4_paths',
    '            set path $path $word',
    '        end',
    '    end',
    '    string join " " $path',
    'end',
    `set -g __tier4_paths ${nodes
      .filter((node) => node.path.length > 0)
      .map((node) => `'${node.path.join(' ')}'`)
      .join(' ')}`,
    'complete -c tier4 -f',
  ];
  for (const node of nodes) {
    const condition = `test (__tier4_path) = '${node.path.join(' ')}'`;
    for (const sub of node.subcommands) lines.push(`complete -c tier4 -n "${condition}" -a ${sub}`);
    for (const option of node.options) {
      const flag = option.startsWith('--') ? `-l ${option.slice(2)}` : `-s ${option.slice(1)}`;
      lines.push(`complete -c tier4 -n "${condition}" ${flag}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
