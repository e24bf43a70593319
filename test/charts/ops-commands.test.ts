import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildProgram } from '../../cli/program.js';
import { checkCommandLine } from '../../cli/usage-check.js';
import { loadConfig } from '../../core/config/load.js';
import { renderSiteManifests } from '../../stacks/production/render.js';
import { REPO_ROOT } from '../support/cli.js';

/** The ops CronJobs run the tier4 CLI: their command lines must be real commands, so the chart cannot drift. */
describe('the ops CronJobs', () => {
  test('run real tier4 commands with real options', async () => {
    const loaded = loadConfig(join(REPO_ROOT, 'examples', 'tier4.example.yaml'));
    const out = await mkdtemp(join(tmpdir(), 'tier4-ops-'));
    const rendered = await renderSiteManifests(loaded, 'production', out);
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: REPO_ROOT };
    const lines: string[][] = [];
    for (const file of rendered.files) {
      for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
        const object = doc.toJS();
        if (object?.kind !== 'CronJob') continue;
        const container = object.spec.jobTemplate.spec.template.spec.containers[0];
        expect(container.command).toEqual(['tier4']);
        lines.push(container.args);
      }
    }
    expect(lines.map((args) => `${args[0]}`).sort()).toEqual(['backup', 'doctor', 'drill']);
    for (const args of lines) {
      expect(
        checkCommandLine(buildProgram(io, new AbortController().signal, { exitCode: 0 }), args),
        args.join(' '),
      ).toBeUndefined();
    }
  });
});
