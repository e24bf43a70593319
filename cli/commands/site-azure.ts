import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { AzureDemoSynthesis, PolicyReport, TerraformRunner } from '../../stacks/index.js';
import {
  askToConfirm,
  confirmationNeeded,
  confirmDestructive,
  confirmOptions,
  siteConfirmation,
} from '../confirm.js';
import type { CommandContext } from '../context.js';
import { table } from '../output.js';
import type { Registrar } from '../registrar.js';

/**
 * `tier4 site synth|plan|apply|destroy`: the Azure demo site's infrastructure as a CDK for Terraform
 * stack. The library is stacks/azure-demo/; cdktf and the provider bindings load only inside the actions.
 */

interface OutOption {
  out?: string;
}

const PLAN_FILE = 'tier4.tfplan';

export function registerAzureSiteCommands(site: Command, registrar: Registrar): void {
  site
    .command('synth')
    .description('write the Azure demo stack as Terraform JSON and run the policy checks (no cloud access)')
    .argument('[site]', 'a site with platform: azure (default: the only one)')
    .option('--out <dir>', 'output folder (default: cdktf.out/ beside the configuration file)')
    .action(
      registrar.action(async (ctx, siteArg: string | undefined, options: OutOption) => {
        const result = await synth(ctx, siteArg, options);
        ctx.out.result(
          () =>
            [
              `Wrote ${result.file}: ${result.resourceCount} resources.`,
              renderPolicy(result.policy),
              result.policy.failed > 0
                ? 'Fix the settings named above, or record an exception in azure.policyExceptions.'
                : `Next: tier4 site plan ${result.model.site}`,
            ].join('\n\n'),
          synthJson(result),
        );
        return result.policy.failed > 0 ? 1 : 0;
      }),
    );

  site
    .command('plan')
    .description('synthesize, then show what terraform (or tofu) would change on Azure')
    .argument('[site]', 'a site with platform: azure (default: the only one)')
    .option('--out <dir>', 'output folder (default: cdktf.out/ beside the configuration file)')
    .action(
      registrar.action(async (ctx, siteArg: string | undefined, options: OutOption) => {
        const prepared = await prepare(ctx, siteArg, options);
        if (!prepared) return 1;
        const { result, terraform } = prepared;
        await terraform.init();
        const changes = await terraform.plan(PLAN_FILE);
        ctx.out.result(
          changes
            ? `The plan for ${result.model.site} has changes. Apply them with: tier4 site apply ${result.model.site}`
            : `${result.model.site} is up to date: nothing to change.`,
          {
            ok: true,
            site: result.model.site,
            changes,
            stackDir: result.stackDir,
            terraform: terraform.binary.name,
          },
        );
      }),
    );

  confirmOptions(site.command('apply'))
    .description('synthesize, plan, confirm, then apply the plan with terraform (or tofu)')
    .argument('[site]', 'a site with platform: azure (default: the only one)')
    .option('--out <dir>', 'output folder (default: cdktf.out/ beside the configuration file)')
    .action(
      registrar.action(
        async (
          ctx,
          siteArg: string | undefined,
          options: OutOption & { yes?: boolean; confirm?: string },
        ) => {
          const siteName = azureSiteName(ctx, siteArg);
          const request = siteConfirmation(
            ctx,
            'apply',
            siteName,
            `This changes the Azure resources of the ${siteName} site as the plan shows`,
            options,
          );
          // The flags are checked before anything runs; the question comes after the plan is shown.
          const mode = confirmationNeeded(ctx, request);
          const prepared = await prepare(ctx, siteName, options);
          if (!prepared) return 1;
          const { result, terraform } = prepared;
          const site = result.model.site;
          await terraform.init();
          const changes = await terraform.plan(PLAN_FILE);
          if (changes) {
            if (mode === 'ask') await askToConfirm(ctx, request);
            await terraform.apply(PLAN_FILE);
          }
          const outputs = await terraform.outputs();
          const { settingsToRecord } = await import('../../stacks/index.js');
          const toRecord = settingsToRecord(result.model.azure, outputs);
          ctx.out.result(
            () =>
              [
                changes ? `Applied the plan to ${site}.` : `${site} was already up to date.`,
                '',
                table(
                  ['output', 'value'],
                  Object.entries(outputs).map(([name, value]) => [
                    name,
                    typeof value === 'string' ? value : JSON.stringify(value),
                  ]),
                ),
                '',
                ...(toRecord.length > 0
                  ? [
                      `Record these in tier4.yaml under sites.${site} (site render and deploy read them; none is secret):`,
                      ...toRecord.map((line) => `  ${line}`),
                      '',
                    ]
                  : []),
                `Next: deploy Primero onto the cluster with tier4 site deploy ${site}`,
              ].join('\n'),
            { ok: true, site, applied: changes, outputs, toRecord },
          );
        },
      ),
    );

  confirmOptions(site.command('destroy'))
    .description('delete every Azure resource of the demo site (asks for the site name first)')
    .argument('[site]', 'a site with platform: azure (default: the only one)')
    .option('--out <dir>', 'output folder (default: cdktf.out/ beside the configuration file)')
    .action(
      registrar.action(
        async (
          ctx,
          siteArg: string | undefined,
          options: OutOption & { yes?: boolean; confirm?: string },
        ) => {
          const siteName = azureSiteName(ctx, siteArg);
          // One rule for every destructive command (cli/confirm.ts): --yes never falls back to a prompt.
          await confirmDestructive(
            ctx,
            siteConfirmation(
              ctx,
              'destroy',
              siteName,
              `This deletes the ${siteName} site on Azure: cluster, database and its backups, storage with every attachment and backup, Key Vault and its secrets`,
              options,
            ),
          );
          const prepared = await prepare(ctx, siteName, options, 'report-policy');
          if (!prepared) return 1;
          const { result, terraform } = prepared;
          await terraform.init();
          const changes = await terraform.plan(PLAN_FILE, { destroy: true });
          if (changes) await terraform.apply(PLAN_FILE);
          const keyVault = result.model.azure.keyVault;
          if (keyVault.purgeProtection) {
            ctx.out.warn(
              `Key Vault ${result.model.names.keyVault} stays soft-deleted with purge protection for ${keyVault.softDeleteRetentionDays} days: its name cannot be reused until then.`,
            );
          }
          ctx.out.result(
            changes ? `Destroyed the ${siteName} site.` : `${siteName} had nothing left to destroy.`,
            { ok: true, site: siteName, destroyed: changes },
          );
        },
      ),
    );
}

