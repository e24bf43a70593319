import type { Style } from './output.js';

type Styler = (text: string, style: Style) => string;

/**
 * Markdown for a terminal, enough for our runbooks: headings, lists, code blocks, tables, emphasis and links.
 * Code blocks are indented and kept verbatim (they are commands to copy); nothing is cut: long lines wrap in
 * the terminal or the pager.
 */
export function renderMarkdown(markdown: string, style: Styler): string {
  const out: string[] = [];
  let inCode = false;
  for (const line of markdown.split('\n')) {
    const fence = /^\s*```/.test(line);
    if (fence) {
      inCode = !inCode;
      continue;
    }
    if (inCode) {
      out.push(style(`    ${line}`, 'cyan'));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      const text = inline(heading[2]!, style);
      const level = heading[1]!.length;
      out.push(style(level === 1 ? text.toUpperCase() : text, 'bold'));
      if (level <= 2) out.push(style('─'.repeat(Math.min(stripAnsi(text).length, 78)), 'dim'));
      continue;
    }
    const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
    if (bullet) {
      out.push(`${bullet[1]}  • ${inline(bullet[2]!, style)}`);
      continue;
    }
    const numbered = /^(\s*)(\d+)\.\s+(.*)$/.exec(line);
    if (numbered) {
      out.push(`${numbered[1]}  ${numbered[2]}. ${inline(numbered[3]!, style)}`);
      continue;
    }
    if (/^\s*\|?\s*:?-{3,}/.test(line) && line.includes('|')) continue; // a table's rule line
    if (/^\s*\|/.test(line)) {
      const cells = line
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|');
      out.push(`  ${cells.map((cell) => inline(cell.trim(), style)).join('  │  ')}`);
      continue;
    }
    if (/^>\s?/.test(line)) {
      out.push(style(`  ┃ ${inline(line.replace(/^>\s?/, ''), style)}`, 'yellow'));
      continue;
    }
    // Paragraph lines indented under a list item stay under it (the items gained two columns).
    out.push(/^\s+\S/.test(line) ? `  ${inline(line, style)}` : inline(line, style));
  }
  return out.join('\n');
}

function inline(text: string, style: Styler): string {
  return text
    .replace(/`([^`]+)`/g, (_, code: string) => style(code, 'cyan'))
    .replace(/\*\*([^*]+)\*\*/g, (_, bold: string) => style(bold, 'bold'))
    .replace(/\[([^\]]+)\]\(([^)]+)\)/g, (_, label: string, target: string) =>
      /^https?:/.test(target) ? `${label} (${target})` : label,
    );
}

function stripAnsi(text: string): string {
  return text.replace(/\u001b\[\d+m/g, '');
}
