import { rmSync } from 'node:fs';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Private folders where a restore keeps plaintext (the decrypted dump, attachments on their way to a bucket).
 * Named tier4-restore-<pid>-XXXXXX (mode 0700, from mkdtemp) so the next run can tell a dead run's folder from
 * a running one's, removed on every exit path we can catch, and swept at the next run when a kill left one.
 */
const PREFIX = 'tier4-restore-';
const NAME = /^tier4-restore-(?:(\d+)-)?[A-Za-z0-9]{6}$/;
/** Folders of earlier versions carry no pid: only one this old is surely not in use. */
const UNNAMED_STALE_MS = 24 * 3600_000;

const live = new Set<string>();
let exitHookInstalled = false;

/** A new private work folder in `parent`, removed even if the process leaves through process.exit(). */
export async function makeWorkFolder(parent: string): Promise<string> {
  const dir = await mkdtemp(join(parent, `${PREFIX}${process.pid}-`));
  live.add(dir);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A second Ctrl-C leaves at once through process.exit(): 'exit' still runs, synchronously.
    process.on('exit', () => {
      for (const path of live) rmSync(path, { recursive: true, force: true });
    });
  }
  return dir;
}

export async function removeWorkFolder(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  live.delete(dir);
}

/**
 * Removes work folders in `parent` left by restores that are gone (killed): ours only (same owner), real
 * folders only (never a symbolic link), whose process no longer runs. Returns what it removed.
 */
export async function sweepStaleWorkFolders(parent: string, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    const match = NAME.exec(name);
    if (!match) continue;
    const path = join(parent, name);
    const info = await lstat(path).catch(() => undefined);
    if (!info?.isDirectory() || (process.getuid && info.uid !== process.getuid())) continue;
    const pid = match[1] ? Number(match[1]) : undefined;
    const stale = pid === undefined ? now - info.mtimeMs > UNNAMED_STALE_MS : !processRuns(pid);
    if (!stale || live.has(path)) continue;
    await rm(path, { recursive: true, force: true }).catch(() => undefined);
    removed.push(path);
  }
  return removed;
}

/** Whether a process with this id runs on this machine (another user's counts). */
export function processRuns(pid: number): boolean {
  // Our own folders are in `live`; one with our pid but not there is from an earlier process that had it.
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
