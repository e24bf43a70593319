import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT, spawnTier4, tier4 } from './support/cli.js';

const GROUPS = ['config', 'site', 'backup', 'restore', 'drill', 'doctor', 'certs', 'promote'];

describe('the tier4 command', () => {
  test('--help lists every command group and exits 0', async () => {
    const result = await tier4(['--help']);
    expect(result.code).toBe(0);
    for (const group of GROUPS) expect(result.stdout).toMatch(new RegExp(`^  ${group}\\b`, 'm'));
    for (const option of ['--config <file>', '--json', '--quiet', '--verbose', '--no-color']) {
      expect(result.stdout).toContain(option);
    }
  });

  test('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8'));
    const result = await tier4(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  test('an unknown command or option is a usage error (exit 2)', async () => {
    const unknownCommand = await tier4(['bakup']);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toContain("unknown command 'bakup'");
    const unknownOption = await tier4(['config', 'validate', '--frobnicate']);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toContain("unknown option '--frobnicate'");
  });

  test('a group with no subcommand shows its help and exits 2', async () => {
    const result = await tier4(['config']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('validate');
  });

  test('with --json an error is one JSON document on stdout, the message on stderr', async () => {
    const result = await tier4(['--json', 'config', 'validate', '-c', '/nonexistent.yaml']);
    expect(result.code).toBe(2);
    const doc = JSON.parse(result.stdout);
    expect(doc).toMatchObject({ ok: false, error: { exitCode: 2 } });
    expect(doc.error.message).toContain('No configuration file');
    expect(result.stderr).toContain('error: No configuration file');
  });
});

describe('the installed binary', () => {
  test('exit codes and output streams are as documented', async () => {
    const ok = await spawnTier4(['config', 'validate', '-c', 'examples/tier4.example.yaml']);
    expect(ok.code).toBe(0);
    const bad = await spawnTier4(['config', 'validate', '-c', 'nope.yaml']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^error: /);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  test('--version and --help load no cloud SDK, cdktf, Pulumi, nor the configuration schema (zod)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-imports-'));
    for (const args of [['--version'], ['--help']]) {
      const log = join(dir, `${args[0]}.log`);
      const result = await spawnTier4(args, {
        env: {
          NODE_OPTIONS: `--import ${join(REPO_ROOT, 'test/support/record-imports.mjs')}`,
          TIER4_IMPORT_LOG: log,
        },
      });
      expect(result.code).toBe(0);
      const imported = await readFile(log, 'utf8');
      expect(imported).toContain('commander');
      for (const heavy of [
        '/cdktf/',
        '@cdktf',
        '@pulumi',
        '@aws-sdk',
        '@azure',
        '@kubernetes',
        'kubernetes-models',
        '/node_modules/zod/',
        '/node_modules/yaml/',
        '/node_modules/pg/',
      ]) {
        expect(imported, `${args[0]} loaded ${heavy}`).not.toContain(heavy);
      }
    }
  });
});
