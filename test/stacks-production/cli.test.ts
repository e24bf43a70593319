import { chmod, copyFile, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../../cli/main.js';
import { captureOutput } from '../support/capture.js';
import { REPO_ROOT, tier4 } from '../support/cli.js';
import { testSecret } from '../support/secrets.js';

/**
 * `tier4 site preview|deploy` drive the pulumi CLI, which is not installed here. A stand-in `pulumi`
 * script records each call (arguments and the variables tier4 sets) and succeeds, the way the real CLI
 * does for `stack select --create`, `preview` and `up`.
 */

let dir: string;
let config: string;
let fakeBin: string;
let calls: string;
let kubeconfig: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tier4-pulumi-'));
  config = join(dir, 'tier4.yaml');
  await copyFile(join(REPO_ROOT, 'examples', 'tier4.example.yaml'), config);
  fakeBin = join(dir, 'bin');
  calls = join(dir, 'calls.log');
  await (await import('node:fs/promises')).mkdir(fakeBin);
  const script = [
    '#!/bin/sh',
    `echo "$* | backend=$PULUMI_BACKEND_URL site=$TIER4_SITE config=$TIER4_CONFIG first=$TIER4_FIRST_INSTALL" >> "${calls}"`,
    'exit 0',
  ].join('\n');
  await writeFile(join(fakeBin, 'pulumi'), `${script}\n`);
  await chmod(join(fakeBin, 'pulumi'), 0o755);
  // The example's production context, in a kubeconfig of its own (tier4 checks it before running pulumi).
  kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'prod', cluster: { server: 'https://prod.example.org:6443' } }],
      users: [{ name: 'ops', user: {} }],
      contexts: [{ name: 'prod-cluster', context: { cluster: 'prod', user: 'ops' } }],
      'current-context': 'prod-cluster',
    }),
  );
});

const withFakePulumi = (extra: NodeJS.ProcessEnv = {}) => ({
  PATH: `${fakeBin}${delimiter}${process.env.PATH}`,
  PULUMI_CONFIG_PASSPHRASE: testSecret('pulumi-passphrase'),
  KUBECONFIG: kubeconfig,
  ...extra,
});

