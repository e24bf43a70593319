import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { OperationError, UsageError } from '../../core/errors.js';

/** The Terraform-compatible CLIs we drive, in order of preference. */
export const TERRAFORM_CANDIDATES = ['terraform', 'tofu'] as const;

export interface TerraformBinary {
  /** Absolute path of the executable. */
  path: string;
  /** terraform, tofu, or the file name given in TIER4_TERRAFORM. */
  name: string;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * Finds terraform or tofu: TIER4_TERRAFORM (a name on PATH or a path) wins, then terraform, then tofu.
 * Throws a UsageError naming what to install when there is none.
 */
export function findTerraform(env: NodeJS.ProcessEnv): TerraformBinary {
  const wanted = env.TIER4_TERRAFORM;
  if (wanted) {
    const path = isAbsolute(wanted) ? (isExecutable(wanted) ? wanted : undefined) : onPath(wanted, env);
    if (!path) {
      throw new UsageError(
        `TIER4_TERRAFORM names ${wanted}, which is not an executable file.`,
        'Point it at terraform or tofu, or unset it to search PATH.',
      );
    }
    return { path, name: wanted.split('/').pop() ?? wanted };
  }
  for (const name of TERRAFORM_CANDIDATES) {
    const path = onPath(name, env);
    if (path) return { path, name };
  }
  throw new UsageError(
    'Neither terraform nor tofu is installed (searched PATH). Nothing was changed.',
    'Install Terraform 1.9+ (https://developer.hashicorp.com/terraform/install) or OpenTofu 1.8+ (https://opentofu.org/docs/intro/install/), or set TIER4_TERRAFORM to its path.',
  );
}

export type LineSink = (line: string, stream: 'stdout' | 'stderr') => void;

export interface TerraformRunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  onLine: LineSink;
  signal?: AbortSignal;
  color?: boolean;
}

/** Runs Terraform commands in one working directory, streaming every line to `onLine`. */
export class TerraformRunner {
  constructor(
    readonly binary: TerraformBinary,
    readonly options: TerraformRunOptions,
  ) {}

  /** Runs `<binary> args…` and returns its exit code; never prompts (-input=false where it applies). */
  async run(args: string[]): Promise<number> {
    const child = execa(this.binary.path, args, {
      cwd: this.options.cwd,
      env: { ...this.options.env, TF_IN_AUTOMATION: '1' },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      ...(this.options.signal ? { cancelSignal: this.options.signal } : {}),
    });
    const pump = (stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr') =>
      stream
        ? new Promise<void>((done) => {
            const lines = createInterface({ input: stream });
            lines.on('line', (line) => this.options.onLine(line, name));
            lines.on('close', done);
          })
        : Promise.resolve();
    const [result] = await Promise.all([child, pump(child.stdout, 'stdout'), pump(child.stderr, 'stderr')]);
    if (result.isCanceled) throw new OperationError(`${this.binary.name} ${args[0]} was cancelled.`);
    return result.exitCode ?? 1;
  }

  private colorArgs(): string[] {
    return this.options.color ? [] : ['-no-color'];
  }

  private async mustSucceed(args: string[], what: string): Promise<void> {
    const code = await this.run(args);
    if (code !== 0) {
      throw new OperationError(
        `${this.binary.name} ${what} failed (exit ${code}).`,
        `Read the ${this.binary.name} messages above (run without --quiet to see them).`,
      );
    }
  }

  init(): Promise<void> {
    return this.mustSucceed(['init', '-input=false', ...this.colorArgs()], 'init');
  }

  /** Writes a plan to `planFile`; true when it would change something. */
  async plan(planFile: string, options: { destroy?: boolean } = {}): Promise<boolean> {
    const code = await this.run([
      'plan',
      '-input=false',
      '-detailed-exitcode',
      `-out=${planFile}`,
      ...(options.destroy ? ['-destroy'] : []),
      ...this.colorArgs(),
    ]);
    if (code === 0) return false;
    if (code === 2) return true;
    throw new OperationError(
      `${this.binary.name} plan failed (exit ${code}).`,
      'Check that `az login` has a session for this subscription, and read the messages above.',
    );
  }

  /** Applies a saved plan: exactly what was reviewed, nothing else. */
  apply(planFile: string): Promise<void> {
    return this.mustSucceed(['apply', '-input=false', ...this.colorArgs(), planFile], 'apply');
  }

  /** The stack outputs as {name: value}; sensitive outputs are left out. */
  async outputs(): Promise<Record<string, unknown>> {
    let text = '';
    const runner = new TerraformRunner(this.binary, {
      ...this.options,
      onLine: (line, stream) => {
        if (stream === 'stdout') text += `${line}\n`;
        else this.options.onLine(line, stream);
      },
    });
    const code = await runner.run(['output', '-json']);
    if (code !== 0) throw new OperationError(`${this.binary.name} output failed (exit ${code}).`);
    const parsed = JSON.parse(text || '{}') as Record<string, { value: unknown; sensitive?: boolean }>;
    const outputs: Record<string, unknown> = {};
    for (const [name, output] of Object.entries(parsed)) {
      if (!output.sensitive) outputs[name] = output.value;
    }
    return outputs;
  }
}
