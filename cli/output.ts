import { redact, redactDeep } from '../core/redact.js';

/** Where the CLI writes. Injected, so tests run the real CLI in-process. */
export interface Io {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
}

const ANSI = { red: 31, green: 32, yellow: 33, cyan: 36, bold: 1, dim: 2 } as const;
export type Style = keyof typeof ANSI;

/**
 * The only way commands print. Results go to stdout (one JSON document with --json, otherwise text);
 * everything for people (progress, warnings, notes) goes to stderr. Every byte is redacted.
 */
export class Output {
  private progressShown = false;
  constructor(
    readonly io: Io,
    readonly options: OutputOptions,
  ) {}

  get json(): boolean {
    return this.options.json;
  }

  style(text: string, style: Style): string {
    return this.options.color ? `\u001b[${ANSI[style]}m${text}\u001b[0m` : text;
  }

  /** The command's result: a JSON document with --json, otherwise the human text. */
  result(human: string | (() => string), json: unknown): void {
    this.clearProgress();
    if (this.options.json) {
      this.io.stdout.write(`${JSON.stringify(redactDeep(json), null, 2)}\n`);
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
