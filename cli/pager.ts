import { spawn } from 'node:child_process';
import type { Io } from './output.js';

/**
 * Shows long text through the user's pager when stdout is a terminal ($PAGER, else `less -R`, which keeps
 * colours and quits on q), as git and man do. Elsewhere (pipes, files, tests) the text is printed as is.
 * Resolves to false when no pager could run, so the caller prints instead.
 */
export async function page(io: Io, text: string): Promise<boolean> {
  if (io.stdout.isTTY !== true) return false;
  const pager = io.env.PAGER?.trim() || 'less -R';
  if (pager === 'cat') return false;
  return new Promise((resolvePaged) => {
    const child = spawn(pager, {
      shell: true,
      stdio: ['pipe', 'inherit', 'inherit'],
      env: { LESS: 'FRX', ...io.env },
    });
    child.on('error', () => resolvePaged(false));
    child.on('close', (code) => resolvePaged(code === 0));
    child.stdin.on('error', () => {}); // the reader quit early (q in less): not an error
    child.stdin.end(text);
  });
}
