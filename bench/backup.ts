/**
 * Backup and restore benchmark, against baselines measured in the same run (best of BENCH_RUNS, interleaved):
 *   backup:  tier4 backup create (file:// repository)  vs  pg_dump -Fc | age -r <recipient> > file
 *   restore: tier4 restore --jobs 2 (verification included)  vs  age -d -o f && pg_restore -j2 f
 *   drill:   tier4 drill  vs  tier4 restore
 *   memory:  tier4's peak RSS at two database sizes (it must stay flat)
 *   attachments: 10,000 blobs; a second backup with nothing changed must upload nothing
 *   start:   tier4 --version, --help, config validate, site synth demo, site render production (min of 5)
 * Sizes: BENCH_GB (default "0.25,1"). Run with `npm run bench`. Every figure is printed with its target and
 * PASS or FAIL (issue #16).
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { generateIdentity } from '../backups/crypto/age.js';
import { packageRoot } from '../core/package-info.js';
import { writeLocalSite } from '../rehearsal/local-site.js';
import { startPostgres } from '../rehearsal/postgres-server.js';
import { buildPrimeroDatabase, connect, quoteIdent } from '../rehearsal/primero-db.js';

const ROOT = packageRoot();
const GB = 1024 ** 3;
const sizes = (process.env.BENCH_GB ?? '0.25,1').split(',').map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 3);

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

async function tier4(args: string[], env: NodeJS.ProcessEnv, rssFile: string) {
  const result = await execa(
    process.execPath,
    ['--import', join(ROOT, 'bench', 'rss-probe.mjs'), join(ROOT, 'bin', 'tier4.js'), ...args],
    { env: { ...process.env, ...env, TIER4_RSS_OUT: rssFile }, reject: false },
  );
  if (result.exitCode !== 0) throw new Error(`tier4 ${args.join(' ')} failed: ${result.stderr}`);
  return { stdout: result.stdout, rssKiB: Number(await readFile(rssFile, 'utf8')) };
}

const best = (values: number[]) => Math.min(...values);

/** One line of the verdict: the figure, its target and PASS/FAIL. */
function verdict(name: string, value: number, target: number, unit: string, digits = 2): string {
  const ok = value <= target;
  return `${ok ? 'PASS' : 'FAIL'}  ${name.padEnd(46)} ${value.toFixed(digits).padStart(8)}${unit}  (target <= ${target}${unit})`;
}

/** Minimum wall time of five runs of a command: start-up cost, not throughput. */
async function startTime(args: string[]): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run < 5; run += 1) {
    times.push((await timed(() => execa(process.execPath, args, { cwd: ROOT, reject: false }))).seconds);
  }
  return best(times);
}

