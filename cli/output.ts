import { redact, redactDeep } from '../core/redact.js';

/** Where the CLI writes. Injected, so tests run the real CLI in-process. */
export interface Io {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** How results are printed: text for people, or one document (JSON or YAML) for scripts. */
export const OUTPUT_FORMATS = ['text', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface OutputOptions {
  format: OutputFormat;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
}

/** The global options that decide how a command prints. */
export interface OutputFlags {
  json?: boolean;
  output?: OutputFormat;
  quiet?: boolean;
  verbose?: boolean;
  color?: boolean;
}

/** `-o json|yaml` (or `--json`, the same as `-o json`); text otherwise. */
export function outputFormat(flags: OutputFlags): OutputFormat {
  return flags.output ?? (flags.json ? 'json' : 'text');
}

/**
 * The Output for these flags. A document is written as JSON, or as YAML of the very same document (through
 * JSON first, so both carry the same values); the yaml package is loaded only when YAML is asked for.
 */
export async function createOutput(io: Io, flags: OutputFlags): Promise<Output> {
  const format = outputFormat(flags);
  const options: OutputOptions = {
    format,
    quiet: flags.quiet === true,
    verbose: flags.verbose === true,
    color: flags.color !== false && io.stdout.isTTY === true && io.env.NO_COLOR === undefined,
  };
  if (format !== 'yaml') return new Output(io, options);
  const { stringify } = await import('yaml');
  return new Output(io, options, (doc) => stringify(JSON.parse(JSON.stringify(doc)), { lineWidth: 0 }));
}

const asJson = (doc: unknown): string => `${JSON.stringify(doc, null, 2)}\n`;

const ANSI = { red: 31, green: 32, yellow: 33, cyan: 36, bold: 1, dim: 2 } as const;
export type Style = keyof typeof ANSI;

/**
 * The only way commands print. Results go to stdout (one JSON or YAML document with --json/-o, otherwise text);
 * everything for people (progress, warnings, notes) goes to stderr. Every byte is redacted.
 */
export class Output {
  private progressShown = false;
  constructor(
    readonly io: Io,
    readonly options: OutputOptions,
    private readonly serialize: (doc: unknown) => string = asJson,
  ) {}

  /** Whether results are one document (JSON or YAML) rather than text for people. */
  get json(): boolean {
    return this.options.format !== 'text';
  }

  style(text: string, style: Style): string {
    return this.options.color ? `\u001b[${ANSI[style]}m${text}\u001b[0m` : text;
  }

  /** The command's result: one document with --json or -o yaml, otherwise the human text. */
  result(human: string | (() => string), json: unknown): void {
    this.clearProgress();
    if (this.json) {
      this.io.stdout.write(this.serialize(redactDeep(json)));
    } else {
      const text = typeof human === 'function' ? human() : human;
      if (text !== '') this.io.stdout.write(`${redact(text)}${text.endsWith('\n') ? '' : '\n'}`);
    }
  }

  info(text: string): void {
    if (!this.options.quiet) this.toStderr(text);
  }

  success(text: string): void {
    if (!this.options.quiet) this.toStderr(this.style(text, 'green'));
  }

  warn(text: string): void {
    this.toStderr(`${this.style('warning:', 'yellow')} ${text}`);
  }

  error(text: string, hint?: string): void {
    this.toStderr(
      `${this.style('error:', 'red')} ${text}${hint ? `\n${this.style('hint:', 'cyan')} ${hint}` : ''}`,
    );
  }

  debug(text: string): void {
    if (this.options.verbose) this.toStderr(this.style(text, 'dim'));
  }

  /** A status line rewritten in place, only on a terminal and never in quiet mode. */
  progress(text: string): void {
    if (this.options.quiet || !this.io.stderr.isTTY) return;
    this.io.stderr.write(`\r\u001b[2K${redact(text)}`);
    this.progressShown = true;
  }

  clearProgress(): void {
    if (this.progressShown) {
      this.io.stderr.write('\r\u001b[2K');
      this.progressShown = false;
    }
  }

  private toStderr(text: string): void {
    this.clearProgress();
    this.io.stderr.write(`${redact(text)}\n`);
  }
}

/** Formats rows as aligned columns for people. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export { formatBytes } from '../core/bytes.js';