describe('tier4 site preview|deploy', () => {
  test('without the pulumi CLI: exit 2, saying what to install', async () => {
    for (const verb of ['preview', 'deploy']) {
      const result = await tier4(['site', verb, 'production', '-c', config], {
        env: { PATH: join(dir, 'empty') },
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('The pulumi CLI is not installed');
      expect(result.stderr).toContain('https://www.pulumi.com/docs/install/');
    }
  });

  test('preview selects the stack and previews with the local file backend beside tier4.yaml', async () => {
    const result = await tier4(['site', 'preview', 'production', '-c', config], { env: withFakePulumi() });
    expect(result.stderr).not.toContain('error');
    expect(result.code).toBe(0);
    const log = await readFile(calls, 'utf8');
    const backend = `file://${join(dir, '.tier4', 'pulumi')}`;
    expect(log).toContain(
      `stack select --create example-cp-production --cwd ${join(REPO_ROOT, 'stacks', 'production')}`,
    );
    expect(log).toContain(
      `preview --stack example-cp-production --diff | backend=${backend} site=production config=${config} first=0`,
    );
    expect((await stat(join(dir, '.tier4', 'pulumi'))).isDirectory()).toBe(true);
  });

  test('deploy off a terminal needs --yes, and then runs pulumi up', async () => {
    const refused = await tier4(['site', 'deploy', 'production', '-c', config], { env: withFakePulumi() });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes');
    const result = await tier4(
      ['--json', 'site', 'deploy', 'demo', '--yes', '--confirm', 'demo', '--first-install', '-c', config],
      {
        env: withFakePulumi(),
      },
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, site: 'demo', stack: 'example-cp-demo' });
    expect(await readFile(calls, 'utf8')).toContain('up --stack example-cp-demo --yes --skip-preview');
    expect(await readFile(calls, 'utf8')).toContain('site=demo');
    expect(await readFile(calls, 'utf8')).toContain('first=1');
  });

  test('deploy follows the one confirmation rule (#19): --yes alone or a wrong --confirm is exit 2, no up', async () => {
    const before = await readFile(calls, 'utf8').catch(() => '');
    const yesOnly = await tier4(['site', 'deploy', 'production', '--yes', '-c', config], {
      env: withFakePulumi(),
    });
    expect(yesOnly.code).toBe(2);
    expect(yesOnly.stderr).toContain('--yes also needs --confirm production');
    expect(yesOnly.stderr).toContain(
      `Run: tier4 site deploy production -c ${config} --yes --confirm production`,
    );
    const wrong = await tier4(['site', 'deploy', 'production', '--yes', '--confirm', 'demo', '-c', config], {
      env: withFakePulumi(),
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--confirm demo does not match the site name production');
    expect((await readFile(calls, 'utf8')).slice(before.length)).not.toMatch(/^up /m);
  });

  test('deploy judges "on a terminal" from stdin and stderr, as every destructive command (#19)', async () => {
    const run = async (typed: string, tty: { stdout: boolean; stderr: boolean }) => {
      let stdout = '';
      let stderr = '';
      const before = await readFile(calls, 'utf8').catch(() => '');
      const code = await runCli(['site', 'deploy', 'production', '-c', config], {
        stdout: { write: (text: string) => (stdout += text), isTTY: tty.stdout },
        stderr: { write: (text: string) => (stderr += text), isTTY: tty.stderr },
        stdin: Object.assign(Readable.from([`${typed}\n`]), { isTTY: true }),
        env: { ...process.env, NO_COLOR: '1', ...withFakePulumi() },
        cwd: REPO_ROOT,
      });
      captureOutput('cli.log', `$ tier4 site deploy production (typed ${typed})\n${stdout}${stderr}\n`);
      const ran = (await readFile(calls, 'utf8')).slice(before.length).split('\n').filter(Boolean);
      return { code, stderr, ran: ran.map((line) => line.split(' ')[0]) };
    };
    // stdout redirected to a file, stderr on the terminal: still a terminal, so it previews, then asks.
    const wrong = await run('prod', { stdout: false, stderr: true });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('Type the site name (production) to go ahead');
    expect(wrong.ran).toEqual(['version', 'stack', 'preview']);
    const typed = await run('production', { stdout: false, stderr: true });
    expect(typed.code).toBe(0);
    expect(typed.ran).toEqual(['version', 'stack', 'preview', 'up']);
    // stderr redirected (a log), stdout a terminal: nobody to ask, so it is refused before pulumi changes anything.
    const logged = await run('production', { stdout: true, stderr: false });
    expect(logged.code).toBe(2);
    expect(logged.stderr).toContain('There is no terminal to ask on: pass --yes --confirm production');
    expect(logged.ran).toEqual(['version']);
  });

  test('no passphrase for the local backend: exit 2 before running anything', async () => {
    const before = await readFile(calls, 'utf8').catch(() => '');
    const { PULUMI_CONFIG_PASSPHRASE: _, ...env } = withFakePulumi();
    const result = await tier4(['site', 'preview', 'production', '-c', config], {
      env: { ...env, PULUMI_CONFIG_PASSPHRASE: '', PULUMI_CONFIG_PASSPHRASE_FILE: '' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('PULUMI_CONFIG_PASSPHRASE_FILE');
    // Only `pulumi version` (the installation check) may have run; no stack was selected or previewed.
    const newCalls = (await readFile(calls, 'utf8')).slice(before.length).trim().split('\n').filter(Boolean);
    expect(newCalls.every((line) => line.startsWith('version'))).toBe(true);
  });

  test('no kubeconfig: exit 2 saying so and how to set one, before pulumi changes anything', async () => {
    const home = join(dir, 'empty-home');
    await (await import('node:fs/promises')).mkdir(home, { recursive: true });
    const before = await readFile(calls, 'utf8').catch(() => '');
    const result = await tier4(['site', 'preview', 'production', '-c', config], {
      env: withFakePulumi({ KUBECONFIG: '', HOME: home }),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('No kubeconfig found');
    expect(result.stderr).toContain('KUBECONFIG');
    expect(result.stderr).not.toContain('HTTP protocol');
    const newCalls = (await readFile(calls, 'utf8').catch(() => '')).slice(before.length);
    expect(newCalls).not.toMatch(/stack select|preview|up /);
  });

  test('an unknown site is refused before pulumi is looked for', async () => {
    const result = await tier4(['site', 'preview', 'staging', '-c', config], { env: withFakePulumi() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('No site named "staging"');
  });
});
