import type { Command } from 'commander';
import { table } from '../output.js';
import type { Registrar } from '../program.js';

export function registerRunbook(program: Command, registrar: Registrar): void {
  const runbook = program.command('runbook').description('The operating procedures, in the terminal');

  runbook
    .command('list')
    .description('list the runbooks')
    .action(
      registrar.action(async (ctx) => {
        const { listRunbooks } = await import('../../runbooks/index.js');
        const runbooks = listRunbooks();
        ctx.out.result(
          () =>
            `${table(
              ['name', 'title'],
              runbooks.map((r) => [r.name, r.title]),
            )}\n\nRead one with: tier4 runbook show <name>`,
          runbooks.map(({ name, title }) => ({ name, title })),
        );
      }),
    );

  runbook
    .command('show')
    .description('print a runbook')
    .argument('<name>', 'the runbook, e.g. disaster-recovery')
    .action(
      registrar.action(async (ctx, name: string) => {
        const { readRunbook } = await import('../../runbooks/index.js');
        const { runbook: found, text } = readRunbook(name);
        ctx.out.result(text, { name: found.name, title: found.title, markdown: text });
      }),
    );
}
