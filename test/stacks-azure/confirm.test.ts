import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { runCli } from '../../cli/main.js';
import { captureOutput } from '../support/capture.js';
import { REPO_ROOT } from '../support/cli.js';
import { calls, FIXTURE, fakeTerraform, tempDir } from './helpers.js';

/** The real CLI in-process, as on a terminal: stdin and stderr are TTYs and the operator types `typed`. */
async function onTerminal(args: string[], typed: string, env: NodeJS.ProcessEnv) {
  let stdout = '';
  let stderr = '';
  const stdin = Object.assign(Readable.from([`${typed}\n`]), { isTTY: true });
  const code = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text), isTTY: true },
    stdin,
    env: { ...process.env, NO_COLOR: '1', ...env },
    cwd: REPO_ROOT,
  });
  captureOutput('cli.log', `$ tier4 ${args.join(' ')} (typed ${typed})\n${stdout}${stderr}\n`);
  return { code, stdout, stderr };
}

describe('confirmation on a terminal', () => {
  test('destroy asks for the site name; a wrong answer changes nothing', async () => {
    const fake = await fakeTerraform({ changes: true });
    const env = { PATH: fake.dir, TIER4_TERRAFORM: '' };
    const args = ['site', 'destroy', 'demo', '-c', FIXTURE, '--out', await tempDir('confirm')];
    const wrong = await onTerminal(args, 'dmeo', env);
    expect(wrong.stderr).toContain('Type the site name (demo) to go ahead');
    // One confirmation rule (#19): a refusal is a usage error, exit 2 (it was 1 before), with a hint that works.
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`tier4 site destroy demo -c ${FIXTURE} --yes --confirm demo`);
    expect(await calls(fake.log)).toEqual([]);

    const right = await onTerminal(args, 'demo', env);
    expect(right.code).toBe(0);
    expect((await calls(fake.log)).map((line) => line.split(' ')[1])).toEqual(['init', 'plan', 'apply']);
  });

  test('destroy --yes without --confirm is refused on a terminal too, never a prompt (#19)', async () => {
    const fake = await fakeTerraform({ changes: true });
    const env = { PATH: fake.dir, TIER4_TERRAFORM: '' };
    const args = ['site', 'destroy', 'demo', '-c', FIXTURE, '--out', await tempDir('confirm'), '--yes'];
    const result = await onTerminal(args, 'demo', env);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('Type the site name');
    expect(result.stderr).toContain('--yes also needs --confirm demo');
    expect(result.stderr).toContain(`tier4 site destroy demo -c ${FIXTURE} --yes --confirm demo`);
    expect(await calls(fake.log)).toEqual([]);
    const wrongName = await onTerminal([...args, '--confirm', 'prod'], '', env);
    expect(wrongName.code).toBe(2);
    expect(wrongName.stderr).toContain('--confirm prod does not match the site name demo');
    expect(await calls(fake.log)).toEqual([]);
  });

  test('apply shows the plan, then asks for the site name; a wrong answer (even yes) is exit 2, nothing applied', async () => {
    const fake = await fakeTerraform({ changes: true });
    const env = { PATH: fake.dir, TIER4_TERRAFORM: '' };
    const args = ['site', 'apply', 'demo', '-c', FIXTURE, '--out', await tempDir('confirm')];
    // One confirmation rule (#19): apply asked for "yes" and a refusal was exit 1; now the site name, exit 2.
    const declined = await onTerminal(args, 'yes', env);
    expect(declined.code).toBe(2);
    expect(declined.stderr).toContain('Plan: 54 to add');
    expect(declined.stderr).toContain('Type the site name (demo) to go ahead');
    expect(declined.stderr).toContain('nothing was changed');
    expect(declined.stderr).toContain(`tier4 site apply demo -c ${FIXTURE} --yes --confirm demo`);
    expect((await calls(fake.log)).map((line) => line.split(' ')[1])).toEqual(['init', 'plan']);

    const typed = await onTerminal(args, 'demo', env);
    expect(typed.code).toBe(0);
    expect((await calls(fake.log)).map((line) => line.split(' ')[1]).slice(2)).toEqual([
      'init',
      'plan',
      'apply',
      'output',
    ]);
  });

  test('apply --yes without --confirm is refused on a terminal too, before terraform runs (#19)', async () => {
    const fake = await fakeTerraform({ changes: true });
    const env = { PATH: fake.dir, TIER4_TERRAFORM: '' };
    const args = ['site', 'apply', 'demo', '-c', FIXTURE, '--out', await tempDir('confirm'), '--yes'];
    const result = await onTerminal(args, 'demo', env);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('Type the site name');
    expect(result.stderr).toContain('--yes also needs --confirm demo');
    expect(await calls(fake.log)).toEqual([]);
  });
});
