import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { LoadedConfig, SiteNeed } from '../core/config/load.js';
import type { SiteConfig } from '../core/config/schema.js';
import { createOutput, type Io, type Output, type OutputFlags } from './output.js';

export interface GlobalOptions extends OutputFlags {
  config?: string;
}

/** What every command action gets: output, the configuration (loaded on first use), and a cancel signal. */
type ConfigLoader = typeof import('../core/config/load.js');

export class CommandContext {
  private loaded: LoadedConfig | undefined;

  /** Builds a context for a running action. The configuration loader (zod and the schema) is imported here,
   * when a command runs, so `--help` and `--version` never load it. */
  static async create(
    io: Io,
    globals: GlobalOptions,
    signal: AbortSignal,
    commandPath = '',
  ): Promise<CommandContext> {
    const out = await createOutput(io, globals);
    return new CommandContext(io, globals, signal, out, await import('../core/config/load.js'), commandPath);
  }

  private constructor(
    readonly io: Io,
    readonly globals: GlobalOptions,
    readonly signal: AbortSignal,
    readonly out: Output,
    private readonly loader: ConfigLoader,
    /** The command as typed after `tier4` (e.g. `backup list`), for hints that work as written. */
    readonly commandPath = '',
  ) {}

  get configPath(): string {
    return resolve(this.io.cwd, this.globals.config ?? this.io.env.TIER4_CONFIG ?? 'tier4.yaml');
  }

  config(): LoadedConfig {
    this.loaded ??= this.loader.loadConfig(this.configPath);
    return this.loaded;
  }

  /** The site named, or the only one with what the command needs (core/config/load.ts getSite). */
  site(
    name: string | undefined,
    need?: SiteNeed,
    positional = false,
  ): { name: string; site: SiteConfig; loaded: LoadedConfig } {
    const loaded = this.config();
    return {
      ...this.loader.getSite(loaded.config, name, { need, command: this.commandPath, positional }),
      loaded,
    };
  }
}

/** Builds the context inside an action from commander's merged options. */
export type ContextFactory = (command: Command) => CommandContext;
