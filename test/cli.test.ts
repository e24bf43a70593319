import { copyFile, mkdir, mkdtemp, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT, spawnTier4, tier4 } from './support/cli.js';
import { ownExample } from './support/example.js';

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

  test('with --json a usage error (unknown command, missing option) is one JSON document too', async () => {
    for (const args of [
      ['--json', 'frobnicate'],
      ['--json', 'backup', 'restore-everything'],
      ['restore', 'latest', '--json', '--target-database'],
    ]) {
      const result = await tier4(args);
      expect(result.code, args.join(' ')).toBe(2);
      const doc = JSON.parse(result.stdout);
      expect(doc).toMatchObject({ ok: false, error: { exitCode: 2 } });
      expect(doc.error.message.length).toBeGreaterThan(10);
      expect(result.stderr).toContain('error:');
    }
    const plain = await tier4(['frobnicate']);
    expect(plain.stdout).toBe('');
  });
});

/**
 * The import log with, after each file of the CLI bundle (dist/cli/main.js and its chunks, ADR 0016), the
 * sources and packages it holds as the build recorded them: what a bundle loads is what its chunks contain.
 */
async function withBundledSources(log: string): Promise<string> {
  const bundleDir = join(REPO_ROOT, 'dist', 'cli');
  const contents: Record<string, string[]> = JSON.parse(
    await readFile(join(bundleDir, 'bundle-contents.json'), 'utf8'),
  );
  const lines = log.split('\n').flatMap((url) => {
    const file = url.startsWith('file://') ? fileURLToPath(url) : url;
    const held = file.startsWith(`${bundleDir}/`) ? contents[file.slice(bundleDir.length + 1)] : undefined;
    return [url, ...(held ?? []).map((input) => join(REPO_ROOT, input))];
  });
  expect(
    lines.some((line) => line.endsWith('/cli/main.ts')),
    'the bundle lists its sources',
  ).toBe(true);
  return lines.join('\n');
}

