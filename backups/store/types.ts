import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  size: number;
  /** A file:// repository entry that is a symbolic link: listed so it is reported, never followed. */
  symlink?: boolean;
}

/**
 * Where backup objects live: a folder, an S3-compatible bucket, or an Azure Blob container.
 * Keys are relative to the repository's prefix and use `/`. Every write is atomic: an object is visible
 * complete or not at all, so an interrupted upload never looks like a stored object.
 */
export interface ObjectStore {
  /** The location, for messages: never carries a credential. */
  readonly location: string;
  put(key: string, body: Readable): Promise<void>;
  putBytes(key: string, body: Buffer | string): Promise<void>;
  /** Creates the object only if it does not exist; false when it already did. */
  createExclusive(key: string, body: Buffer | string): Promise<boolean>;
  get(key: string): Promise<Readable>;
  /** The whole object, or undefined when it does not exist. For small objects only. */
  getBytes(key: string): Promise<Buffer | undefined>;
  /** Size of the object, or undefined when it does not exist. */
  head(key: string): Promise<number | undefined>;
  list(prefix: string): AsyncIterable<StoredObject>;
  delete(key: string): Promise<void>;
  /**
   * Removes what interrupted writes left behind (a file:// repository's `.tmp-*` files) older than `ageMs`;
   * returns how many. Stores whose unfinished uploads are invisible and expire by themselves lack it.
   */
  sweepTemporary?(ageMs: number): Promise<number>;
  close(): Promise<void>;
}
