import { homedir } from 'node:os';
import { delimiter, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CertificateEntry, SiteCertificateReport } from '../../certs/index.js';
import { UsageError } from '../../core/errors.js';
import type { CommandContext } from '../context.js';
import type { Output } from '../output.js';
import type { Registrar } from '../registrar.js';

/** The certificate library (and the X.509 and Kubernetes packages behind it) loads only when a command runs. */

function kubeconfigOf(ctx: CommandContext): string | undefined {
  return ctx.io.env.KUBECONFIG?.split(delimiter).find(Boolean);
}

function keyTypeOf(value: string | undefined): 'rsa' | 'ec' {
  if (value === undefined || value === 'rsa' || value === 'ec') return value ?? 'rsa';
  throw new UsageError(`--key-type must be rsa or ec, not "${value}".`);
}

const MARK = { ok: 'OK', warn: 'WARN', fail: 'FAIL' } as const;

function renderEntry(out: Output, item: CertificateEntry): string {
  const mark = out.style(
    MARK[item.status],
    item.status === 'ok' ? 'green' : item.status === 'warn' ? 'yellow' : 'red',
  );
  const head = `${mark}  ${item.certificate}, ${item.where} (${item.location})`;
  const lines = [head];
  const info = item.info;
  if (info) {
    const chain = info.chain.trusted
      ? `complete, trusted (${info.chainLength} presented, anchored by ${info.chain.anchor})`
      : `${info.chain.complete ? 'complete but not trusted' : 'does not reach a trusted CA'}: ${info.chain.problem}`;
    const rows: Array<[string, string]> = [
      ['subject', info.subject],
      ['names', info.sans.join(', ') || '(none)'],
      ['issuer', info.issuer],
      ['serial', info.serial],
      ['not after', `${info.notAfter} (${info.daysLeft} days left)`],
      ['SHA-1', info.sha1],
      ['SHA-256', info.sha256],
      ['chain', chain],
      [
        'key',
        `${info.keyType}${info.keySize && !info.keyType.includes(String(info.keySize)) ? ` ${info.keySize}` : ''}`,
      ],
    ];
    for (const [label, value] of rows) lines.push(`    ${label.padEnd(10)} ${value}`);
  }
  for (const finding of item.findings)
    lines.push(`    ${finding.level === 'fail' ? 'fail:' : 'warn:'} ${finding.message}`);
  return lines.join('\n');
}

