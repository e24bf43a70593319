import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { errorMessage, UsageError } from '../errors.js';
import { type IssueLocator, issueLocator } from './issue-hints.js';
import { configSchema, type SiteConfig, type Tier4Config } from './schema.js';

export interface LoadedConfig {
  config: Tier4Config;
  /** Absolute path of the file it came from. */
  path: string;
  /** Folder of that file: relative paths in the configuration resolve from here. */
  baseDir: string;
}

export class ConfigError extends UsageError {
  readonly issues: string[];
  constructor(file: string, issues: string[]) {
    super(
      `${file} is not a valid tier4 configuration:\n  ${issues.join('\n  ')}`,
      'Fix the fields named above; `tier4 config init` writes a commented example.',
    );
    this.issues = issues;
  }
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((key) => String(key)).join('.') || '(top level)';
}

/**
 * One line per problem, each naming the field (and its line in the file, when the text is given), never the
 * value (it may be a secret). An unknown setting gets the known one it was probably meant to be.
 */
export function formatIssues(issues: ReadonlyArray<z.core.$ZodIssue>, locator?: IssueLocator): string[] {
  const lines = new Set<string>();
  // The line goes last, so `field: problem` reads the same with or without it.
  const at = (path: ReadonlyArray<PropertyKey>, key?: string) => {
    const line = locator?.lineOf(path, key);
    return line ? ` (${line})` : '';
  };
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const meant = locator?.suggestion(issue.path, key);
        lines.add(
          `${formatPath([...issue.path, key])}: unknown setting${meant ? `; did you mean "${meant}"?` : ''}${at(issue.path, key)}`,
        );
      }
      continue;
    }
    if (
      issue.code === 'invalid_union' &&
      issue.errors.length > 0 &&
      issue.message.startsWith('Invalid input')
    ) {
      // Report the branch that got furthest rather than a generic "invalid input".
      const best = [...issue.errors].sort((a, b) => b.length - a.length)[0] ?? [];
      if (best.length > 0) {
        for (const line of formatIssues(
          best.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] })),
          locator,
        ))
          lines.add(line);
        continue;
      }
    }
    lines.add(`${formatPath(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}${at(issue.path)}`);
  }
  return [...lines];
}

export function parseConfig(text: string, file = 'tier4.yaml'): Tier4Config {
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    const issues = document.errors.map((error) => {
      const at = error.linePos?.[0];
      return `${at ? `line ${at.line}, column ${at.col}` : 'YAML'}: ${error.code.toLowerCase().replaceAll('_', ' ')}`;
    });
    throw new ConfigError(file, issues);
  }
  // yaml's toJS() refuses a document whose aliases expand too far (its maxAliasCount, default 100; the "billion
  // laughs" attack) by throwing: that is a bad configuration, not a crash.
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new ConfigError(file, [
      `YAML: ${errorMessage(error)} (tier4.yaml needs no aliases; write the values out)`,
    ]);
  }
  // A command parses tier4.yaml once: zod's JIT (code it generates for each object schema on its first parse,
  // ParseContext.jitless in zod's core/schemas.d.ts) costs more than it saves then; interpreted parsing gives
  // the same result. Loading the example configuration: 46-48 ms of CPU instead of 62-70 (#16).
  const result = configSchema.safeParse(value ?? {}, { jitless: true });
  if (!result.success) throw new ConfigError(file, formatIssues(result.error.issues, issueLocator(text)));
  return result.data;
}

export function loadConfig(file: string): LoadedConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new UsageError(
        `No configuration file at ${file}.`,
        'Pass -c FILE, set TIER4_CONFIG, or run `tier4 config init` to write one.',
      );
    }
    throw new UsageError(`Cannot read ${file} (${code ?? 'error'}).`);
  }
  return { config: parseConfig(text, file), path, baseDir: dirname(path) };
}

/** What a command needs of a site; with no --site, the only site that has it is the one meant. */
export type SiteNeed = 'backups' | 'tls' | 'azure' | 'kubernetes';

const SITE_NEEDS: Record<SiteNeed, { fits: (site: SiteConfig) => boolean; kind: string }> = {
  backups: { fits: (site) => site.backups !== undefined, kind: 'with backups' },
  tls: { fits: (site) => site.tls !== undefined, kind: 'with tls' },
  azure: { fits: (site) => site.platform === 'azure', kind: 'with platform: azure' },
  kubernetes: { fits: (site) => site.platform === 'kubernetes', kind: 'with platform: kubernetes' },
};

export interface SiteQuery {
  /** What the command needs of the site (default: any site). */
  need?: SiteNeed | undefined;
  /** The command as typed after `tier4`, e.g. `backup list`, so the hint is a command that works as written. */
  command?: string | undefined;
  /** The site is the command's argument (`tier4 site synth NAME`), not `--site NAME`. */
  positional?: boolean | undefined;
}

/**
 * The one `--site` rule: the site named, or else the only site of the kind the command needs; otherwise a
 * usage error listing the candidates, with a command line that works as written.
 */
export function getSite(
  config: Tier4Config,
  name: string | undefined,
  query: SiteQuery = {},
): { name: string; site: SiteConfig } {
  const names = Object.keys(config.sites);
  if (name === undefined) {
    const need = query.need ? SITE_NEEDS[query.need] : undefined;
    const candidates = need ? names.filter((n) => need.fits(config.sites[n]!)) : names;
    if (candidates.length === 1) return { name: candidates[0]!, site: config.sites[candidates[0]!]! };
    const kind = need ? `sites ${need.kind}` : 'sites';
    if (candidates.length === 0)
      throw new UsageError(
        `This configuration has no site ${need?.kind ?? ''}`.trimEnd() + '.',
        `Sites: ${names.join(', ') || '(none)'}; add the settings to the one meant in tier4.yaml.`,
      );
    const example = query.positional ? candidates[0]! : `--site ${candidates[0]!}`;
    throw new UsageError(
      `Which site? This configuration has ${candidates.length} ${kind}: ${candidates.join(', ')}.`,
      query.command ? `Name one, e.g. \`tier4 ${query.command} ${example}\`.` : `Pass ${example}.`,
    );
  }
  const site = config.sites[name];
  if (!site)
    throw new UsageError(`No site named "${name}" in the configuration.`, `Sites: ${names.join(', ')}.`);
  return { name, site };
}
