import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isNotFound } from './retry.js';
import type { ObjectStore, StoredObject } from './types.js';

/** A repository in a local (or mounted) folder. Writes go to a temp file, are fsynced, then renamed into place. */
export class FileStore implements ObjectStore {
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = `file://${root}`;
  }

  private path(key: string): string {
    if (key.split('/').some((part) => part === '..' || part === ''))
      throw new Error(`invalid object key ${key}`);
    return join(this.root, ...key.split('/'));
  }

  private tempPath(target: string): string {
    return join(dirname(target), `.tmp-${randomBytes(6).toString('hex')}-${target.split(sep).pop()}`);
  }

  async put(key: string, body: Readable): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
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
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = this.tempPath(target);
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async createExclusive(key: string, body: Buffer | string): Promise<boolean> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    try {
      const handle = await open(target, 'wx', 0o600);
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }

  async get(key: string): Promise<Readable> {
    const path = this.path(key);
    await stat(path); // fail now, with ENOENT, rather than on first read
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
    const base = prefix.replace(/\/+$/, '');
    const start = base === '' ? this.root : this.path(base);
    yield* this.walk(start);
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

  private async *walk(dir: string): AsyncIterable<StoredObject> {
    const entries = await this.entries(dir);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) yield* this.walk(full);
      else if (entry.isSymbolicLink()) {
        yield { key: relative(this.root, full).split(sep).join('/'), size: 0, symlink: true };
      } else if (entry.isFile() && !entry.name.startsWith('.tmp-')) {
        const size = (await stat(full)).size;
        yield { key: relative(this.root, full).split(sep).join('/'), size };
      }
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
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
