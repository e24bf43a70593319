import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  askToConfirm,
  type ConfirmOptions,
  type ConfirmRequest,
  commandLine,
  confirmationNeeded,
  confirmOptions,
} from '../confirm.js';
import type { CommandContext } from '../context.js';
import { table } from '../output.js';
import type { Registrar } from '../registrar.js';

/**
 * `tier4 site render|preview|deploy <site>`: Primero on Kubernetes. render writes plain YAML with no
 * cluster and no Pulumi; preview and deploy run the `pulumi` CLI through stacks/production/pulumi.ts.
 * Heavy modules (the chart, schema libraries, execa) are imported inside the actions.
 */

interface RenderFlags {
  out?: string;
  firstInstall?: boolean;
}

export function registerKubernetesSiteCommands(site: Command, registrar: Registrar): void {
  site
    .command('render')
    .description("write the site's Kubernetes manifests as plain YAML (no cluster, no Pulumi) and check them")
    .argument('[site]', 'a site with platform: kubernetes (default: the only one)')
    .option('--out <dir>', 'where to write the YAML (default: rendered/<site>)')
    .option('--first-install', 'run primero-bootstrap (migrate and seed) instead of primero-migrate')
    .action(
      registrar.action(async (ctx, siteArg: string | undefined, options: RenderFlags) => {
        const { loaded, name: siteName } = ctx.site(siteArg, 'kubernetes', true);
        const outDir = resolve(ctx.io.cwd, options.out ?? join('rendered', siteName));
        const { renderSiteManifests } = await import('../../stacks/index.js');
        const result = await renderSiteManifests(loaded, siteName, outDir, {
          firstInstall: options.firstInstall,
        });
        const ok = result.findings.length === 0;
        ctx.out.result(
          () => {
            const lines = [`Wrote ${result.objects} objects for ${siteName} to ${outDir}:`];
            for (const file of result.files) lines.push(`  ${relative(outDir, file)}`);
            lines.push('', 'Secrets to create before deploying (names and keys only):');
            lines.push(
              table(
                ['secret', 'keys'],
                result.secrets.map((secret) => [secret.secret, secret.keys.join(', ')]),
              ),
            );
            for (const note of result.notes) lines.push('', `note: ${note}`);
            if (ok) lines.push('', 'Every manifest passes the policy rules and the Kubernetes schemas.');
            else {
              lines.push('', `${result.findings.length} finding(s):`);
              lines.push(
                table(
                  ['rule', 'object', 'problem'],
                  result.findings.map((f) => [f.rule, f.object, f.message]),
                ),
              );
            }
            const shown = relative(ctx.io.cwd, outDir);
            lines.push(
              '',
              `Apply in order with: kubectl apply -f ${shown.startsWith('..') ? outDir : shown || '.'}`,
            );
            return lines.join('\n');
          },
          { ok, site: siteName, outDir, ...result },
        );
        return ok ? 0 : 1;
      }),
    );

  site
    .command('preview')
    .description("show what `deploy` would change on the site's cluster (pulumi preview)")
    .argument('[site]', 'a site with platform: kubernetes (default: the only one)')
    .option('--first-install', 'run primero-bootstrap (migrate and seed) instead of primero-migrate')
    .action(
      registrar.action(async (ctx, siteArg: string | undefined, options: { firstInstall?: boolean }) =>
        runPulumi(ctx, 'preview', siteArg, options),
      ),
    );

  confirmOptions(site.command('deploy'))
    .description('create or update the site on its cluster (pulumi up), after a preview and a confirmation')
    .argument('[site]', 'a site with platform: kubernetes (default: the only one)')
    .option('--first-install', 'run primero-bootstrap (migrate and seed) instead of primero-migrate')
    .action(
      registrar.action(async (ctx, siteArg: string | undefined, options: DeployFlags) =>
        runPulumi(ctx, 'deploy', siteArg, options),
      ),
    );
}

interface DeployFlags extends ConfirmOptions {
  firstInstall?: boolean;
}

/** preview, or deploy: the stack checked, the confirmation (one rule, cli/confirm.ts), then pulumi up. */
async function runPulumi(
  ctx: CommandContext,
  verb: 'preview' | 'deploy',
  siteArg: string | undefined,
  options: DeployFlags,
): Promise<number> {
  const { loaded, name: siteName } = ctx.site(siteArg, 'kubernetes', true);
  const { preparePulumiSite } = await (await import('../../stacks/index.js')).loadPulumi();
  const pulumi = await preparePulumiSite(loaded, siteName, {
    firstInstall: options.firstInstall,
    env: ctx.io.env,
    signal: ctx.signal,
  });
  const request: ConfirmRequest = {
    target: siteName,
    consequence: `This creates or updates the ${siteName} site on its cluster (stack ${pulumi.stack})`,
    command: commandLine(ctx, `site deploy ${siteName}${options.firstInstall ? ' --first-install' : ''}`),
    yes: options.yes,
    confirm: options.confirm,
  };
  const mode = verb === 'deploy' ? confirmationNeeded(ctx, request) : undefined;
  ctx.out.info(
    `Pulumi ${verb} of ${siteName} (stack ${pulumi.stack}, state in ${pulumi.backend}, ${pulumi.objects} objects)`,
  );
  for (const note of pulumi.notes) ctx.out.warn(note);
  await pulumi.select();
  // Pulumi talks to the operator directly (its own progress), except under --json.
  const output = ctx.out.json ? 'pipe' : 'inherit';
  let step = verb === 'preview' ? 'preview' : 'up';
  let exitCode: number;
  if (verb === 'deploy' && mode === 'ask') {
    // On a terminal the operator sees the preview first, then types the site name.
    exitCode = await pulumi.preview(output);
    if (exitCode === 0) {
      await askToConfirm(ctx, request);
      exitCode = await pulumi.up(output);
    } else step = 'preview';
  } else exitCode = verb === 'preview' ? await pulumi.preview(output) : await pulumi.up(output);
  const ok = exitCode === 0;
  ctx.out.result(ok ? `pulumi ${step} finished for ${siteName}.` : `pulumi ${step} failed for ${siteName}.`, {
    ok,
    site: siteName,
    stack: pulumi.stack,
    backend: pulumi.backend,
    exitCode,
    project: pulumi.projectDir,
  });
  return ok ? 0 : 1;
}