async function main(): Promise<void> {
  const server = await startPostgres({ password: `bench-${Date.now()}` });
  const work = await mkdtemp(join(tmpdir(), 'tier4-bench-'));
  const admin = await connect(server, 'postgres');
  const results: Array<Record<string, number>> = [];
  try {
    for (const size of sizes) {
      log(`\n== ${size} GB database`);
      const database = `bench_${String(size).replace('.', '_')}`;
      const built = await timed(() =>
        buildPrimeroDatabase({
          connection: server,
          database,
          targetBytes: size * GB,
          onProgress: (m) => log(`  building: ${m}`),
        }),
      );
      log(
        `  built ${(built.value.bytes / GB).toFixed(2)} GB (${built.value.counts.cases} cases) in ${built.seconds.toFixed(0)}s`,
      );
      const dir = await mkdtemp(join(work, 'site-'));
      const site = await writeLocalSite({
        dir,
        server,
        database,
        blobRoot: join(dir, 'storage'),
        repository: { kind: 'file', path: join(dir, 'repository') },
      });
      const c = ['-c', site.configPath];
      const url = server.url(database);
      const env = { PGPASSWORD: server.password };
      const baselineBackup: number[] = [];
      const tier4Backup: number[] = [];
      let backupRss = 0;
      let baselineBytes = 0;
      let tier4Bytes = 0;
      for (let run = 0; run < runs; run += 1) {
        const out = join(dir, 'baseline.dump.age');
        baselineBackup.push(
          (
            await timed(() =>
              execa(
                'sh',
                ['-c', `pg_dump -Fc --no-password --dbname='${url}' | age -r ${site.recipient} > '${out}'`],
                { env },
              ),
            )
          ).seconds,
        );
        baselineBytes = (await stat(out)).size;
        await rm(out);
        const t = await timed(() =>
          tier4(['--json', ...c, 'backup', 'create', '--site', site.site], site.env, join(dir, 'rss')),
        );
        tier4Backup.push(t.seconds);
        tier4Bytes = JSON.parse(t.value.stdout).database.bytes;
        backupRss = Math.max(backupRss, t.value.rssKiB);
      }
      // Restore: the newest set, and the same bytes through the plain tools.
      const encrypted = join(dir, 'baseline.dump.age');
      await execa(
        'sh',
        ['-c', `pg_dump -Fc --no-password --dbname='${url}' | age -r ${site.recipient} > '${encrypted}'`],
        { env },
      );
      const baselineRestore: number[] = [];
      const tier4Restore: number[] = [];
      let restoreRss = 0;
      for (let run = 0; run < runs; run += 1) {
        const target = `${database}_base_${run}`;
        await admin.query(`CREATE DATABASE ${quoteIdent(target)}`);
        const plain = join(dir, 'plain.dump');
        baselineRestore.push(
          (
            await timed(() =>
              execa(
                'sh',
                [
                  '-c',
                  `age -d -i '${site.identityFile}' -o '${plain}' '${encrypted}' && pg_restore -j2 --no-owner --no-acl --no-password --dbname='${server.url(target)}' '${plain}'`,
                ],
                { env },
              ),
            )
          ).seconds,
        );
        await rm(plain);
        const ours = `${database}_tier4_${run}`;
        const t = await timed(() =>
          tier4(
            [
              ...c,
              'restore',
              'latest',
              '--site',
              site.site,
              '--target-database',
              server.url(ours),
              '--jobs',
              '2',
              '--yes',
              '--confirm',
              site.site,
            ],
            site.env,
            join(dir, 'rss'),
          ),
        );
        tier4Restore.push(t.seconds);
        restoreRss = Math.max(restoreRss, t.value.rssKiB);
        await admin.query(`DROP DATABASE ${quoteIdent(target)}`);
        await admin.query(`DROP DATABASE ${quoteIdent(ours)}`);
      }
      const drills: number[] = [];
      for (let run = 0; run < runs; run += 1) {
        const t = await timed(() =>
          tier4(
            [...c, 'drill', '--site', site.site, '--report-dir', join(dir, 'drills')],
            site.env,
            join(dir, 'rss'),
          ),
        );
        drills.push(t.seconds);
      }
      const row = {
        gb: size,
        sizeRatio: tier4Bytes / baselineBytes,
        drillS: best(drills),
        drillRatio: best(drills) / best(tier4Restore),
        databaseBytes: built.value.bytes,
        baselineBackupS: best(baselineBackup),
        tier4BackupS: best(tier4Backup),
        backupRatio: best(tier4Backup) / best(baselineBackup),
        baselineRestoreS: best(baselineRestore),
        tier4RestoreS: best(tier4Restore),
        restoreRatio: best(tier4Restore) / best(baselineRestore),
        backupPeakRssMiB: backupRss / 1024,
        restorePeakRssMiB: restoreRss / 1024,
      };
      results.push(row);
      log(
        `  backup  ${row.tier4BackupS.toFixed(1)}s vs ${row.baselineBackupS.toFixed(1)}s   restore ${row.tier4RestoreS.toFixed(1)}s vs ${row.baselineRestoreS.toFixed(1)}s`,
      );
      await admin.query(`DROP DATABASE ${quoteIdent(database)}`);
      await rm(dir, { recursive: true, force: true });
    }

    log('\n== 10,000 attachments');
    const blobDir = await mkdtemp(join(work, 'blobs-'));
    const blobDb = 'bench_blobs';
    await buildPrimeroDatabase({
      connection: server,
      database: blobDb,
      cases: 500,
      attachments: { root: join(blobDir, 'storage'), count: 10_000, minBytes: 1024, maxBytes: 8192 },
      onProgress: (m) => log(`  building: ${m}`),
    });
    const blobSite = await writeLocalSite({
      dir: blobDir,
      server,
      database: blobDb,
      blobRoot: join(blobDir, 'storage'),
      repository: { kind: 'file', path: join(blobDir, 'repository') },
    });
    const args = ['--json', '-c', blobSite.configPath, 'backup', 'create', '--site', blobSite.site];
    const first = await timed(() => tier4(args, blobSite.env, join(blobDir, 'rss')));
    const second = await timed(() => tier4(args, blobSite.env, join(blobDir, 'rss')));
    const secondSet = JSON.parse(second.value.stdout);

    // The report: ratios against the baselines measured above.
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out('\ntier4 backup benchmark (ratios against the plain pipelines, same run)');
    out(
      'size_gb  backup_s  baseline_s  backup_ratio  restore_s  baseline_s  restore_ratio  backup_rss_mib  restore_rss_mib',
    );
    for (const r of results) {
      out(
        [
          r.gb!.toFixed(2).padEnd(7),
          r.tier4BackupS!.toFixed(1).padStart(8),
          r.baselineBackupS!.toFixed(1).padStart(10),
          `${r.backupRatio!.toFixed(3)}x`.padStart(12),
          r.tier4RestoreS!.toFixed(1).padStart(9),
          r.baselineRestoreS!.toFixed(1).padStart(10),
          `${r.restoreRatio!.toFixed(3)}x`.padStart(13),
          r.backupPeakRssMiB!.toFixed(0).padStart(14),
          r.restorePeakRssMiB!.toFixed(0).padStart(15),
        ].join('  '),
      );
    }
    if (results.length >= 2) {
      const [small, large] = [results[0]!, results.at(-1)!];
      out(
        `peak RSS growth from ${small.gb} GB to ${large.gb} GB: ${(large.backupPeakRssMiB! / small.backupPeakRssMiB!).toFixed(2)}x (backup), ${(large.restorePeakRssMiB! / small.restorePeakRssMiB!).toFixed(2)}x (restore)`,
      );
    }
    out(
      `attachments: first backup of 10,000 blobs ${first.seconds.toFixed(1)}s; second backup ${second.seconds.toFixed(2)}s, uploaded ${secondSet.attachments.uploaded} blobs / ${secondSet.attachments.uploadedBytes} bytes`,
    );

    log('\n== start-up (min of 5)');
    const example = join(ROOT, 'examples', 'tier4.example.yaml');
    const bin = join(ROOT, 'bin', 'tier4.js');
    const synthOut = join(work, 'synth');
    const renderOut = join(work, 'render');
    // `config validate` is timed on a configuration that passes (the example's placeholder recipients fail it):
    // the example with a recipient of a fresh key.
    const valid = join(work, 'tier4.valid.yaml');
    const { recipient } = await generateIdentity();
    await writeFile(valid, (await readFile(example, 'utf8')).replace(/age1[0-9a-z]{58}/g, recipient));
    const check = await execa(process.execPath, [bin, '-c', valid, 'config', 'validate'], { reject: false });
    if (check.exitCode !== 0) throw new Error(`config validate of ${valid} failed: ${check.stderr}`);
    const start = {
      node: await startTime(['-e', '0']),
      version: await startTime([bin, '--version']),
      help: await startTime([bin, '--help']),
      validate: await startTime([bin, '-c', valid, 'config', 'validate']),
      synth: await startTime([bin, '-c', example, 'site', 'synth', 'demo', '--out', synthOut]),
      render: await startTime([bin, '-c', example, 'site', 'render', 'production', '--out', renderOut]),
    };
    out(
      `start-up, min of 5 (node -e 0: ${start.node.toFixed(3)}s): --version ${start.version.toFixed(3)}s, --help ${start.help.toFixed(3)}s, config validate ${start.validate.toFixed(3)}s, site synth demo ${start.synth.toFixed(3)}s, site render production ${start.render.toFixed(3)}s`,
    );

    out('\nverdict (issue #16 targets)');
    const large = results.at(-1)!;
    const small = results[0]!;
    for (const r of results) {
      const backupTarget = r.gb! >= 1 ? 0.5 : 0.6;
      out(verdict(`backup time ratio at ${r.gb} GB`, r.backupRatio!, backupTarget, 'x', 3));
      out(verdict(`encrypted dump size ratio at ${r.gb} GB`, r.sizeRatio!, 1.05, 'x', 3));
      out(verdict(`restore --jobs 2 time ratio at ${r.gb} GB`, r.restoreRatio!, 1.0, 'x', 3));
      out(verdict(`drill / restore time at ${r.gb} GB`, r.drillRatio!, 1.2, 'x', 3));
      out(verdict(`backup peak RSS at ${r.gb} GB`, r.backupPeakRssMiB!, 150, ' MiB', 0));
      out(verdict(`restore peak RSS at ${r.gb} GB`, r.restorePeakRssMiB!, 150, ' MiB', 0));
    }
    if (results.length >= 2)
      out(
        verdict(
          'peak RSS growth, smallest to largest size',
          large.backupPeakRssMiB! / small.backupPeakRssMiB!,
          1.2,
          'x',
        ),
      );
    out(verdict('no-change backup of 10,000 blobs', second.seconds, 2, ' s'));
    out(verdict('bytes uploaded by the no-change backup', secondSet.attachments.uploadedBytes, 0, ' B', 0));
    out(verdict('tier4 --version', start.version, 0.15, ' s', 3));
    out(verdict('tier4 --help', start.help, 0.15, ' s', 3));
    out(verdict('tier4 config validate', start.validate, 0.25, ' s', 3));
    out(verdict('tier4 site synth demo', start.synth, 1.0, ' s', 3));
    out(verdict('tier4 site render production', start.render, 1.0, ' s', 3));
  } finally {
    await admin.end();
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
