import { constants, copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { LoadedConfig } from '../../core/config/load.js';
import { summarizeConfig } from '../../core/config/summary.js';
import { OperationError, UsageError } from '../../core/errors.js';
import { packageRoot } from '../../core/package-info.js';
import { table } from '../output.js';
import type { Registrar } from '../registrar.js';

export function registerConfig(program: Command, registrar: Registrar): void {
  const config = program
    .command('config')
    .description('Validate, inspect and create the site configuration (tier4.yaml)');

  config
    .command('validate')
    .description(
      'check tier4.yaml; exit 0 when valid, 2 naming each bad field, 1 when backups would be unusable (placeholder recipients)',
    )
    .action(
      registrar.action(async (ctx) => {
        const loaded = ctx.config();
        // The checks `tier4 site render` runs, so a config that validates also renders.
        const { kubernetesSiteProblems } = await import('../../stacks/index.js');
        const problems = await kubernetesSiteProblems(loaded);
        if (problems.length > 0) {
          throw new UsageError(
            `${loaded.path} is not valid for Kubernetes (the checks of \`tier4 site render\`):\n  ${problems.join('\n  ')}`,
            'Fix each setting named; run `tier4 site render <site>` to see the manifests.',
          );
        }
        const secrets = await messageSecretChecks(loaded, ctx.io.env);
        const failed = secrets.filter((check) => check.status === 'fail');
        if (failed.length > 0) {
          throw new UsageError(
            failed.map((check) => `sites.${check.site}.primero.messageSecret: ${check.message}`).join('\n'),
            'Put a 32-byte value in the Secret Primero reads (its key PRIMERO_MESSAGE_SECRET) and where tier4.yaml references it.',
          );
        }
        const notes = secrets.map((check) => `sites.${check.site}.primero.messageSecret: ${check.message}`);
        // Placeholder recipients, or an identity matching none: backups would be unreadable or readable by
        // the wrong people. The same check as backup create and doctor (recipientProblem).
        const { recipientProblem } = await import('../../core/config/recipients.js');
        const recipientProblems: string[] = [];
        for (const [name, site] of Object.entries(loaded.config.sites)) {
          const problem = site.backups ? await recipientProblem(name, site.backups, ctx.io.env) : undefined;
          if (problem) recipientProblems.push(problem);
        }
        if (recipientProblems.length > 0) {
          throw new OperationError(
            `${loaded.path} would take backups no one should restore:\n  ${recipientProblems.join('\n  ')}`,
            'Create your own key pair with `tier4 backup keygen --out backup-identity.txt`, put the recipient it prints in backups.encryption.recipients, and keep the identity offline.',
          );
        }
        // -q: the exit code is the answer; errors still print.
        const quiet = ctx.out.options.quiet;
        const human = () =>
          quiet ? '' : [`${loaded.path} is valid.`, ...notes, '', renderSummary(loaded)].join('\n');
        ctx.out.result(human, {
          ok: true,
          file: loaded.path,
          ...summarizeConfig(loaded.config),
          messageSecrets: secrets,
        });
      }),
    );

  config
    .command('show')
    .description('print the configuration with every default filled in')
    .action(
      registrar.action(async (ctx) => {
        const loaded = ctx.config();
        const { stringify } = await import('yaml');
        const { configDocument } = await import('../../core/config/show.js');
        const document = configDocument(loaded.config);
        ctx.out.result(() => stringify(document), document);
      }),
    );

  config
    .command('schema')
    .description('print the JSON Schema of tier4.yaml (for editors: # yaml-language-server: $schema=…)')
    .option('--out <file>', 'write it to this file instead of stdout')
    .action(
      registrar.action(async (ctx, options: { out?: string }) => {
        const { configJsonSchema } = await import('../../core/config/json-schema.js');
        const text = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
        if (!options.out) {
          ctx.io.stdout.write(text);
          return;
        }
        const target = resolve(ctx.io.cwd, options.out);
        const { writeFile } = await import('node:fs/promises');
        await writeFile(target, text);
        ctx.out.result(`Wrote ${target}.`, { ok: true, file: target });
      }),
    );

  config
    .command('init')
    .description('write a commented starting tier4.yaml for a new deployment')
    .option('--out <file>', 'where to write it (default: the -c path, or ./tier4.yaml)')
    .option('--force', 'overwrite an existing file')
    .action(
      registrar.action(async (ctx, options: { out?: string; force?: boolean }) => {
        const target = options.out ? resolve(ctx.io.cwd, options.out) : ctx.configPath;
        if (existsSync(target) && !options.force) {
          throw new UsageError(
            `${target} already exists; nothing was written.`,
            'Pass --force to overwrite it.',
          );
        }
        copyFileSync(
          join(packageRoot(), 'examples', 'tier4.example.yaml'),
          target,
          options.force ? 0 : constants.COPYFILE_EXCL,
        );
        // The example's first line points editors at ./tier4.schema.json: write it beside the file.
        const { configJsonSchema } = await import('../../core/config/json-schema.js');
        const schemaFile = join(dirname(target), 'tier4.schema.json');
        writeFileSync(schemaFile, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
        ctx.out.result(
          `Wrote ${target} and ${schemaFile} (for editors). Edit the site names, URLs and secret references, replace the placeholder backup recipients with your own (\`tier4 backup keygen --out FILE\`), then run \`tier4 config validate\`.`,
          { ok: true, file: target, schema: schemaFile },
        );
      }),
    );
}

/** The message-secret length check of each site that references its secret (core/primero/message-secret.ts). */
async function messageSecretChecks(loaded: LoadedConfig, env: NodeJS.ProcessEnv) {
  // Imported here: it reaches the secrets module (zod), which --help and --version must not load.
  const { checkMessageSecret } = await import('../../core/primero/message-secret.js');
  return Object.entries(loaded.config.sites)
    .filter(([, site]) => site.primero.messageSecret !== undefined)
    .map(([name, site]) => ({ site: name, ...checkMessageSecret(site, env) }));
}

function renderSummary(loaded: LoadedConfig): string {
  const summary = summarizeConfig(loaded.config);
  const rows = summary.sites.map((site) => [
    site.name,
    site.role,
    site.platform,
    `${site.primeroUrl} (${site.primeroVersion})`,
    site.database,
    site.attachments,
    site.backups ?? '(none)',
  ]);
  const lines = [
    `Deployment ${summary.deployment}: ${summary.sites.length} site(s).`,
    '',
    table(['site', 'role', 'platform', 'primero', 'database', 'attachments', 'backups'], rows),
  ];
  if (summary.promotion)
    lines.push('', `Configuration is promoted from ${summary.promotion.from} to ${summary.promotion.to}.`);
  return lines.join('\n');
}
