import type { Command } from 'commander';
import { table } from '../output.js';
import type { Registrar } from '../registrar.js';

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
    .description('show a runbook, formatted for the terminal and paged through $PAGER on a terminal')
    .argument('<name>', 'the runbook, e.g. disaster-recovery')
    .option('--raw', 'print the Markdown source as it is')
    .action(
      registrar.action(async (ctx, name: string, options: { raw?: boolean }) => {
        const { readRunbook } = await import('../../runbooks/index.js');
        const { runbook: found, text } = readRunbook(name);
        const json = { name: found.name, title: found.title, markdown: text };
        if (options.raw || ctx.out.json) {
          ctx.out.result(text, json);
          return;
        }
        const { renderMarkdown } = await import('../markdown.js');
        const rendered = `${renderMarkdown(text, ctx.out.style.bind(ctx.out))}\n`;
        const { page } = await import('../pager.js');
        if (!(await page(ctx.io, rendered))) ctx.out.result(rendered, json);
      }),
    );
}
