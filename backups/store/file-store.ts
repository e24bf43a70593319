import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isNotFound } from './retry.js';
import {
  checkedKey,
  checkedPrefix,
  InvalidKeyError,
  ObjectNotFoundError,
  type ObjectStore,
  type StoredObject,
} from './types.js';

/** A repository in a local (or mounted) folder. Writes go to a temp file, are fsynced, then renamed into place. */
export class FileStore implements ObjectStore {
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = `file://${root}`;
  }

  /** The file of a key; a key that is not plain is refused before any I/O. */
  private path(key: string): string {
    return join(this.root, ...checkedKey(key).split('/'));
  }

  /**
   * The file of a key whose folder exists (made if `make`) and lies inside the root: a symbolic link to a
   * folder elsewhere, planted in the repository, never takes a write or delete outside it.
   */
  private async placed(key: string, make: boolean): Promise<string> {
    const target = this.path(key);
    if (make) await mkdir(dirname(target), { recursive: true });
    const [root, folder] = await Promise.all([realpath(this.root), realpath(dirname(target))]);
    const rel = relative(root, folder);
    if (rel.startsWith('..') || isAbsolute(rel))
      throw new InvalidKeyError(key, `its folder leads outside ${this.root} (a symbolic link)`);
    return target;
  }

  private tempPath(target: string): string {
    return join(dirname(target), `.tmp-${randomBytes(6).toString('hex')}-${target.split(sep).pop()}`);
  }

  async put(key: string, body: Readable): Promise<void> {
    const target = await this.placed(key, true);
    const temp = this.tempPath(target);
    try {
      const out = createWriteStream(temp, { flags: 'wx', mode: 0o600 });
      await pipeline(body, out);
      await this.fsync(temp);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async putBytes(key: string, body: Buffer | string): Promise<void> {
    const target = await this.placed(key, true);
    const temp = await this.writeTemp(target, body);
    try {
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /**
   * Written whole to a temp file first, then hard-linked to its name, which fails if the name exists: the
   * object appears complete or not at all. Opening the name itself with O_EXCL would show an empty file to a
   * reader (another process reading the lock) until the write ends. A file system without hard links falls
   * back to that exclusive open.
   */
  async createExclusive(key: string, body: Buffer | string): Promise<boolean> {
    const target = await this.placed(key, true);
    const temp = await this.writeTemp(target, body);
    try {
      await link(temp, target);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST')
        return (await readFile(target).catch(() => undefined))?.equals(Buffer.from(body)) === true;
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP')
        return this.createByExclusiveOpen(target, body);
      throw error;
    } finally {
      await rm(temp, { force: true });
    }
  }

  private async createByExclusiveOpen(target: string, body: Buffer | string): Promise<boolean> {
    try {
      await writeNew(target, body);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }

  /** A new private temp file beside `target` holding `body`, synced to disk. */
  private async writeTemp(target: string, body: Buffer | string): Promise<string> {
    const temp = this.tempPath(target);
    try {
      await writeNew(temp, body);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return temp;
  }

  async get(key: string): Promise<Readable> {
    const path = this.path(key);
    try {
      await stat(path); // fail now rather than on first read
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key, this.location, error);
      throw error;
    }
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async getBytes(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async head(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(key))).size;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const base = checkedPrefix(prefix).slice(0, -1);
    const start = base === '' ? this.root : this.path(base);
    yield* this.walk(start, base === '' ? '' : `${base}/`);
  }

  /** A folder's entries; none when it does not exist. */
  private async entries(dir: string): Promise<Array<import('node:fs').Dirent>> {
    try {
      return await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }

  /** `keyPrefix` is the key of `dir` with a trailing slash: keys are built as the walk descends. */
  private async *walk(dir: string, keyPrefix: string): AsyncIterable<StoredObject> {
    const entries = await this.entries(dir);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    // A folder's files are stat'ed at once, not one after another: the blobs folder holds one file per
    // attachment, and a no-change backup lists them all.
    const sizes = await Promise.all(
      entries.map((entry) =>
        entry.isFile() && !entry.name.startsWith('.tmp-') ? stat(join(dir, entry.name)) : undefined,
      ),
    );
    for (const [index, entry] of entries.entries()) {
      const key = `${keyPrefix}${entry.name}`;
      if (entry.isDirectory()) yield* this.walk(join(dir, entry.name), `${key}/`);
      else if (entry.isSymbolicLink()) yield { key, size: 0, symlink: true };
      else if (sizes[index]) yield { key, size: sizes[index].size };
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(await this.placed(key, false), { force: true });
    } catch (error) {
      if (!isNotFound(error)) throw error; // its folder does not exist: nor does it
    }
  }

  async sweepTemporary(ageMs: number): Promise<number> {
    let removed = 0;
    const before = Date.now() - ageMs;
    const sweep = async (dir: string): Promise<void> => {
      for (const entry of await this.entries(dir)) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await sweep(full);
        else if (entry.isFile() && entry.name.startsWith('.tmp-') && (await stat(full)).mtimeMs < before) {
          await rm(full, { force: true });
          removed += 1;
        }
      }
    };
    await sweep(this.root);
    return removed;
  }

  async close(): Promise<void> {}

  private async fsync(path: string): Promise<void> {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

/** Creates `path` (failing with EEXIST if it exists), private to us, holding `body`, synced to disk. */
async function writeNew(path: string, body: Buffer | string): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(body);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
