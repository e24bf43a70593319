import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/config/load.js';
import { summarizeConfig } from '../core/config/summary.js';
import { OperationError } from '../core/errors.js';
import { packageRoot } from '../core/package-info.js';
import { connectDatabase } from '../core/postgres/connection.js';
import { diskBlobPath } from '../core/primero/tables.js';
import { writeLocalSite } from './local-site.js';
import { startPostgres } from './postgres-server.js';
import { buildPrimeroDatabase } from './primero-db.js';

/**
 * The local rehearsal: the main job of tier4 on embedded defaults, with no cloud account. A throwaway
 * PostgreSQL 15 plays the production site; its Primero-shaped data is backed up into a file:// repository,
 * verified, restored into a fresh database and compared, drilled and examined by the doctor; the example
 * deployment's demo stack is synthesized and both sites' Kubernetes manifests are rendered and checked.
 */
export interface RehearsalStep {
  step: string;
  ok: boolean;
  seconds: number;
  detail: string;
}

export interface RehearsalOptions {
  /** Keep the work folder (and print where it is). */
  keep?: boolean;
  dir?: string;
  signal?: AbortSignal;
  onStep?: (step: RehearsalStep) => void;
}

export interface RehearsalResult {
  ok: boolean;
  workDir: string | null;
  steps: RehearsalStep[];
  deployment: ReturnType<typeof summarizeConfig>;
}