describe('the installed binary', () => {
  test('exit codes and output streams are as documented', async () => {
    const ok = await spawnTier4(['config', 'validate', '-c', ownExample()]);
    expect(ok.code).toBe(0);
    const bad = await spawnTier4(['config', 'validate', '-c', 'nope.yaml']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^error: /);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  test('-o yaml and config show print YAML (the bundle names the exports of an import() of CommonJS yaml)', async () => {
    const shown = await spawnTier4(['config', 'show', '-c', ownExample()]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^version: 1\ndeployment:\n {2}name: /);
    const validated = await spawnTier4(['-o', 'yaml', 'config', 'validate', '-c', ownExample()]);
    expect(validated.code, validated.stderr).toBe(0);
    expect(validated.stdout).toMatch(/^ok: true\nfile: /);
  });

  test("configuration errors read as the sources word them (the bundle keeps zod's English messages)", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-bad-config-'));
    const file = join(dir, 'tier4.yaml');
    await writeFile(file, 'version: 1\ndeployment: x\nsites:\n  a:\n    role: demo\n    bogus: 1\n');
    const result = await spawnTier4(['config', 'validate', '-c', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('deployment: expected object, received string (line 2)');
    expect(result.stderr).toContain('sites.a.bogus: unknown setting (line 6)');
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
      const imported = await withBundledSources(await readFile(log, 'utf8'));
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

describe('bin/tier4.js', () => {
  /** A copy of the launcher beside a built and a source CLI that say which of them ran. */
  async function launcherTree(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-launcher-'));
    await mkdir(join(dir, 'bin'));
    await mkdir(join(dir, 'cli'));
    await mkdir(join(dir, 'dist', 'cli'), { recursive: true });
    for (const file of ['tier4.js', 'script-cli.js'])
      await copyFile(join(REPO_ROOT, 'bin', file), join(dir, 'bin', file));
    await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ include: ['cli'] }));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    const fake = (from: string) =>
      `export const processIo = () => ({});\nexport async function runCli() { process.stdout.write('${from}\\n'); return 0; }\n`;
    await writeFile(join(dir, 'cli', 'main.ts'), fake('sources'));
    await writeFile(join(dir, 'dist', 'cli', 'main.js'), fake('dist'));
    return dir;
  }

  /** The build's CommonJS script (ADR 0017), as a fake that says it ran; no code cache. */
  async function addScript(dir: string, modified: Date): Promise<void> {
    const script = join(dir, 'dist', 'cli', 'script', 'tier4.cjs');
    await mkdir(join(dir, 'dist', 'cli', 'script'));
    await writeFile(
      script,
      "exports.processIo = () => ({});\nexports.runCli = async () => { process.stdout.write('script\\n'); return 0; };\n",
    );
    await utimes(script, modified, modified);
  }

  test('runs dist/ when it is current, and the sources with a warning when a source is newer', async () => {
    const dir = await launcherTree();
    const past = new Date(Date.now() - 3_600_000);
    await utimes(join(dir, 'cli', 'main.ts'), past, past);
    const current = await execa('node', [join(dir, 'bin', 'tier4.js')], { reject: false });
    expect(current.stdout).toBe('dist');
    expect(current.stderr).toBe('');

    const future = new Date(Date.now() + 60_000);
    await utimes(join(dir, 'cli', 'main.ts'), future, future);
    const stale = await execa('node', [join(dir, 'bin', 'tier4.js')], { reject: false });
    expect(stale.stdout).toBe('sources');
    expect(stale.stderr).toContain('dist/ is older than the sources');
    expect(stale.stderr).toContain('npm run build');
  });

  test('runs a command from the script, --help and --version from dist/cli/main.js', async () => {
    const dir = await launcherTree();
    const past = new Date(Date.now() - 3_600_000);
    await utimes(join(dir, 'cli', 'main.ts'), past, past);
    await utimes(join(dir, 'dist', 'cli', 'main.js'), past, past);
    await addScript(dir, new Date());
    const command = await execa('node', [join(dir, 'bin', 'tier4.js'), 'config', 'validate'], {
      reject: false,
    });
    expect(command.stdout).toBe('script');
    for (const light of ['--help', '-h', '--version', '-V']) {
      const run = await execa('node', [join(dir, 'bin', 'tier4.js'), light], { reject: false });
      expect(run.stdout, light).toBe('dist');
    }
  });

  test('a script older than dist/cli/main.js (a bare tsc after a change) is not run', async () => {
    const dir = await launcherTree();
    const past = new Date(Date.now() - 3_600_000);
    await utimes(join(dir, 'cli', 'main.ts'), past, past);
    await addScript(dir, new Date(Date.now() - 60_000));
    const command = await execa('node', [join(dir, 'bin', 'tier4.js'), 'config', 'validate'], {
      reject: false,
    });
    expect(command.stdout).toBe('dist');
    expect(command.stderr).toBe('');
  });
});

describe('tier4 completion', () => {
  /** Completes the words as bash would with the script loaded, and returns the candidates. */
  async function bashComplete(script: string, words: string[]): Promise<string[]> {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-completion-'));
    await writeFile(join(dir, 'tier4.bash'), script);
    const quoted = words.map((word) => `'${word}'`).join(' ');
    const run = await execa('bash', [
      '-c',
      `source ${join(dir, 'tier4.bash')}; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _tier4_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ]);
    return run.stdout.split('\n').filter(Boolean);
  }

  test('bash completes command groups, subcommands and options from the real command tree', async () => {
    const result = await tier4(['completion', 'bash']);
    expect(result.code, result.stderr).toBe(0);
    expect(await bashComplete(result.stdout, ['tier4', 'ba'])).toEqual(['backup']);
    const backup = await bashComplete(result.stdout, ['tier4', 'backup', '']);
    expect(backup).toEqual(expect.arrayContaining(['create', 'list', 'verify', 'prune', '--help']));
    expect(backup).not.toContain('validate');
    // Options and their values in between do not lose the place.
    expect(await bashComplete(result.stdout, ['tier4', '--json', 'backup', 'list', '--si'])).toEqual([
      '--site',
    ]);
    expect(await bashComplete(result.stdout, ['tier4', '-c', 'x.yaml', 'certs', 'client', 'cr'])).toEqual([
      'create',
    ]);
  });

  test('zsh and fish scripts name every command group; another shell is a usage error', async () => {
    const zsh = await tier4(['completion', 'zsh']);
    expect(zsh.stdout).toMatch(/^#compdef tier4\n/);
    expect(zsh.stdout).toContain('bashcompinit');
    const fish = await tier4(['completion', 'fish']);
    for (const group of GROUPS) expect(fish.stdout).toContain(`-a ${group}\n`);
    expect(fish.stdout).toContain(`complete -c tier4 -n "test (__tier4_path) = 'backup'" -a create\n`);
    const bad = await tier4(['completion', 'powershell']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Choose one of: bash, zsh, fish');
  });
});

describe('the command layer reads top-down', () => {
  test('command modules never import cli/program.ts (they get the Registrar type from cli/registrar.ts)', async () => {
    const { readdir } = await import('node:fs/promises');
    const dir = join(REPO_ROOT, 'cli', 'commands');
    const files = (await readdir(dir)).filter((name) => name.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(10);
    for (const name of files) {
      const text = await readFile(join(dir, name), 'utf8');
      expect(text, name).not.toMatch(/from '\.\.\/program\.js'/);
    }
  });
});
