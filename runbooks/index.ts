import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { packageRoot } from '../core/package-info.js';

/** The runbooks: Markdown procedures shipped with tier4, readable on a server with no browser. */
export interface Runbook {
  name: string;
  title: string;
  path: string;
}

function folder(): string {
  return join(packageRoot(), 'runbooks');
}

export function listRunbooks(): Runbook[] {
  const dir = folder();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.md') && file !== 'README.md')
    .sort()
    .map((file) => {
      const path = join(dir, file);
      const title = /^#\s+(.+)$/m.exec(readFileSync(path, 'utf8'))?.[1]?.trim() ?? file;
      return { name: file.replace(/\.md$/, ''), title, path };
    });
}

export function readRunbook(name: string): { runbook: Runbook; text: string } {
  const wanted = name.replace(/\.md$/, '');
  const runbook = listRunbooks().find((candidate) => candidate.name === wanted);
  if (!runbook) {
    throw new UsageError(
      `There is no runbook named "${name}".`,
      `Runbooks: ${listRunbooks()
        .map((r) => r.name)
        .join(', ')}.`,
    );
  }
  return { runbook, text: readFileSync(runbook.path, 'utf8') };
}

export interface CommandLine {
  line: number;
  text: string;
  argv: string[];
}

/** Splits a command line as a shell would for plain words and quotes (no expansion). */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let quote: string | null = null;
  let inWord = false;
  for (const char of text) {
    if (quote) {
      if (char === quote) quote = null;
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/**
 * Every tier4 command line in a Markdown text: inline code spans that start with `tier4 `, and lines in code
 * blocks that do (after an optional `$ ` or `npx `), with `\` continuations joined and `# comments` dropped.
 */
export function commandLines(markdown: string): CommandLine[] {
  const found: CommandLine[] = [];
  const lines = markdown.split('\n');
  let inFence = false;
  for (let i = 0; i < lines.length; i += 1) {
    const raw = lines[i]!;
    if (/^\s*```/.test(raw)) {
      inFence = !inFence;
      continue;
    }
    if (inFence) {
      let text = raw
        .trim()
        .replace(/^\$\s+/, '')
        .replace(/^npx\s+/, '');
      if (!/^tier4(\s|$)/.test(text)) continue;
      const start = i;
      while (text.endsWith('\\') && i + 1 < lines.length) {
        i += 1;
        text = `${text.slice(0, -1)} ${lines[i]!.trim()}`;
      }
      text = text.replace(/\s+#\s.*$/, '');
      found.push({ line: start + 1, text, argv: splitWords(text).slice(1) });
      continue;
    }
    for (const match of raw.matchAll(/`(?:npx )?(tier4(?: [^`]*)?)`/g)) {
      found.push({ line: i + 1, text: match[1]!, argv: splitWords(match[1]!).slice(1) });
    }
  }
  return found;
}
