import type { CommandContext } from './context.js';

/**
 * The contract between cli/program.ts and the command modules, in a module of its own so the command layer reads
 * top-down: program.ts imports the commands, the commands import only this.
 */
export type ActionBody<A extends unknown[]> = (ctx: CommandContext, ...args: A) => Promise<unknown>;

/** What each command group's register function receives. */
export interface Registrar {
  /** Wraps an action: builds the context from the merged options and records the exit code. */
  action<A extends unknown[]>(body: ActionBody<A>): (...args: unknown[]) => Promise<void>;
}
