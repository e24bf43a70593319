import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT, tier4 } from './support/cli.js';

/**
 * #14 item 12: the image the ops CronJobs run must hold the tools their commands call. No Docker engine runs
 * here, so this reads the Dockerfile as the build would: the final stage's base, packages and entry point.
 */
describe('the ops image (Dockerfile)', () => {
  test('gives the jobs pg_dump/pg_restore 15+, Node for the CLI, and tier4 as the entry point', async () => {
    const text = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const stages = text.split(/^FROM /m).slice(1);
    const final = stages.at(-1)!;
    // Debian's postgresql-client-NN package ships pg_dump and pg_restore of that major.
    const client = /postgresql-client-(\d+)/.exec(final);
    expect(Number(client?.[1])).toBeGreaterThanOrEqual(15);
    expect(final).toMatch(/^node:\d+/);
    expect(final).toContain('ca-certificates');
    // The backup and restore jobs run zstd on the dump (backups/zstd.ts, decision 0018).
    expect(final).toMatch(/apt-get install[^\n]* zstd /);
    expect(final).toMatch(/COPY --from=build \/src\/dist \.\/dist/);
    expect(final).toMatch(/ln -s \/app\/bin\/tier4\.js \/usr\/local\/bin\/tier4/);
    expect(final).toMatch(/ENTRYPOINT \["tier4"\]/);
    // A numeric non-root user, as the chart's runAsUser (UIDS.ops) and runAsNonRoot require.
    const { UIDS } = await import('../charts/primero/common.js');
    expect(final).toContain(`USER ${UIDS.ops}:${UIDS.ops}`);
    // Encryption uses the age format in-process (no age binary is called by the jobs).
    expect(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')).not.toMatch(/"age-cli"/);
  });

  test('the CronJobs run the configured image (kubernetes.opsImage), and a tag-less image is refused', async () => {
    const { render, cronJob, podOf, exampleConfig } = await import('./support/rendered-site.js');
    const config = exampleConfig((doc) =>
      doc.setIn(['sites', 'production', 'kubernetes', 'opsImage'], 'registry.example.org/tier4:1.2.3'),
    );
    const objects = render('production', config);
    for (const name of ['tier4-backup', 'tier4-drill', 'tier4-doctor']) {
      expect(podOf(cronJob(objects, name)).containers[0].image).toBe('registry.example.org/tier4:1.2.3');
    }
    const { exampleFile } = await import('./support/rendered-site.js');
    const file = exampleFile((doc) =>
      doc.setIn(['sites', 'production', 'kubernetes', 'opsImage'], 'registry.example.org/tier4:latest'),
    );
    const result = await tier4(['site', 'render', 'production', '-c', file, '--out', `${file}.out`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('images.ops');
  });
});

describe('one supported Node range', () => {
  test("the Dockerfile's Node major is inside package.json's engines range", async () => {
    const root = REPO_ROOT;
    const engines = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).engines.node as string;
    const minimum = /^>=(\d+)\.(\d+)/.exec(engines);
    expect(minimum, engines).not.toBeNull();
    const images = [...(await readFile(join(root, 'Dockerfile'), 'utf8')).matchAll(/^FROM node:(\d+)/gm)];
    expect(images.length).toBeGreaterThan(0);
    for (const [, major] of images) expect(Number(major)).toBeGreaterThanOrEqual(Number(minimum![1]));
    expect(await readFile(join(root, 'README.md'), 'utf8')).toContain(
      `Node.js ${minimum![1]}.${minimum![2]} or newer`,
    );
  });
});