/** The Azure site to act on: the one named, or the only site with platform: azure (getSite's rule). */
function azureSiteName(ctx: CommandContext, name: string | undefined): string {
  return ctx.site(name, 'azure', true).name;
}

async function synth(
  ctx: CommandContext,
  siteArg: string | undefined,
  options: OutOption,
): Promise<AzureDemoSynthesis> {
  const loaded = ctx.config();
  const siteName = azureSiteName(ctx, siteArg);
  const { defaultOutDir, synthesizeAzureDemo } = await (
    await import('../../stacks/index.js')
  ).loadAzureDemoSynth();
  const outDir = options.out ? resolve(ctx.io.cwd, options.out) : defaultOutDir(loaded);
  ctx.out.progress(`Synthesizing ${siteName}…`);
  return synthesizeAzureDemo(loaded, siteName, outDir);
}

/**
 * Finds terraform first (so a missing one fails before anything is written), synthesizes, and stops
 * when a policy check fails: nothing goes to Azure that the checks reject (destroy only reports them).
 * Undefined means "stop, exit 1".
 */
async function prepare(
  ctx: CommandContext,
  siteArg: string | undefined,
  options: OutOption,
  gate: 'enforce-policy' | 'report-policy' = 'enforce-policy',
): Promise<{ result: AzureDemoSynthesis; terraform: TerraformRunner } | undefined> {
  const { findTerraform, TerraformRunner } = await (await import('../../stacks/index.js')).loadTerraform();
  const binary = findTerraform(ctx.io.env);
  const result = await synth(ctx, siteArg, options);
  if (result.policy.failed > 0 && gate === 'report-policy') {
    // Taking a site down must never be blocked by the checks that guard building it.
    ctx.out.warn(renderPolicy(result.policy));
  } else if (result.policy.failed > 0) {
    ctx.out.error(
      renderPolicy(result.policy),
      'Fix the settings named above, or record an exception in azure.policyExceptions.',
    );
    ctx.out.result('', { ok: false, site: result.model.site, policy: result.policy });
    return undefined;
  }
  ctx.out.info(
    `Synthesized ${result.resourceCount} resources into ${result.stackDir}; running ${binary.name}.`,
  );
  const terraform = new TerraformRunner(binary, {
    cwd: result.stackDir,
    env: ctx.io.env,
    signal: ctx.signal,
    color: ctx.out.options.color,
    onLine: (line) => ctx.out.info(line),
  });
  return { result, terraform };
}

function renderPolicy(policy: PolicyReport): string {
  const lines = [
    `Policy checks: ${policy.passed} passed, ${policy.failed} failed${policy.waived ? `, ${policy.waived} waived` : ''}.`,
  ];
  for (const outcome of policy.outcomes) {
    if (outcome.status === 'ok') continue;
    lines.push(`  ${outcome.status === 'fail' ? 'FAIL' : 'WAIVED'} ${outcome.rule}: ${outcome.title}`);
    for (const finding of outcome.findings) lines.push(`    ${finding.object}: ${finding.message}`);
    if (outcome.reason) lines.push(`    reason: ${outcome.reason}`);
  }
  return lines.join('\n');
}

function synthJson(result: AzureDemoSynthesis) {
  return {
    ok: result.policy.failed === 0,
    site: result.model.site,
    outDir: result.outDir,
    stackDir: result.stackDir,
    file: result.file,
    resourceCount: result.resourceCount,
    resourceTypes: result.resourceTypes,
    policy: result.policy,
  };
}