function renderReport(out: Output, report: SiteCertificateReport): string {
  const lines = [
    `Site ${report.site}: ${report.host}:${report.port} (warn under ${report.warnDays} days, fail under ${report.failDays})`,
  ];
  for (const item of report.entries) lines.push(renderEntry(out, item));
  if (report.certManager) {
    const cm = report.certManager;
    lines.push(
      `cert-manager Certificate ${cm.name}: ${cm.ready ? 'Ready' : `not Ready (${cm.reason ?? '?'})`}, revision ${cm.revision}${cm.renewalTime ? `, renews at ${cm.renewalTime}` : ''}`,
    );
  }
  for (const note of report.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}

export function registerCerts(program: Command, registrar: Registrar): void {
  const certs = program
    .command('certs')
    .description('Certificate expiry, CSRs, rotation without downtime, and client certificates');

  certs
    .command('status')
    .description('show every certificate of a site as served and as stored; exit 1 on any failure')
    .option('-s, --site <name>', 'one site (default: every site)')
    .action(
      registrar.action(async (ctx, options: { site?: string }) => {
        const loaded = ctx.config();
        const names = options.site ? [options.site] : Object.keys(loaded.config.sites);
        const { certificateStatus } = await import('../../certs/index.js');
        const { getSite } = await import('../../core/config/load.js');
        for (const name of names) getSite(loaded.config, name); // a wrong --site is a usage error before any network call
        const reports: SiteCertificateReport[] = [];
        for (const name of names) {
          ctx.out.progress(`Checking the certificates of ${name}…`);
          reports.push(
            await certificateStatus(loaded, name, { signal: ctx.signal, kubeconfig: kubeconfigOf(ctx) }),
          );
        }
        const failed = reports.some((report) => report.status === 'fail');
        ctx.out.result(() => reports.map((report) => renderReport(ctx.out, report)).join('\n\n'), {
          ok: !failed,
          sites: reports,
        });
        return failed ? 1 : 0;
      }),
    );

  certs
    .command('csr')
    .description(
      "generate a private key (mode 0600, never printed; in ~/.tier4/keys unless --out-dir) and a CSR for the site's names",
    )
    .option('-s, --site <name>', 'the site (default: the only one)')
    .option('--out-dir <dir>', 'folder for <host>.key and <host>.csr (default: ~/.tier4/keys, made 0700)')
    .option('--key-type <type>', 'rsa (2048, accepted by every CA) or ec (P-256)', 'rsa')
    .option('--organization <name>', 'O= in the subject, if your CA wants it')
    .option('--country <code>', 'C= in the subject (two letters)')
    .action(
      registrar.action(
        async (
          ctx,
          options: {
            site?: string;
            outDir?: string;
            keyType?: string;
            organization?: string;
            country?: string;
          },
        ) => {
          const keyType = keyTypeOf(options.keyType);
          const { name, loaded } = ctx.site(options.site, 'tls');
          const { createSiteCsr, defaultKeyFolder } = await import('../../certs/index.js');
          const result = await createSiteCsr(loaded, name, {
            outDir: options.outDir
              ? resolve(ctx.io.cwd, options.outDir)
              : defaultKeyFolder(ctx.io.env, homedir()),
            keyType,
            ...(options.organization ? { organization: options.organization } : {}),
            ...(options.country ? { country: options.country } : {}),
          });
          ctx.out.info(`Private key written to ${result.keyFile} (mode 0600). Keep it there; never send it.`);
          ctx.out.info(
            `Send ${result.csrFile} to your CA, then install what it returns with \`tier4 certs rotate --site ${name}\`.`,
          );
          ctx.out.result(result.csrPem, {
            ok: true,
            site: result.site,
            names: result.names,
            keyType: result.keyType,
            keyFile: result.keyFile,
            csrFile: result.csrFile,
            csr: result.csrPem,
          });
        },
      ),
    );

  certs
    .command('rotate')
    .description(
      'install a new certificate: validate, keep the old pair, swap atomically, reload, prove it is served, roll back if not',
    )
    .option('-s, --site <name>', 'the site (default: the only one)')
    .option('--cert <file>', 'the new certificate, full chain, leaf first (PEM)')
    .option('--key <file>', 'its private key (PEM, unencrypted)')
    .option(
      '--dry-run',
      'validate the pair and check the server side (tls.source.testCommand), say what would change; write and reload nothing',
    )
    .action(
      registrar.action(
        async (ctx, options: { site?: string; cert?: string; key?: string; dryRun?: boolean }) => {
          if ((options.cert === undefined) !== (options.key === undefined)) {
            throw new UsageError('Pass both --cert and --key, or neither (cert-manager sites).');
          }
          const { name, loaded, site } = ctx.site(options.site, 'tls');
          const rotate = await import('../../certs/index.js');
          const common = {
            signal: ctx.signal,
            kubeconfig: kubeconfigOf(ctx),
            onProgress: (text: string) => ctx.out.info(text),
          };
          if (options.cert === undefined || options.key === undefined) {
            if (site.tls?.source?.type !== 'cert-manager') {
              throw new UsageError(
                `Pass --cert FILE and --key FILE: the certificate of ${name} is not issued by cert-manager.`,
              );
            }
            if (options.dryRun) {
              const plan = await rotate.planManagedRenewal(loaded, name, common);
              const cm = plan.certificate;
              ctx.out.result(
                [
                  `Dry run: nothing was changed. A rotation of ${name} would:`,
                  `  1. ask cert-manager to issue Certificate ${cm.name} again (now revision ${cm.revision}, ${cm.ready ? 'Ready' : `not Ready: ${cm.reason ?? '?'}`}${cm.notAfter ? `, expires ${cm.notAfter}` : ''})`,
                  `  2. reload the server by ${plan.reload}`,
                  `  3. check that ${plan.verifyAt} serves the new certificate`,
                ].join('\n'),
                { ok: true, ...plan },
              );
              return 0;
            }
            const result = await rotate.renewManagedCertificate(loaded, name, common);
            ctx.out.result(
              `cert-manager issued a new certificate for ${name} (revision ${result.certificate.revision}); it is being served (SHA-256 ${result.servedSha256}).`,
              { ok: true, ...result },
            );
            return 0;
          }
          const files = { cert: resolve(ctx.io.cwd, options.cert), key: resolve(ctx.io.cwd, options.key) };
          if (options.dryRun) {
            const plan = await rotate.rotateCertificate(loaded, name, files, { ...common, dryRun: true });
            ctx.out.result(
              [
                `Dry run: the new certificate for ${name} passed every check; nothing was changed. A rotation would:`,
                `  1. keep the current pair${plan.current ? ` (SHA-256 ${plan.current.sha256}, expires ${plan.current.notAfter})` : ''} in ${plan.saveTo}`,
                `  2. install the new one into ${plan.installTo}`,
                `       SHA-256  ${plan.new.sha256}`,
                `       names    ${plan.new.sans.join(', ')}`,
                `       expires  ${plan.new.notAfter} (${plan.new.daysLeft} days)`,
                `  3. ${plan.configTest ? `test the configuration (\`${plan.configTest}\`; it passes now), then ` : ''}reload by ${plan.reload}`,
                `  4. check that ${plan.verifyAt} serves it, and roll back if not`,
              ].join('\n'),
              { ok: true, ...plan },
            );
            return 0;
          }
          const result = await rotate.rotateCertificate(loaded, name, files, common);
          ctx.out.result(
            [
              `The new certificate for ${name} is installed in ${result.installedTo} and served.`,
              `  SHA-1    ${result.installed.sha1}`,
              `  SHA-256  ${result.installed.sha256}`,
              `  expires  ${result.installed.notAfter} (${result.installed.daysLeft} days)`,
              `The previous pair is kept at ${result.previousSavedAt}.`,
            ].join('\n'),
            { ok: true, ...result },
          );
          return 0;
        },
      ),
    );

  const client = certs.command('client').description('client certificates, e.g. for UNHCR proGres v4/DTP');
  client
    .command('create')
    .description('a client key with a CSR (or a self-signed certificate); prints the SHA-1 thumbprint')
    .requiredOption('-n, --name <name>', 'the client name (CN), e.g. progres-dtp')
    .option('-s, --site <name>', 'the site (default: the only one)')
    .option('--self-signed', 'issue a self-signed certificate instead of a CSR for your CA')
    .option('--days <n>', 'validity of a self-signed certificate (default tls.clients.validDays, 365)')
    .option('--out-dir <dir>', 'store as files here instead of tls.clients.store')
    .option('--key-type <type>', 'rsa or ec', 'rsa')
    .action(
      registrar.action(
        async (
          ctx,
          options: {
            name: string;
            site?: string;
            selfSigned?: boolean;
            days?: string;
            outDir?: string;
            keyType?: string;
          },
        ) => {
          const keyType = keyTypeOf(options.keyType);
          const days = options.days === undefined ? undefined : Number(options.days);
          if (days !== undefined && !Number.isInteger(days))
            throw new UsageError('--days must be a whole number.');
          const { name, loaded } = ctx.site(options.site, 'tls');
          const { createClientCertificate } = await import('../../certs/index.js');
          const result = await createClientCertificate(loaded, name, {
            name: options.name,
            selfSigned: options.selfSigned === true,
            outDir: options.outDir === undefined ? undefined : resolve(ctx.io.cwd, options.outDir),
            days,
            keyType,
            kubeconfig: kubeconfigOf(ctx),
          });
          ctx.out.info(`Client key stored in ${result.keyLocation}.`);
          const human = result.sha1
            ? [
                `Self-signed client certificate "${result.name}" stored in ${result.storedIn}, valid until ${result.notAfter}.`,
                `SHA-1 thumbprint (give this to the partner system):`,
                `  ${result.sha1}`,
                `  ${result.sha1Hex}`,
              ].join('\n')
            : `CSR for client "${result.name}" stored in ${result.storedIn}; have your CA sign it:\n${result.csrPem}`;
          ctx.out.result(human, { ok: true, ...result });
        },
      ),
    );

  client
    .command('install')
    .description("store the certificate your CA issued for a client's CSR, and print its SHA-1 thumbprint")
    .requiredOption('-n, --name <name>', 'the client name given to `client create`')
    .requiredOption('--cert <file>', 'the certificate the CA returned (PEM)')
    .option('-s, --site <name>', 'the site (default: the only one)')
    .option('--out-dir <dir>', 'the folder `client create --out-dir` used, instead of tls.clients.store')
    .action(
      registrar.action(
        async (ctx, options: { name: string; cert: string; site?: string; outDir?: string }) => {
          const { name, loaded } = ctx.site(options.site, 'tls');
          const { installClientCertificate } = await import('../../certs/index.js');
          const result = await installClientCertificate(loaded, name, {
            name: options.name,
            certFile: resolve(ctx.io.cwd, options.cert),
            outDir: options.outDir === undefined ? undefined : resolve(ctx.io.cwd, options.outDir),
            kubeconfig: kubeconfigOf(ctx),
          });
          ctx.out.result(
            [
              `Client certificate "${result.name}" (issued by ${result.issuer}, valid until ${result.notAfter}) stored in ${result.storedIn}.`,
              'SHA-1 thumbprint (give this to the partner system):',
              `  ${result.sha1}`,
              `  ${result.sha1Hex}`,
            ].join('\n'),
            { ok: true, ...result },
          );
        },
      ),
    );
}
