import type { Readable } from 'node:stream';
import { OperationError } from '../../core/errors.js';

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
 *
 * The contract every store meets (test/backups/store-conformance.test.ts runs it against each one):
 * - a key that is not plain (see `keyProblem`) is refused with InvalidKeyError before any I/O;
 * - `get` of a missing object throws ObjectNotFoundError; `getBytes` and `head` answer undefined;
 *   `delete` of a missing object succeeds;
 * - `list(prefix)` takes '' or a prefix ending in '/', and yields each object below it exactly once, in no
 *   promised order (callers sort);
 * - `createExclusive` never replaces an object; of racing creators exactly one gets true; a repeat of a
 *   create whose answer was lost (same key, same bytes) gets true, so a retried request is not a refusal.
 */
export interface ObjectStore {
  /** The location, for messages: never carries a credential. */
  readonly location: string;
  put(key: string, body: Readable): Promise<void>;
  putBytes(key: string, body: Buffer | string): Promise<void>;
  /** Creates the object only if it does not exist; false when another writer's object is there. */
  createExclusive(key: string, body: Buffer | string): Promise<boolean>;
  /** A stream of the object; ObjectNotFoundError when it does not exist. */
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

/** The object asked for does not exist: the same error from every store, never an SDK's own. */
export class ObjectNotFoundError extends OperationError {
  constructor(
    readonly key: string,
    location: string,
    cause?: unknown,
  ) {
    super(
      `The object ${key} does not exist in ${location}.`,
      'The repository is incomplete or was changed outside tier4: verify its sets before relying on them.',
      cause,
    );
  }
}

/** A key that could name something outside the repository, or that a store would store as something else. */
export class InvalidKeyError extends OperationError {
  constructor(key: string, problem: string) {
    super(`Refused the object key ${JSON.stringify(key)}: ${problem}.`);
  }
}

/** Object names are limited to 1,024 characters by both S3 and Azure Blob Storage. */
const MAX_KEY_LENGTH = 1024;

/**
 * Why a key is not a plain relative name, or undefined when it is. Refused: empty, absolute, a trailing `/`,
 * an empty, `.` or `..` segment (a file path would leave the root, and Azure's client normalises `a/../b` in
 * the URL to `b`, outside the prefix), a backslash (a separator on Windows and to some S3 servers), control
 * characters (NUL ends a C string), and a `.tmp-` segment (the file store's unfinished writes).
 */
export function keyProblem(key: string): string | undefined {
  if (key === '') return 'it is empty';
  if (key.length > MAX_KEY_LENGTH) return `it is longer than ${MAX_KEY_LENGTH} characters`;
  if (key.startsWith('/')) return 'it is absolute';
  if (key.includes('\\')) return 'it contains a backslash';
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'it contains a control character';
  for (const segment of key.split('/')) {
    if (segment === '') return 'it has an empty segment (a trailing or doubled /)';
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`;
    if (segment.startsWith('.tmp-')) return 'a segment starts with .tmp-, reserved for unfinished writes';
  }
  return undefined;
}

/** The key, checked; every store calls this before any I/O. */
export function checkedKey(key: string): string {
  const problem = keyProblem(key);
  if (problem) throw new InvalidKeyError(key, problem);
  return key;
}

/** A listing prefix: '' (everything) or a plain key followed by '/'. */
export function checkedPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  if (!prefix.endsWith('/'))
    throw new InvalidKeyError(prefix, 'a listing prefix is empty or ends with / (a folder)');
  checkedKey(prefix.slice(0, -1));
  return prefix;
}
