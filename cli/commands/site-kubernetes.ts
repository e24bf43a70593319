import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { OperationError, UsageError } from '../../core/errors.js';
import { packageRoot } from '../../core/package-info.js';
import type { CommandContext } from '../context.js';
import { table } from '../output.js';
import type { Registrar } from '../registrar.js';

/**
 * `tier4 site render|preview|deploy <site>`: Primero on Kubernetes. render writes plain YAML with no
 * cluster and no Pulumi; preview and deploy run the `pulumi` CLI on stacks/production. Heavy modules
 * (the chart, schema libraries, execa) are imported inside the actions.
 */

const PULUMI_INSTALL =
  'Install the Pulumi CLI (https://www.pulumi.com/docs/install/, e.g. `curl -fsSL https://get.pulumi.com | sh`), or use `tier4 site render` and apply the YAML with kubectl.';

interface RenderFlags {
  out?: string;
  firstInstall?: boolean;
}

export function registerKubernetesSiteCommands(site: Command, registrar: Registrar): void {
  site
    .command('render')
    .description("write the site's Kubernetes manifests as plain YAML (no cluster, no Pulumi) and check them")
    .argument('[site]', 'a site with platform: kubernetes (default: the only one)')
    .option('-o, --out <dir>', 'where to write the YAML (default: rendered/<site>)')
    .option('--first-install', 'run primero-bootstrap (migrate and seed) instead of primero-migrate')
    .action(
      registrar.action(async (ctx, siteArg: string | undefined, options: RenderFlags) => {
        const { loaded, name: siteName } = ctx.site(siteArg, 'kubernetes', true);
        const outDir = resolve(ctx.io.cwd, options.out ?? join('rendered', siteName));
        const { renderSiteManifests } = await import('../../stacks/production/render.js');
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

  for (const [name, description] of [
    ['preview', "show what `deploy` would change on the site's cluster (pulumi preview)"],
    ['deploy', 'create or update the site on its cluster (pulumi up)'],
  ] as const) {
    site
      .command(name)
      .description(description)
      .argument('[site]', 'a site with platform: kubernetes (default: the only one)')
      .option('--first-install', 'run primero-bootstrap (migrate and seed) instead of primero-migrate')
      .option('--yes', "deploy without Pulumi's interactive confirmation (needed when not on a terminal)")
      .action(
        registrar.action(
          async (ctx, siteArg: string | undefined, options: { firstInstall?: boolean; yes?: boolean }) =>
            runPulumi(ctx, name, siteArg, options),
        ),
      );
  }
}

async function runPulumi(
  ctx: CommandContext,
  verb: 'preview' | 'deploy',
  siteArg: string | undefined,
  options: { firstInstall?: boolean; yes?: boolean },
): Promise<number> {
  const { loaded, site, name: siteName } = ctx.site(siteArg, 'kubernetes', true);
  const { kubernetesSettings } = await import('../../charts/primero/from-site.js');
  const k = kubernetesSettings(site);

  // Validate everything before touching the cluster: the same checks as `site render`.
  const { planLoadedSite, checkPlan } = await import('../../stacks/production/render.js');
  const plan = planLoadedSite(loaded, siteName, { firstInstall: options.firstInstall });
  const findings = await checkPlan(plan);
  if (findings.length > 0) {
    throw new UsageError(
      `The manifests for ${siteName} break ${findings.length} policy rule(s); nothing was sent to the cluster.`,
      `Run \`tier4 site render ${siteName}\` to see them.`,
    );
  }

  const { execa } = await import('execa');
  const env = { ...ctx.io.env };
  const version = await execa('pulumi', ['version'], { env, reject: false, stdin: 'ignore' }).catch(
    (error: unknown) => ({ failed: true, code: (error as NodeJS.ErrnoException).code }),
  );
  if ('code' in version && version.code === 'ENOENT') {
    throw new UsageError(
      'The pulumi CLI is not installed, so nothing was previewed or deployed.',
      PULUMI_INSTALL,
    );
  }
  if ((version as { failed?: boolean }).failed) {
    throw new UsageError(
      'The pulumi CLI is not installed or does not run, so nothing was previewed or deployed.',
      PULUMI_INSTALL,
    );
  }
  if (!env.PULUMI_CONFIG_PASSPHRASE && !env.PULUMI_CONFIG_PASSPHRASE_FILE) {
    throw new UsageError(
      "Pulumi's local backend encrypts stack secrets with a passphrase, and none is set.",
      'Set PULUMI_CONFIG_PASSPHRASE_FILE to a root-only file (or PULUMI_CONFIG_PASSPHRASE), and keep it with your other site secrets.',
    );
  }
  // The Pulumi provider finds the cluster the same way; checking first turns client libraries' obscure
  // fallbacks (an http://localhost:8080 cluster) into a clear "no kubeconfig" before anything runs.
  const { loadKubeConfig } = await import('../../core/kubernetes/index.js');
  await loadKubeConfig({ context: k.context }, { env });
  const interactive = ctx.io.stdin?.isTTY === true && ctx.io.stdout.isTTY === true;
  if (verb === 'deploy' && !interactive && !options.yes) {
    throw new UsageError(
      `Not on a terminal, so Pulumi cannot ask before changing ${siteName}.`,
      `Review \`tier4 site preview ${siteName}\`, then pass --yes.`,
    );
  }

  // Local file backend beside tier4.yaml by default: no SaaS account, state stays with the partner.
  const backend = k.pulumiBackend.startsWith('file://./')
    ? `file://${join(loaded.baseDir, k.pulumiBackend.slice('file://./'.length))}`
    : k.pulumiBackend;
  if (backend.startsWith('file://')) {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(backend.slice('file://'.length), { recursive: true });
  }
  const projectDir = join(packageRoot(), 'stacks', 'production');
  const stack = `${loaded.config.deployment.name}-${siteName}`;
  const pulumiEnv = {
    ...env,
    PULUMI_BACKEND_URL: backend,
    TIER4_CONFIG: loaded.path,
    TIER4_SITE: siteName,
    TIER4_FIRST_INSTALL: options.firstInstall ? '1' : '0',
    PULUMI_SKIP_UPDATE_CHECK: 'true',
  };
  ctx.out.info(
    `Pulumi ${verb} of ${siteName} (stack ${stack}, state in ${backend}, ${plan.manifests.length} objects)`,
  );
  for (const note of plan.notes) ctx.out.warn(note);

  const run = (args: string[], stdio: 'inherit' | 'pipe') =>
    execa('pulumi', args, {
      cwd: projectDir,
      env: pulumiEnv,
      reject: false,
      stdio,
      cancelSignal: ctx.signal,
    });
  const select = await run(['stack', 'select', '--create', stack, '--cwd', projectDir], 'pipe');
  if (select.exitCode !== 0) {
    throw new OperationError(
      `pulumi could not select or create the stack ${stack}.`,
      String(select.stderr).trim(),
    );
  }
  const args =
    verb === 'preview'
      ? ['preview', '--stack', stack, '--diff']
      : ['up', '--stack', stack, ...(options.yes ? ['--yes', '--skip-preview'] : [])];
  // Pulumi talks to the operator directly (its own progress and confirmation prompt).
  const result = await run(args, ctx.out.json ? 'pipe' : 'inherit');
  const ok = result.exitCode === 0;
  ctx.out.result(
    ok ? `pulumi ${args[0]} finished for ${siteName}.` : `pulumi ${args[0]} failed for ${siteName}.`,
    {
      ok,
      site: siteName,
      stack,
      backend,
      exitCode: result.exitCode ?? null,
      project: projectDir,
    },
  );
  return ok ? 0 : 1;
}
