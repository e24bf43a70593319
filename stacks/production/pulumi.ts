import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { kubernetesSettings } from '../../charts/index.js';
import { getSite, type LoadedConfig } from '../../core/config/load.js';
import { OperationError, UsageError } from '../../core/errors.js';
import { loadKubeConfig } from '../../core/kubernetes/index.js';
import { packageRoot } from '../../core/package-info.js';
import { checkPlan, planLoadedSite } from './render.js';

/**
 * The `pulumi` CLI driver for Kubernetes sites (the Pulumi program is index.ts beside it), as
 * stacks/azure-demo/terraform.ts drives terraform for the demo stack. It knows nothing of the terminal:
 * the command decides where the output goes and whether to confirm.
 */

export const PULUMI_INSTALL =
  'Install the Pulumi CLI (https://www.pulumi.com/docs/install/, e.g. `curl -fsSL https://get.pulumi.com | sh`), or use `tier4 site render` and apply the YAML with kubectl.';

export interface PulumiSiteOptions {
  /** Run primero-bootstrap (migrate and seed) instead of primero-migrate. */
  firstInstall?: boolean;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** 'inherit': pulumi talks to the operator directly; 'pipe': its output is kept out of ours (--json). */
export type PulumiOutput = 'inherit' | 'pipe';

/** One site's Pulumi stack, checked and ready: select it, then preview or update it. */
export class PulumiSite {
  constructor(
    readonly site: string,
    readonly stack: string,
    /** Where Pulumi keeps the stack's state (a file:// folder beside tier4.yaml by default). */
    readonly backend: string,
    readonly projectDir: string,
    /** How many Kubernetes objects the program creates. */
    readonly objects: number,
    /** What the operator should know about this plan (from the chart). */
    readonly notes: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly signal: AbortSignal | undefined,
  ) {}

  private run(args: string[], output: PulumiOutput) {
    return execa('pulumi', args, {
      cwd: this.projectDir,
      env: this.env,
      reject: false,
      stdio: output,
      ...(this.signal ? { cancelSignal: this.signal } : {}),
    });
  }

  /** Selects the stack, creating it the first time. */
  async select(): Promise<void> {
    const select = await this.run(
      ['stack', 'select', '--create', this.stack, '--cwd', this.projectDir],
      'pipe',
    );
    if (select.exitCode !== 0) {
      throw new OperationError(
        `pulumi could not select or create the stack ${this.stack}.`,
        String(select.stderr).trim(),
      );
    }
  }

  /** `pulumi preview --diff`; its exit code. */
  async preview(output: PulumiOutput): Promise<number> {
    return (await this.run(['preview', '--stack', this.stack, '--diff'], output)).exitCode ?? 1;
  }

  /** `pulumi up` without Pulumi's own prompt: the caller has confirmed already. Its exit code. */
  async up(output: PulumiOutput): Promise<number> {
    return (await this.run(['up', '--stack', this.stack, '--yes', '--skip-preview'], output)).exitCode ?? 1;
  }
}

/**
 * Checks everything before touching the cluster (the manifests pass the same checks as `site render`,
 * pulumi runs, the state passphrase is set, a kubeconfig reaches the site's context), and returns the
 * site's stack. Every refusal is a UsageError saying what to do; nothing has run against the cluster.
 */
export async function preparePulumiSite(
  loaded: LoadedConfig,
  siteName: string,
  options: PulumiSiteOptions,
): Promise<PulumiSite> {
  const k = kubernetesSettings(getSite(loaded.config, siteName).site);
  const plan = planLoadedSite(loaded, siteName, { firstInstall: options.firstInstall });
  const findings = await checkPlan(plan);
  if (findings.length > 0) {
    throw new UsageError(
      `The manifests for ${siteName} break ${findings.length} policy rule(s); nothing was sent to the cluster.`,
      `Run \`tier4 site render ${siteName}\` to see them.`,
    );
  }

  const env = { ...options.env };
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
  await loadKubeConfig({ context: k.context }, { env });

  // Local file backend beside tier4.yaml by default: no SaaS account, state stays with the partner.
  const backend = k.pulumiBackend.startsWith('file://./')
    ? `file://${join(loaded.baseDir, k.pulumiBackend.slice('file://./'.length))}`
    : k.pulumiBackend;
  if (backend.startsWith('file://')) await mkdir(backend.slice('file://'.length), { recursive: true });
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
  return new PulumiSite(
    siteName,
    stack,
    backend,
    projectDir,
    plan.manifests.length,
    plan.notes,
    pulumiEnv,
    options.signal,
  );
}
