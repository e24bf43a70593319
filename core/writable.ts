import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Whether this user could create `path` as a folder (or write into it, when it exists), found without writing
 * anything: the path itself, or its nearest existing parent, must be a folder this user may write to.
 * Returns what stands in the way, or undefined.
 */
export async function folderProblem(path: string): Promise<string | undefined> {
  for (let at = path; ; at = dirname(at)) {
    const info = await stat(at).catch(() => undefined);
    if (!info) {
      if (dirname(at) === at) return `${path}: no part of it exists`;
      continue;
    }
    if (!info.isDirectory()) return `${at} is not a folder`;
    try {
      await access(at, constants.W_OK);
    } catch {
      return `${at} is not writable by this user`;
    }
    return undefined;
  }
}