export async function rehearse(options: RehearsalOptions = {}): Promise<RehearsalResult> {
  const steps: RehearsalStep[] = [];
  const workDir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tier4-rehearsal-')));
  const step = async (name: string, work: () => Promise<string>) => {
    options.signal?.throwIfAborted();
    const started = Date.now();
    const detail = await work();
    const record = { step: name, ok: true, seconds: (Date.now() - started) / 1000, detail };
    steps.push(record);
    options.onStep?.(record);
  };

  const example = loadConfig(join(packageRoot(), 'examples', 'tier4.example.yaml'));
  const deployment = summarizeConfig(example.config);
  await step(
    'validate the example configuration',
    async () =>
      `${deployment.sites.length} sites: ${deployment.sites.map((s) => `${s.name} (${s.role}, ${s.platform})`).join(', ')}`,
  );

  let server: Awaited<ReturnType<typeof startPostgres>> | undefined;
  try {
    await step('start a throwaway PostgreSQL 15', async () => {
      server = await startPostgres({
        password: createHash('sha256').update(`${Date.now()}${Math.random()}`).digest('hex'),
      });
      return `127.0.0.1:${server.port}`;
    });
    const blobRoot = join(workDir, 'storage');
    let built!: Awaited<ReturnType<typeof buildPrimeroDatabase>>;
    await step('build a Primero-shaped production database', async () => {
      built = await buildPrimeroDatabase({
        connection: server!,
        database: 'primero_production',
        cases: 500,
        attachments: { root: blobRoot, count: 40 },
      });
      return `${built.counts.cases} cases, ${built.counts.active_storage_blobs} attachments`;
    });
    const site = await writeLocalSite({
      dir: workDir,
      server: server!,
      database: 'primero_production',
      blobRoot,
      repository: { kind: 'file', path: join(workDir, 'repository') },
      init: false,
    });
    const backups = await import('../backups/index.js');
    const loaded = loadConfig(site.configPath);
    const repo = await backups.openSiteRepository(loaded, site.site, site.env);
    try {
      await step('initialise the repository (tier4 backup init)', async () => {
        const { initRepository } = await import('../backups/index.js');
        const catalog = await backups.readCatalog(repo.store, repo.site, repo.macKeys, repo.state);
        const { outcome, marker } = await initRepository(repo, catalog);
        return `${repo.store.location}: ${outcome}, repository ${marker.repository}`;
      });
      let setId = '';
      await step('back up into a file:// repository (encrypted with age)', async () => {
        const { manifest } = await backups.createBackup(repo, backups.siteDatabase(repo), {
          ...(options.signal ? { signal: options.signal } : {}),
        });
        setId = manifest.id;
        return `set ${manifest.id}: ${manifest.database.size} bytes of database, ${manifest.attachments.count} attachments`;
      });
      const identities = backups.siteIdentities(repo);
      await step('verify the set deeply (decrypt, read the dump)', async () => {
        const report = await backups.verifySet(repo, setId, { deep: true, identities });
        if (!report.ok) throw new OperationError(`verification failed: ${report.failures[0]?.object}`);
        return `${report.objects} objects, ${report.toc?.tableData} tables in the dump`;
      });
      await step('restore into a fresh database and compare', async () => {
        const target = { url: server!.url('primero_restored'), password: server!.password };
        const restoredBlobs = join(workDir, 'restored-storage');
        const plan = await backups.planRestore(repo, setId, target, identities);
        const to = await backups.openBlobTarget(restoredBlobs, repo.siteConfig.attachments);
        await backups.runRestore(repo, plan, { identities, attachmentsTo: to });
        const client = await connectDatabase(target);
        try {
          for (const [table, expected] of Object.entries(plan.manifest.database.rowCounts)) {
            const { rows } = await client.query(`SELECT count(*)::int AS n FROM public."${table}"`);
            if (rows[0].n !== expected)
              throw new OperationError(`${table}: ${rows[0].n} rows restored, ${expected} backed up`);
          }
        } finally {
          await client.end();
        }
        for (const blob of built.blobs) {
          const copy = await readFile(join(restoredBlobs, diskBlobPath(blob.key)));
          if (createHash('md5').update(copy).digest('base64') !== blob.checksum)
            throw new OperationError(`attachment ${blob.key} differs`);
        }
        return `${Object.keys(plan.manifest.database.rowCounts).length} tables with equal row counts, ${built.blobs.length} attachments byte for byte`;
      });
      await step('run a restore drill (scratch database, checks, reports)', async () => {
        const { runDrill, writeDrillReports, saveDrillSummary } = await import('../drills/index.js');
        const report = await runDrill(repo, { identities, server: backups.siteDatabase(repo), sample: 10 });
        const paths = await writeDrillReports(report, join(workDir, 'drills'));
        await saveDrillSummary(repo, report);
        if (!report.ok)
          throw new OperationError(
            `the drill failed: ${report.failedChecks.join(', ')} (see ${paths.markdown})`,
          );
        return `${report.checks.filter((c) => c.status === 'ok').length} checks passed, RTO ${report.measures.rtoSeconds.toFixed(1)} s`;
      });
    } finally {
      await repo.store.close();
    }
    await step('ask the doctor about the local site', async () => {
      const { runDoctor } = await import('../doctor/index.js');
      const report = await runDoctor(loaded, { env: { ...process.env, ...site.env } });
      const failed = report.checks.filter((check) => check.status === 'fail');
      if (failed.length > 0)
        throw new OperationError(`doctor: ${failed.map((c) => `${c.check}: ${c.message}`).join('; ')}`);
      return `${report.checks.length} checks ok`;
    });
    await step('synthesize the Azure demo stack (Terraform JSON, policy checks)', async () => {
      const { synthesizeAzureDemo } = await (await import('../stacks/index.js')).loadAzureDemoSynth();
      const synth = await synthesizeAzureDemo(example, 'demo', join(workDir, 'cdktf.out'));
      if (synth.policy.failed > 0) throw new OperationError(`${synth.policy.failed} policy check(s) failed`);
      return `${synth.resourceCount} resources; ${synth.policy.passed} policy checks passed`;
    });
    for (const name of Object.keys(example.config.sites)) {
      await step(`render the ${name} site's Kubernetes manifests (schemas, policy rules)`, async () => {
        const { renderSiteManifests } = await import('../stacks/index.js');
        const rendered = await renderSiteManifests(example, name, join(workDir, 'rendered', name));
        if (rendered.findings.length > 0)
          throw new OperationError(
            `${rendered.findings.length} policy finding(s): ${rendered.findings[0]!.rule}`,
          );
        return `${rendered.objects} objects in ${rendered.files.length} files, no findings`;
      });
    }
  } finally {
    await server?.stop();
    if (!options.keep) await rm(workDir, { recursive: true, force: true });
  }
  return { ok: steps.every((s) => s.ok), workDir: options.keep ? workDir : null, steps, deployment };
}
