import type { Command } from 'commander';
import type { LoadedConfig } from '../../core/config/load.js';
import { errorMessage, Tier4Error, UsageError } from '../../core/errors.js';
import type { CommandContext } from '../context.js';
import { table } from '../output.js';
import type { Registrar } from '../registrar.js';

function checkSite(loaded: LoadedConfig, site: string | undefined): void {
  if (site !== undefined && !loaded.config.sites[site]) {
    throw new UsageError(
      `No site named "${site}" in the configuration.`,
      `Sites: ${Object.keys(loaded.config.sites).join(', ')}.`,
    );
  }
}

/** Runs the doctor with its progress shown (time-stamped lines when not on a terminal). */
async function withProgress<T>(
  ctx: CommandContext,
  work: (progress: (message: string) => void) => Promise<T>,
): Promise<T> {
  // Loaded on use: progress.ts reads core/duration.js, which loads zod (--help must not).
  const { stepProgress } = await import('../progress.js');
  const progress = stepProgress(ctx.out);
  try {
    return await work(progress.step);
  } finally {
    progress.stop();
  }
}

/** The configuration, or (for Prometheus output) the exposition of why there is none, then the error. */
async function configOrDownMetrics(ctx: CommandContext, site: string | undefined, prometheus: boolean) {
  try {
    const loaded = ctx.config();
    checkSite(loaded, site);
    return loaded;
  } catch (error) {
    // An empty page would alert nobody: say the doctor is down, then report the error as usual.
    if (prometheus && !ctx.out.json) await printDown(ctx, site ? [site] : [], 'config');
    throw error;
  }
}

async function printDown(ctx: CommandContext, sites: string[], reason: string): Promise<void> {
  const { doctorDownMetrics, prometheusText } = await import('../../doctor/index.js');
  ctx.io.stdout.write(prometheusText(doctorDownMetrics(sites, reason, new Date())));
}

export function registerDoctor(program: Command, registrar: Registrar): void {
  const doctor = program
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
        const prometheus = options.format === 'prometheus' && !ctx.out.json;
        const loaded = await configOrDownMetrics(ctx, options.site, prometheus);
        const { runDoctor } = await import('../../doctor/index.js');
        const report = await withProgress(ctx, (progress) =>
          runDoctor(loaded, {
            ...(options.site ? { site: options.site } : {}),
            env: ctx.io.env,
            signal: ctx.signal,
            progress,
          }),
        ).catch(async (error: unknown) => {
          // The doctor does not throw for a broken site; if it throws at all, monitoring still hears of it.
          if (prometheus)
            await printDown(ctx, options.site ? [options.site] : Object.keys(loaded.config.sites), 'error');
          throw error;
        });
        if (prometheus) {
          const { prometheusText } = await import('../../doctor/index.js');
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

  doctor
    .command('serve')
    .description(
      'a Prometheus exporter: run the checks every --interval, serve the last result at /metrics and the status page at /',
    )
    .option('-s, --site <name>', 'only this site (default: every site)')
    .option('--listen <[host]:port>', 'where to listen', ':9464')
    .option('--interval <duration>', 'pause between the end of one run and the start of the next', '5m')
    .action(
      registrar.action(async (ctx, options: { site?: string; listen: string; interval: string }) => {
        const { parseListen, startExporter } = await import('../../doctor/index.js');
        const { parseDurationSeconds } = await import('../../core/duration.js');
        const listen = parseListen(options.listen);
        if (!listen)
          throw new UsageError(
            `--listen must be [host]:port, not ${options.listen}.`,
            'For example :9464 (every interface) or 127.0.0.1:9464.',
          );
        const intervalSeconds = parseDurationSeconds(options.interval);
        if (intervalSeconds === undefined || intervalSeconds < 1)
          throw new UsageError(
            `--interval must be a duration such as 30s, 5m or 1h, not ${options.interval}.`,
          );
        // A broken configuration at start is a usage error; later, a run reports it as tier4_doctor_up 0.
        checkSite(ctx.config(), options.site);
        const { doctorSnapshot } = await import('../../doctor/index.js');
        const { loadConfig } = await import('../../core/config/load.js');
        const log = (message: string) => ctx.out.info(`${new Date().toISOString()} ${message}`);
        const exporter = await startExporter({
          ...listen,
          intervalMs: intervalSeconds * 1000,
          sites: options.site ? [options.site] : Object.keys(ctx.config().config.sites),
          log,
          run: async (signal) => {
            // Read the configuration again on every run: a ConfigMap update needs no restart.
            let loaded: LoadedConfig;
            try {
              loaded = loadConfig(ctx.configPath);
              checkSite(loaded, options.site);
            } catch (error) {
              throw new Tier4Error(
                `the configuration does not load: ${errorMessage(error)}${error instanceof Tier4Error && error.hint ? ` (${error.hint})` : ''}`,
              );
            }
            const { report, html } = await doctorSnapshot(loaded, {
              ...(options.site ? { site: options.site } : {}),
              env: ctx.io.env,
              signal,
              progress: (message) => ctx.out.debug(message),
            });
            return { metrics: report.metrics, html, ok: report.ok, sites: Object.keys(report.sites) };
          },
        }).catch((error: NodeJS.ErrnoException) => {
          throw new UsageError(
            `Cannot listen on ${options.listen}: ${error.code ?? errorMessage(error)}.`,
            error.code === 'EADDRINUSE'
              ? 'Another process uses that port: pick another with --listen.'
              : undefined,
          );
        });
        const { address, port } = exporter.address;
        log(
          `serving http://${address.includes(':') ? `[${address}]` : address}:${port}/metrics and / (status page)`,
        );
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        log('stopping: finishing open requests');
        await exporter.close();
        log('stopped');
        return 0;
      }),
    );
}

export function registerStatus(program: Command, registrar: Registrar): void {
  program
    .command('status')
    .description(
      'a status page for people: backups, drills, certificates, repository health and promotions, per site',
    )
    .requiredOption('--html <file>', 'write one self-contained HTML page here (works offline)')
    .option('-s, --site <name>', 'only this site (default: every site)')
    .action(
      registrar.action(async (ctx, options: { html: string; site?: string }) => {
        const loaded = ctx.config();
        checkSite(loaded, options.site);
        const { doctorSnapshot } = await import('../../doctor/index.js');
        const snapshot = await withProgress(ctx, (progress) =>
          doctorSnapshot(loaded, {
            ...(options.site ? { site: options.site } : {}),
            env: ctx.io.env,
            signal: ctx.signal,
            progress,
          }),
        );
        const { resolve } = await import('node:path');
        const { writeFile } = await import('node:fs/promises');
        const file = resolve(ctx.io.cwd, options.html);
        try {
          await writeFile(file, snapshot.html, { mode: 0o640 });
        } catch (error) {
          throw new Tier4Error(`Cannot write ${file}: ${errorMessage(error)}.`, {
            exitCode: 2,
            hint: 'Check that the folder exists and is writable.',
          });
        }
        ctx.out.result(
          `Wrote ${file}${snapshot.report.ok ? '' : ` (${snapshot.report.checks.filter((c) => c.status === 'fail').length} check(s) failed: see the page)`}.`,
          { file, ok: snapshot.report.ok },
        );
        return 0;
      }),
    );
}
