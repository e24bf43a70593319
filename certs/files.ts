import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { execa } from 'execa';
import { errorMessage, OperationError, UsageError } from '../core/errors.js';
import { redact } from '../core/redact.js';

/** Certificates kept as PEM files (compose or VM installs), replaced by rename and picked up by a reload. */

export async function readPairFiles(
  certPath: string,
  keyPath: string,
): Promise<{ cert: string; key: string } | null> {
  try {
    return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new OperationError(
      `Cannot read ${certPath} or ${keyPath} (${code ?? 'error'}).`,
      'Run tier4 as a user that may read them.',
    );
  }
}

/** Writes a file completely (flushed to disk) under a temporary name, then renames it over the target. */
export async function replaceFileAtomically(
  path: string,
  content: string,
  defaultMode: number,
): Promise<void> {
  const existing = await stat(path).catch(() => undefined);
  const temporary = join(dirname(path), `.${basename(path)}.tier4-${randomBytes(6).toString('hex')}`);
  const mode = existing ? existing.mode & 0o777 : defaultMode;
  const handle = await open(temporary, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await chmod(temporary, mode);
    // Keep the owner nginx expects (only possible as root; otherwise the file is ours anyway).
    if (existing && process.getuid?.() === 0) await chown(temporary, existing.uid, existing.gid);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export async function installPairFiles(
  certPath: string,
  keyPath: string,
  pair: { cert: string; key: string },
): Promise<void> {
  try {
    // Key first: nginx reads both only on reload, which comes after both are in place.
    await replaceFileAtomically(keyPath, pair.key, 0o600);
    await replaceFileAtomically(certPath, pair.cert, 0o644);
  } catch (error) {
    throw new OperationError(
      `Cannot write ${certPath} / ${keyPath} (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}).`,
      'Run tier4 as a user that may write the certificate folder.',
      error,
    );
  }
}

/** Keeps the pair being replaced: `<backupDir>/<timestamp>/{cert.pem,key.pem}`, key mode 0600. */
export async function savePairFiles(
  backupDir: string,
  pair: { cert: string; key: string },
  now: Date,
): Promise<{ cert: string; key: string }> {
  const folder = join(backupDir, now.toISOString().replaceAll(':', '-'));
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const cert = join(folder, 'cert.pem');
  const key = join(folder, 'key.pem');
  await replaceFileAtomically(key, pair.key, 0o600);
  await replaceFileAtomically(cert, pair.cert, 0o644);
  return { cert, key };
}

/**
 * Runs the configured reload (or configuration test) command, e.g. `nginx -s reload`, `systemctl reload nginx` or
 * `docker compose exec nginx nginx -s reload`. It comes from the operator's own tier4.yaml, so it runs
 * through /bin/sh: quoting and `&&` work as they would in a terminal.
 */
export async function runServerCommand(
  command: string,
  options: { signal?: AbortSignal; timeoutMs?: number; field?: 'reloadCommand' | 'testCommand' } = {},
): Promise<void> {
  const field = options.field ?? 'reloadCommand';
  const what = field === 'reloadCommand' ? 'reload' : 'configuration test';
  if (command.trim() === '') throw new UsageError(`tls.source.${field} is empty.`);
  const result = await execa('/bin/sh', ['-c', command], {
    reject: false,
    timeout: options.timeoutMs ?? 60_000,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    stdin: 'ignore',
    all: true,
  });
  if (result.failed) {
    // Redacted whole, before it is cut to its last lines: a key block cut in half is still found.
    const output = redact(String(result.all ?? ''))
      .trim()
      .split('\n')
      .slice(-3)
      .join(' / ');
    throw new OperationError(
      `The ${what} command \`${command}\` failed (${result.exitCode === undefined ? result.shortMessage : `exit ${result.exitCode}`})${output ? `: ${output}` : ''}.`,
      `Check tls.source.${field}; run it by hand to see why.`,
    );
  }
}
