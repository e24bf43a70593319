import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { table } from '../output.js';
import type { Registrar } from '../program.js';

export function registerDoctor(program: Command, registrar: Registrar): void {
  program
    .command('doctor')
    .description(
      'are our sites safe? backups against RPO, drills, repository, keys, pg_dump, certificates, drift',
    )
    .option('-s, --site <name>', 'only this site (default: every site)')
    .option(
      '--format <format>',
      'text, or prometheus for node_exporter/Pushgateway (--json for JSON)',
      'text',
    )
    .action(
      registrar.action(async (ctx, options: { site?: string; format: string }) => {
        if (!['text', 'prometheus'].includes(options.format)) {
          throw new UsageError(
            `--format must be text or prometheus, not ${options.format}.`,
            'Use --json for JSON.',
          );
        }
        const loaded = ctx.config();
        if (options.site !== undefined && !loaded.config.sites[options.site]) {
          throw new UsageError(
            `No site named "${options.site}" in the configuration.`,
            `Sites: ${Object.keys(loaded.config.sites).join(', ')}.`,
          );
        }
        const { runDoctor } = await import('../../doctor/run.js');
        const report = await runDoctor(loaded, {
          ...(options.site ? { site: options.site } : {}),
          env: ctx.io.env,
          signal: ctx.signal,
        });
        if (options.format === 'prometheus' && !ctx.out.json) {
          const { prometheusText } = await import('../../doctor/prometheus.js');
          ctx.io.stdout.write(prometheusText(report.metrics));
        } else {
          const mark = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' } as const;
          ctx.out.result(
            () =>
              [
                table(
                  ['site', 'check', 'status', 'detail'],
                  report.checks.map((c) => [c.site ?? '(deployment)', c.check, mark[c.status], c.message]),
                ),
                '',
                report.ok
                  ? 'All checks passed.'
                  : `${report.checks.filter((c) => c.status === 'fail').length} check(s) failed.`,
              ].join('\n'),
            report,
          );
        }
        return report.ok ? 0 : 1;
      }),
    );
}
