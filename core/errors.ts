/**
 * Errors that carry their own exit code and a hint for the operator.
 * Libraries throw these; the CLI turns them into one or two sentences and an exit code.
 */

export const EXIT_OK = 0;
/** The operation ran and failed, or found a problem. */
export const EXIT_FAILURE = 1;
/** Usage or configuration error: nothing was attempted. */
export const EXIT_USAGE = 2;
/** Interrupted by Ctrl-C or SIGTERM: 128 + SIGINT's number, as shells report it. */
export const EXIT_INTERRUPTED = 130;

export class Tier4Error extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;

  constructor(message: string, options: { exitCode?: number; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
    this.hint = options.hint;
  }
}

/** Bad command-line usage or a bad configuration file: exit 2, nothing changed. */
export class UsageError extends Tier4Error {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: EXIT_USAGE, ...(hint === undefined ? {} : { hint }) });
  }
}

/** The operation was attempted and failed: exit 1. */
export class OperationError extends Tier4Error {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, { exitCode: EXIT_FAILURE, ...(hint === undefined ? {} : { hint }), cause });
  }
}

/** The short text of any thrown value, without a stack. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
