import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT, tier4 } from '../support/cli.js';
import { EXAMPLE, ownExample } from '../support/example.js';
import { exampleFile } from '../support/rendered-site.js';

/**
 * Every command but --help and --version runs from dist/cli/script/tier4.cjs with the V8 code cache the build
 * wrote beside it (ADR 0017, bin/script-cli.js). The cache is a build artefact: it must belong to the script as
 * built, V8 must take it, and the CLI must say the same with it, without it, and as the sources say.
 */
const SCRIPT_DIR = join(REPO_ROOT, 'dist', 'cli', 'script');
const BIN = join(REPO_ROOT, 'bin', 'tier4.js');

/** What the loader reports, in a node with `flags` (V8 rejects a cache made under other flags). */
async function loaderReport(flags: string[]): Promise<{ accepted: boolean; cache: string }> {
  const code = `import { loadScriptCli } from ${JSON.stringify(join(REPO_ROOT, 'bin', 'script-cli.js'))};
const { cacheAccepted, cache } = loadScriptCli(${JSON.stringify(SCRIPT_DIR)});
process.stdout.write(JSON.stringify({ accepted: cacheAccepted, cache }));`;
  const run = await execa(process.execPath, [...flags, '--input-type=module', '-e', code]);
  return JSON.parse(run.stdout);
}

async function spawnWith(flags: string[], args: string[]) {
  const run = await execa(process.execPath, [...flags, BIN, ...args], {
    cwd: REPO_ROOT,
    env: { NO_COLOR: '1' },
    reject: false,
    stdin: 'ignore',
  });
  return { code: run.exitCode, stdout: run.stdout, stderr: run.stderr };
}

describe('the CLI script and its code cache', () => {
  test('the cache is named for the script exactly as built, and V8 takes it', async () => {
    const source = await readFile(join(SCRIPT_DIR, 'tier4.cjs'), 'utf8');
    const [, body, build] = /^([\s\S]*)\/\/ tier4-build ([0-9a-f]{16})\n$/.exec(source) ?? [];
    expect(build, 'the build line').toBeDefined();
    expect(createHash('sha256').update(body!).digest('hex').slice(0, 16)).toBe(build);
    const report = await loaderReport([]);
    expect(report.cache).toBe(join(SCRIPT_DIR, `tier4-${build}.cache`));
    expect(report.accepted).toBe(true);
    // Under other V8 flags the cache is refused, and the script compiles from its source (below).
    expect((await loaderReport(['--max-lazy'])).accepted).toBe(false);
  }, 30_000);

  test('config validate says the same from the cache, without it, and from the sources', async () => {
    const configs = [
      ownExample(), // valid: exit 0
      EXAMPLE, // placeholder recipients: exit 1
      exampleFile((doc) => doc.deleteIn(['sites', 'production', 'drills', 'server'])), // render refuses: exit 2
      join(REPO_ROOT, 'nope.yaml'), // missing: exit 2
    ];
    const codes: number[] = [];
    for (const config of configs) {
      const args = ['-c', config, 'config', 'validate'];
      const cached = await spawnWith([], args);
      const uncached = await spawnWith(['--max-lazy'], args);
      const sources = await tier4(args);
      expect(uncached, config).toEqual(cached);
      expect({ ...cached, stdout: cached.stdout.trim(), stderr: cached.stderr.trim() }, config).toEqual({
        code: sources.code,
        stdout: sources.stdout.trim(),
        stderr: sources.stderr.trim(),
      });
      codes.push(cached.code!);
    }
    expect(codes).toEqual([0, 1, 2, 2]);
  }, 60_000);
});
