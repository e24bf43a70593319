import { join } from 'node:path';
import { execa } from 'execa';
import { runCli } from '../../cli/main.js';
import { redact } from '../../core/redact.js';
import { captureOutput } from './capture.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in-process, capturing what it prints (and copying it for the leak scan). */
export async function tier4(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; signal?: AbortSignal } = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    args,
    {
      stdout: { write: (text: string) => (stdout += text), isTTY: false },
      stderr: { write: (text: string) => (stderr += text), isTTY: false },
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      cwd: options.cwd ?? REPO_ROOT,
    },
    options.signal,
  );
  // The arguments are the test's input (some deliberately carry a secret); what tier4 printed is captured as is.
  captureOutput('cli.log', `$ tier4 ${redact(args.join(' '))}\n${stdout}${stderr}\n`);
  return { code, stdout, stderr };
}

/** Runs bin/tier4.js as a separate process, as a user would. */
export async function spawnTier4(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  const result = await execa(process.execPath, [join(REPO_ROOT, 'bin', 'tier4.js'), ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { NO_COLOR: '1', ...options.env },
    reject: false,
    stdin: 'ignore',
  });
  captureOutput('cli.log', `$ tier4 ${redact(args.join(' '))}\n${result.stdout}${result.stderr}\n`);
  return { code: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
}
