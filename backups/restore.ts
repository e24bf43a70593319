import { randomBytes } from 'node:crypto';
import { statfs, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type pg from 'pg';
import type { CheckStatus } from '../core/checks.js';
import { mapLimit } from '../core/concurrency.js';
import { EXIT_INTERRUPTED, errorMessage, OperationError, Tier4Error, UsageError } from '../core/errors.js';
import {
  connectDatabase,
  type DatabaseTarget,
  databaseName,
  describeDatabase,
  toolConnection,
  withDatabase,
} from '../core/postgres/connection.js';
import {
  assertToolCanHandle,
  findPgTool,
  findToolBeside,
  type PgTool,
  toolErrorDetail,
} from '../core/postgres/pg-tools.js';
import { printableKey, unsafeBlobKey } from '../core/primero/tables.js';
import { type BlobEndpoint, UnsafeBlobError } from './attachments.js';
import { decryptStream } from './crypto/age.js';
import { DigestStream } from './crypto/digest.js';
import { feedArchive, writeArchive } from './dump-compression.js';
import { inOrder } from './in-order.js';
import type { BlobRecord, Manifest } from './manifest.js';
import { pinDump, pinnedRead } from './pinned-dump.js';
import { DataLoadError, loadTableData } from './postgres/parallel-data-load.js';
import { listedIds, type RestoreLists, splitRestoreList } from './postgres/restore-list.js';
import {
  type IncompleteRestore,
  incompleteMarker,
  markComplete,
  markIncomplete,
  parseIncomplete,
  quoteIdent,
  readIncomplete,
} from './postgres/restore-marker.js';
import type { ProgressListener } from './progress.js';
import type { SiteRepository } from './site-repository.js';
import { type FoundSet, findSet, type VerifyReport, verifySet } from './verify.js';
import { makeWorkFolder, processRuns, removeWorkFolder, sweepStaleWorkFolders } from './work-folder.js';
import { findZstd } from './zstd.js';

export type TargetState = 'absent' | 'empty' | 'not-empty';

export interface RestorePlan {
  manifest: Manifest;
  verification: VerifyReport;
  target: DatabaseTarget;
  targetState: TargetState;
  targetServerMajor: number;
  /** The target holds a restore that never finished (it was killed or failed half-way). */
  targetIncomplete?: IncompleteRestore;
  /** For the operator, loudly: e.g. "latest" passed over a newer set that cannot be trusted. */
  warnings: string[];
}

/**
 * Everything that can be checked before touching the target: the set is complete and authentic, every object
 * matches its checksum, the identity decrypts it, the target server is reachable and new enough, and whether
 * the target database exists and holds anything.
 */
export async function planRestore(
  repo: SiteRepository,
  id: string,
  target: DatabaseTarget,
  identities: string[],
  options: {
    signal?: AbortSignal;
    onProgress?: ProgressListener;
    /** A verification the caller already ran (a drill); then only the database dump must have passed it. */
    verified?: VerifyReport;
  } = {},
): Promise<RestorePlan> {
  // The dump's SHA-256 is checked in the pass that decrypts it for pg_restore (fetchVerifiedDump, restoreDump),
  // before the target changes: hashing it here as well would read it twice.
  const { entry, verification } = await checkSet(repo, id, identities, { ...options, dumpHashedOnUse: true });
  return {
    manifest: entry.manifest,
    verification,
    warnings: entry.warnings,
    ...(await inspectTarget(target)),
  };
}

/**
 * The set's half of a plan: "latest" resolved, the manifest's MAC checked (findSet), every object present with
 * its size and SHA-256 (nothing recorded in the repository), and the identity able to decrypt the dump.
 */
export async function checkSet(
  repo: SiteRepository,
  id: string,
  identities: string[],
  options: {
    signal?: AbortSignal;
    onProgress?: ProgressListener;
    verified?: VerifyReport;
    /** The caller hashes the dump as it reads it (a restore): here only its presence and size are checked. */
    dumpHashedOnUse?: boolean;
  } = {},
): Promise<{ entry: FoundSet; verification: VerifyReport }> {
  const entry = await findSet(repo, id);
  const { dumpHashedOnUse, verified, ...rest } = options;
  const verification =
    verified ??
    (await verifySet(repo, entry.id, {
      ...rest,
      record: false,
      ...(dumpHashedOnUse ? { hashedOnUse: new Set([entry.manifest.database.object]) } : {}),
    }));
  const blocking = verified
    ? verification.failures.filter((failure) => failure.object === entry.manifest.database.object)
    : verification.failures;
  if (blocking.length > 0) {
    const first = blocking[0]!;
    throw new OperationError(
      `Backup set ${entry.id} failed verification: ${first.object}: ${first.problem}${blocking.length > 1 ? ` (and ${blocking.length - 1} more)` : ''}. Nothing was restored.`,
      'Restore an older set (`tier4 backup list`), and investigate the repository.',
    );
  }
  // Reading the header proves the identity works before anything is written.
  const probe = await decryptStream(
    await repo.store.get(entry.manifest.database.object),
    identities,
    entry.manifest.database.object,
  );
  probe.destroy();
  return { entry, verification };
}

/** The target's half of a plan, read only: the server's version, and whether the database exists and holds anything. */
export async function inspectTarget(
  target: DatabaseTarget,
): Promise<Pick<RestorePlan, 'target' | 'targetState' | 'targetServerMajor' | 'targetIncomplete'>> {
  const admin = await connectDatabase({ ...target, url: withDatabase(target.url, 'postgres') });
  try {
    const server = await admin.query<{ num: string }>("SELECT current_setting('server_version_num') AS num");
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      databaseName(target.url),
    ]);
    let targetState: TargetState = exists.rowCount ? 'empty' : 'absent';
    const incomplete = await readIncomplete(admin, databaseName(target.url));
    if (targetState === 'empty') {
      const db = await connectDatabase(target);
      try {
        const { rows } = await db.query(
          "SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')",
        );
        if (rows[0].n > 0) targetState = 'not-empty';
      } finally {
        await db.end();
      }
    }
    return {
      target,
      targetState,
      targetServerMajor: Math.floor(Number(server.rows[0]!.num) / 10_000),
      ...(incomplete ? { targetIncomplete: incomplete } : {}),
    };
  } finally {
    await admin.end();
  }
}

export interface RestoreOptions {
  identities: string[];
  /** Drop and recreate a target database that holds anything. */
  replace?: boolean;
  /** Parallel pg_restore jobs; above 1 the dump is decrypted to a private temp file first (pg_restore -j needs one). */
  jobs?: number;
  attachmentsTo?: BlobEndpoint;
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  tempDir?: string;
}

/** An attachment the restore refused to write, and why. */
export interface RestoreProblem {
  key: string;
  problem: 'unsafe-key' | 'unsafe-path';
  detail?: string;
}

export interface RestoreResult {
  id: string;
  /** Attachments not restored; the database and every other attachment were. */
  problems: RestoreProblem[];
  database: string;
  restoredTables: number;
  attachments: number;
  /** False when no --attachments-to was given: then no attachment was restored. */
  attachmentsRestored: boolean;
  attachmentBytes: number;
  seconds: { database: number; attachments: number; total: number };
}

export async function runRestore(
  repo: SiteRepository,
  plan: RestorePlan,
  options: RestoreOptions,
): Promise<RestoreResult> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => {});
  const { manifest, target } = plan;
  if (plan.targetState === 'not-empty' && !options.replace) {
    throw new UsageError(
      `The target database ${describeDatabase(target.url)} is not empty; nothing was restored.`,
      'Restore into a new database, or pass --replace to drop and recreate it.',
    );
  }
  const method = restoreMethod(plan, options);
  const { jobs, inPlace, viaFile, tempParent } = method;
  await Promise.all([
    sweepStaleWorkFolders(tempParent),
    inOrder(restorePrerequisites(repo, plan, method).map((prerequisite) => prerequisite.check())),
  ]);
  const pgRestore = await restoreTool(repo, plan);

  const name = databaseName(target.url);
  const marker = incompleteMarker(manifest.id, name);
  // Plaintext touches local disk only in this private folder, made before the target is touched (a bad
  // --temp-dir changes nothing), removed on every way out.
  const workDir = await makeWorkFolder(tempParent);
  let work: string | undefined;
  let swapped = false;
  let markedInPlace = false;
  let attachmentsWritten = 0;
  let fetching: Promise<string | Buffer> | undefined;
  try {
    // The dump restored is the dump verified: as a file, it is checked before pg_restore sees it; streamed, the
    // object is hashed first and the stream held to its header (pinned-dump.ts), and hashed again to the end.
    // The work database is created while the dump is fetched (a failure drops it, below); a target restored in
    // place is not touched before the dump is verified.
    fetching = viaFile
      ? fetchVerifiedDump(repo, manifest, options.identities, workDir)
      : pinDump(repo, manifest.database, () => dumpMismatch(manifest));
    fetching.catch(() => undefined); // awaited below, also when creating the work database failed first
    const admin = await connectDatabase({ ...target, url: withDatabase(target.url, 'postgres') });
    try {
      if (inPlace) {
        await fetching;
        await markIncomplete(admin, name, marker);
        markedInPlace = true;
      } else {
        await sweepStaleWorkDatabases(admin, name);
        work = `tier4_work_${randomBytes(5).toString('hex')}`;
        await admin.query(`CREATE DATABASE ${quoteIdent(work)}`);
        await markIncomplete(admin, work, marker);
      }
    } finally {
      await admin.end();
    }
    const fetched = await fetching;
    const dumpFile = typeof fetched === 'string' ? fetched : undefined;
    const pinned = typeof fetched === 'string' ? undefined : fetched;
    const into: DatabaseTarget = work ? { ...target, url: withDatabase(target.url, work) } : target;
    progress({ phase: 'restore', step: 'database' });
    await restoreDump(pgRestore.path, repo, manifest, into, options, {
      jobs,
      dumpFile,
      pinned,
      skipExtensionComments: inPlace,
      psql: usesPsql(method) ? (await psqlTool(repo, plan)).path : undefined,
    });
    const databaseDone = Date.now();

    let attachmentBytes = 0;
    const problems: RestoreProblem[] = [];
    if (options.attachmentsTo) {
      const restored = await restoredChecksums(into);
      let done = 0;
      await mapLimit(
        manifest.attachments.blobs,
        options.concurrency ?? 4,
        async (blob) => {
          // A key that is not a plain name is never turned into a path or an object name.
          if (unsafeBlobKey(blob.key)) {
            problems.push({ key: printableKey(blob.key), problem: 'unsafe-key' });
            return;
          }
          try {
            // Awaited first: `total += await …` would add to the total read before the await, and blobs
            // restored at the same time would overwrite each other's bytes.
            const bytes = await restoreBlob(repo, blob, options, restored.get(blob.key), workDir);
            attachmentBytes += bytes;
          } catch (error) {
            if (!(error instanceof UnsafeBlobError)) throw error;
            problems.push({ key: blob.key, problem: 'unsafe-path', detail: error.message });
            return;
          }
          done += 1;
          attachmentsWritten = done;
          progress({
            phase: 'attachments',
            done,
            total: manifest.attachments.blobs.length,
            bytes: attachmentBytes,
          });
        },
        options.signal,
      );
    }
    options.signal?.throwIfAborted();
    if (work) {
      await swapIntoPlace(target, work, name, plan.targetState === 'not-empty');
      swapped = true;
    }
    const admin2 = await connectDatabase({ ...target, url: withDatabase(target.url, 'postgres') });
    try {
      await markComplete(admin2, name, manifest.id);
    } finally {
      await admin2.end();
    }
    const finished = Date.now();
    const restoredTables = await countTables(target);
    return {
      id: manifest.id,
      database: describeDatabase(target.url),
      restoredTables,
      attachments: options.attachmentsTo ? manifest.attachments.blobs.length - problems.length : 0,
      attachmentsRestored: options.attachmentsTo !== undefined,
      attachmentBytes,
      problems,
      seconds: {
        database: (databaseDone - started) / 1000,
        attachments: (finished - databaseDone) / 1000,
        total: (finished - started) / 1000,
      },
    };
  } catch (error) {
    // A work database that never took the target's name is dropped: the target stays as it was.
    if (work && !swapped) await dropDatabase(target, work).catch(() => undefined);
    if (options.signal?.aborted) {
      throw interruptedRestore(manifest.id, target, {
        markedInPlace,
        swapped,
        attachments: options.attachmentsTo
          ? { written: attachmentsWritten, of: manifest.attachments.blobs.length, to: options.attachmentsTo }
          : undefined,
      });
    }
    throw error;
  } finally {
    // Before the error reaches the operator: no decrypted file outlives the restore (nor is still being written).
    await fetching?.catch(() => undefined);
    await removeWorkFolder(workDir);
  }
}

/** Ctrl-C: says exactly what the stopped restore left, so the operator knows what to do next. */
function interruptedRestore(
  set: string,
  target: DatabaseTarget,
  state: {
    markedInPlace: boolean;
    swapped: boolean;
    attachments: { written: number; of: number; to: BlobEndpoint } | undefined;
  },
): Tier4Error {
  const database = describeDatabase(target.url);
  const left = [
    state.swapped
      ? `The database ${database} holds set ${set}, but the restore did not finish: restore again to complete it.`
      : state.markedInPlace
        ? `The database ${database} is partly restored and marked incomplete: restore again with --replace.`
        : `The database ${database} was not changed (the copy being built beside it was removed).`,
    ...(state.attachments
      ? [
          `${state.attachments.written} of ${state.attachments.of} attachments were written to ${state.attachments.to.description}, each whole; a new restore writes them all.`,
        ]
      : []),
    'No decrypted file was left on disk.',
  ];
  return new Tier4Error(`The restore of ${set} was stopped.`, {
    exitCode: EXIT_INTERRUPTED,
    hint: left.join(' '),
  });
}

/** How a restore goes about it; the dry run reports it and checks the same prerequisites. */
export interface RestoreMethod {
  jobs: number;
  /** Into the empty database that exists, instead of a work database renamed at the end. */
  inPlace: boolean;
  /** The dump is decrypted into a private file under tempParent first (pg_restore -j and a TOC list need one). */
  viaFile: boolean;
  tempParent: string;
}

export function restoreMethod(
  plan: Pick<RestorePlan, 'targetState'>,
  options: { jobs?: number; tempDir?: string },
): RestoreMethod {
  const jobs = Math.max(1, options.jobs ?? 2);
  // A database that existed empty before the restore (e.g. set up by CloudNativePG, owned by a role that may not
  // create databases) is restored in place; its extensions may belong to another role, so restoring their
  // comments would fail: they are left out through a TOC list, which needs the dump as a file. Any other target
  // is restored into a new work database beside it, which takes the target's name only once all succeeded.
  const inPlace = plan.targetState === 'empty';
  return { jobs, inPlace, viaFile: jobs > 1 || inPlace, tempParent: options.tempDir ?? tmpdir() };
}

export interface CheckOutcome {
  /** The one check vocabulary (core/checks.ts); a prerequisite that fails throws instead. */
  status: Exclude<CheckStatus, 'fail'>;
  detail: string;
}

/** One thing a restore needs before it changes anything; check() throws a Tier4Error saying why not. */
export interface Prerequisite {
  name: string;
  check(): Promise<CheckOutcome>;
}

/**
 * What a restore needs of the target and this machine, checked before anything is changed (and by the dry
 * run): a pg_restore new enough, a role that may build the database, the extensions the set uses, and room for
 * the decrypted dump.
 */
export function restorePrerequisites(
  repo: SiteRepository,
  plan: RestorePlan,
  method: RestoreMethod,
): Prerequisite[] {
  return [
    {
      name: 'pg_restore',
      check: async () => {
        const tool = await restoreTool(repo, plan);
        return { status: 'ok', detail: `pg_restore ${tool.version} (${tool.path})` };
      },
    },
    {
      name: 'psql',
      check: async () => {
        if (!usesPsql(method)) return { status: 'skip', detail: 'pg_restore loads the data (--jobs 1)' };
        const tool = await psqlTool(repo, plan);
        return {
          status: 'ok',
          detail: `psql ${tool.version} (${tool.path}), loads the table data over ${method.jobs} connections`,
        };
      },
    },
    { name: 'permissions', check: () => checkRole(plan) },
    { name: 'extensions', check: () => checkExtensions(plan, method) },
    { name: 'temp space', check: () => checkTempSpace(plan, method) },
    { name: 'zstd', check: () => checkDecompressor(repo, plan) },
  ];
}

/** pg_restore, looked up once per plan (the prerequisite and the restore both need it). */
const restoreTools = new WeakMap<RestorePlan, ReturnType<typeof findRestoreTool>>();

function restoreTool(repo: SiteRepository, plan: RestorePlan) {
  let tool = restoreTools.get(plan);
  if (!tool) {
    tool = findRestoreTool(repo, plan);
    restoreTools.set(plan, tool);
  }
  return tool;
}

/** More than one job loads the table data through psql sessions (restoreInPhases), from the decrypted file. */
function usesPsql(method: RestoreMethod): boolean {
  return method.jobs > 1 && method.viaFile;
}

const psqlTools = new WeakMap<RestorePlan, Promise<PgTool>>();

function psqlTool(repo: SiteRepository, plan: RestorePlan): Promise<PgTool> {
  let tool = psqlTools.get(plan);
  if (!tool) {
    tool = restoreTool(repo, plan).then((pgRestore) => findToolBeside(pgRestore, 'psql'));
    psqlTools.set(plan, tool);
  }
  return tool;
}

async function findRestoreTool(repo: SiteRepository, plan: RestorePlan) {
  const tool = await findPgTool('pg_restore', repo.env);
  assertToolCanHandle(
    tool,
    Math.max(plan.manifest.database.serverMajor, plan.targetServerMajor),
    'pg_restore',
  );
  return tool;
}

/** A dump compressed with zstd needs the program to be restored (decision 0018). */
async function checkDecompressor(repo: SiteRepository, plan: RestorePlan): Promise<CheckOutcome> {
  const compression = plan.manifest.database.compression;
  if (compression?.method !== 'zstd')
    return {
      status: 'skip',
      detail: `the dump is ${compression ? `${compression.method}-compressed` : 'compressed by pg_dump'}`,
    };
  const tool = await findZstd(repo.env);
  return { status: 'ok', detail: `zstd ${tool.version} (${tool.path})` };
}

/** A role that may not create the work database (or rename the target it replaces) is refused up front. */
async function checkRole(plan: RestorePlan): Promise<CheckOutcome> {
  const { target } = plan;
  const name = databaseName(target.url);
  const admin = await connectDatabase({ ...target, url: withDatabase(target.url, 'postgres') });
  try {
    const { rows } = await admin.query<{
      rolname: string;
      rolsuper: boolean;
      rolcreatedb: boolean;
      owns: boolean | null;
    }>(
      `SELECT r.rolname, r.rolsuper, r.rolcreatedb,
              (SELECT pg_has_role(current_user, d.datdba, 'MEMBER') FROM pg_database d WHERE d.datname = $1) AS owns
         FROM pg_roles r WHERE r.rolname = current_user`,
      [name],
    );
    const role = rows[0]!;
    if (plan.targetState !== 'empty' && !role.rolsuper && !role.rolcreatedb) {
      throw new UsageError(
        `The role restoring into ${describeDatabase(target.url)} may not create databases; nothing was changed.`,
        'A restore builds the database beside the target and gives it the name at the end: use a role with CREATEDB, or restore into an empty database that exists.',
      );
    }
    if (plan.targetState === 'not-empty' && !role.rolsuper && role.owns !== true) {
      throw new UsageError(
        `The role restoring into ${describeDatabase(target.url)} does not own that database, so it cannot replace it; nothing was changed.`,
        "Restore as the database's owner (or a superuser).",
      );
    }
    const may = role.rolsuper
      ? 'a superuser'
      : role.rolcreatedb
        ? 'may create databases'
        : 'restores in place';
    return { status: 'ok', detail: `role ${role.rolname}: ${may}` };
  } finally {
    await admin.end();
  }
}

/**
 * The dump creates the extensions the backed-up database had (pg_dump writes CREATE EXTENSION IF NOT EXISTS).
 * One the target server does not have fails the restore: refused up front. One only a superuser may create
 * (pg_available_extension_versions.superuser and .trusted, PostgreSQL 13+ docs, "pg_available_extension_versions")
 * fails for another role unless the database restored into has it already: said as a warning.
 */
async function checkExtensions(plan: RestorePlan, method: RestoreMethod): Promise<CheckOutcome> {
  const wanted = plan.manifest.database.extensions.map((e) => e.name).filter((name) => name !== 'plpgsql');
  if (wanted.length === 0) return { status: 'ok', detail: 'the set uses no extension' };
  const { target } = plan;
  const admin = await connectDatabase({ ...target, url: withDatabase(target.url, 'postgres') });
  let available: Array<{ name: string; anyone: boolean }>;
  let superuser: boolean;
  try {
    ({ rows: available } = await admin.query<{ name: string; anyone: boolean }>(
      `SELECT name, bool_or(trusted OR NOT superuser) AS anyone
         FROM pg_available_extension_versions WHERE name = ANY($1) GROUP BY name`,
      [wanted],
    ));
    const role = await admin.query<{ rolsuper: boolean }>(
      'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
    );
    superuser = role.rows[0]?.rolsuper === true;
  } finally {
    await admin.end();
  }
  const missing = wanted.filter((name) => !available.some((row) => row.name === name));
  if (missing.length > 0) {
    throw new OperationError(
      `The target server does not have the extension(s) ${missing.join(', ')} that backup set ${plan.manifest.id} uses; nothing was changed.`,
      'Install them on the target server (for most, the postgresql-contrib package or an image that has them), then restore.',
    );
  }
  const restricted = superuser ? [] : available.filter((row) => !row.anyone).map((row) => row.name);
  // A new database is a copy of template1: an extension installed there (or in the empty target) is not created.
  const into = method.inPlace ? databaseName(target.url) : 'template1';
  const present = restricted.length > 0 ? await installedExtensions(target, into) : [];
  const lacking = restricted.filter((name) => !present.includes(name));
  if (lacking.length > 0) {
    return {
      status: 'warn',
      detail: `only a superuser may create ${lacking.join(', ')}, and ${into} does not have it: the restore fails unless a superuser installs it there first`,
    };
  }
  return { status: 'ok', detail: `${wanted.join(', ')} available` };
}

async function installedExtensions(target: DatabaseTarget, database: string): Promise<string[]> {
  try {
    const db = await connectDatabase({ ...target, url: withDatabase(target.url, database) });
    try {
      const { rows } = await db.query<{ extname: string }>('SELECT extname FROM pg_extension');
      return rows.map((row) => row.extname);
    } finally {
      await db.end();
    }
  } catch {
    return []; // cannot look: assume it is not there
  }
}

/** Refuses a temp folder without room for the decrypted dump (only when the dump goes through a file). */
async function checkTempSpace(plan: RestorePlan, method: RestoreMethod): Promise<CheckOutcome> {
  if (!method.viaFile)
    return { status: 'skip', detail: 'the dump is streamed into pg_restore (--jobs 1, new database)' };
  const needed = plan.manifest.database.plainSize + 16 * 1024 * 1024;
  const space = await statfs(method.tempParent);
  const free = space.bavail * space.bsize;
  if (free < needed) {
    throw new OperationError(
      `The temp folder ${method.tempParent} has ${mib(free)} MiB free; the decrypted dump needs ${mib(needed)} MiB. Nothing was changed.`,
      'Pass --temp-dir a folder with more room (it is private and emptied afterwards), or --jobs 1 to stream the dump into a new database.',
    );
  }
  return {
    status: 'ok',
    detail: `${mib(free)} MiB free in ${method.tempParent}; the dump needs ${mib(needed)} MiB`,
  };
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}

/** Decrypts the dump into a private file while hashing the ciphertext it reads; a changed object is refused. */
async function fetchVerifiedDump(
  repo: SiteRepository,
  manifest: Manifest,
  identities: string[],
  workDir: string,
): Promise<string> {
  const cipher = new DigestStream('sha256');
  const decrypted = await decryptStream(
    (await repo.store.get(manifest.database.object)).pipe(cipher),
    identities,
    manifest.database.object,
  );
  const file = join(workDir, 'database.dump');
  let written: number;
  try {
    written = await writeArchive(decrypted, manifest.database.compression, file, repo.env);
  } catch (error) {
    // A damaged object fails authentication part-way, before its hash can be compared: say which it is.
    if (error instanceof OperationError || error instanceof UsageError) throw error;
    throw damagedDump(manifest, error);
  }
  assertSameDump(manifest, cipher);
  // The archive is the size pg_dump wrote: the manifest (under its MAC) says so.
  if (written !== manifest.database.plainSize) {
    throw new OperationError(
      `The database dump ${manifest.database.object} decompressed to ${written} bytes, but its manifest records ${manifest.database.plainSize}: the set was written wrongly. Nothing was restored into the target.`,
      DAMAGED_DUMP_HINT,
    );
  }
  return file;
}

function damagedDump(manifest: Manifest, error: unknown): OperationError {
  return new OperationError(
    `The database dump ${manifest.database.object} could not be decrypted to the end (${errorMessage(error)}): it is damaged, or it changed in the repository after it was verified. Nothing was restored into the target.`,
    DAMAGED_DUMP_HINT,
  );
}

const DAMAGED_DUMP_HINT =
  'Restore an older set (`tier4 backup list`); run `tier4 backup check` and find out what is writing to or damaging the repository.';

function assertSameDump(manifest: Manifest, cipher: DigestStream): void {
  if (cipher.bytes !== manifest.database.size || cipher.digest('hex') !== manifest.database.sha256) {
    throw dumpMismatch(manifest);
  }
}

function dumpMismatch(manifest: Manifest): OperationError {
  return new OperationError(
    `The database dump ${manifest.database.object} does not match its manifest's SHA-256: it is damaged, or it changed in the repository after it was verified. Nothing was restored into the target.`,
    DAMAGED_DUMP_HINT,
  );
}

async function restoreDump(
  pgRestorePath: string,
  repo: SiteRepository,
  manifest: Manifest,
  into: DatabaseTarget,
  options: RestoreOptions,
  how: {
    jobs: number;
    dumpFile: string | undefined;
    /** Streamed: the header and nonce of the object that matched its SHA-256 (pinned-dump.ts). */
    pinned: Buffer | undefined;
    skipExtensionComments: boolean;
    /** With a file and more than one job: psql, which loads the table data over `jobs` connections. */
    psql: string | undefined;
  },
): Promise<void> {
  const tool = toolConnection(into);
  const args = ['--no-owner', '--no-acl', '--exit-on-error', '--no-password', `--dbname=${tool.url}`];
  const run = {
    env: tool.env,
    reject: false as const,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
  };
  // What went wrong, in the words of the tool that failed; undefined when all went well.
  let failure: string | undefined;
  if (how.dumpFile && how.psql) {
    failure = await restoreInPhases(pgRestorePath, how.psql, how.dumpFile, tool, args, run, {
      ...how,
      bulkTables: manifest.database.bulkTables,
    });
  } else if (how.dumpFile) {
    const rest = how.skipExtensionComments
      ? (await writeRestoreLists(pgRestorePath, how.dumpFile, true, [])).rest
      : undefined;
    const useList = rest ? [`--use-list=${rest}`] : [];
    failure = failed(
      await execa(pgRestorePath, [...args, ...useList, `--jobs=${how.jobs}`, how.dumpFile], run),
    );
  } else {
    const { stream, cipher } = pinnedRead(await repo.store.get(manifest.database.object), how.pinned!);
    const decrypted = await decryptStream(stream, options.identities, manifest.database.object);
    const child = execa(pgRestorePath, args, { ...run, stdin: 'pipe' });
    child.stdin!.on('error', () => {});
    const fed = feedArchive(decrypted, manifest.database.compression, child.stdin!, repo.env);
    fed.catch(() => undefined); // awaited below, after pg_restore
    failure = failed(await child);
    if (!failure) {
      await fed.catch((error) => {
        throw damagedDump(manifest, error);
      });
      // pg_restore read to the end of the archive, so the whole object went through the hash.
      assertSameDump(manifest, cipher);
    }
  }
  if (failure) {
    throw new OperationError(
      `Restoring into ${describeDatabase(into.url)} failed: ${failure}`,
      how.skipExtensionComments
        ? 'The target database is partly restored and marked incomplete: restore again with --replace once the cause is fixed.'
        : 'The target database was not changed. Fix the cause and restore again.',
    );
  }
}

/**
 * Gives the restored work database the target's name. A target that exists is closed to new connections, its
 * sessions ended, and both renames run in one transaction: either the old or the new database has the name.
 * The old one is dropped afterwards.
 */
async function swapIntoPlace(
  target: DatabaseTarget,
  work: string,
  name: string,
  replacing: boolean,
): Promise<void> {
  const admin = await connectDatabase({ ...target, url: withDatabase(target.url, 'postgres') });
  const old = `tier4_old_${randomBytes(5).toString('hex')}`;
  try {
    if (!replacing) {
      await admin.query(`ALTER DATABASE ${quoteIdent(work)} RENAME TO ${quoteIdent(name)}`);
      return;
    }
    await admin.query(`ALTER DATABASE ${quoteIdent(name)} WITH ALLOW_CONNECTIONS false`);
    try {
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
      await admin.query('BEGIN');
      await admin.query(`ALTER DATABASE ${quoteIdent(name)} RENAME TO ${quoteIdent(old)}`);
      await admin.query(`ALTER DATABASE ${quoteIdent(work)} RENAME TO ${quoteIdent(name)}`);
      await admin.query('COMMIT');
    } catch (error) {
      await admin.query('ROLLBACK').catch(() => undefined);
      await admin
        .query(`ALTER DATABASE ${quoteIdent(name)} WITH ALLOW_CONNECTIONS true`)
        .catch(() => undefined);
      throw new OperationError(
        `Could not give the restored database the name ${name}: ${errorMessage(error)}. The target was not changed.`,
        'Make sure nothing holds connections to the target, then restore again.',
      );
    }
    await admin.query(`DROP DATABASE ${quoteIdent(old)} WITH (FORCE)`).catch(() => undefined);
  } finally {
    await admin.end();
  }
}

/**
 * Drops work databases that earlier restores into the same target left when they were killed: marked as ours,
 * for this target, from this machine, by a process that is gone. (Others are left alone: they may be running.)
 */
async function sweepStaleWorkDatabases(admin: pg.Client, target: string): Promise<void> {
  const { rows } = await admin.query<{ datname: string; comment: string | null }>(
    "SELECT datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname LIKE 'tier4\\_work\\_%'",
  );
  for (const row of rows) {
    const marker = parseIncomplete(row.comment);
    if (!marker || marker.target !== target || marker.host !== hostname() || processRuns(marker.pid))
      continue;
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(row.datname)} WITH (FORCE)`);
  }
}

async function dropDatabase(server: DatabaseTarget, name: string): Promise<void> {
  const admin = await connectDatabase({ ...server, url: withDatabase(server.url, 'postgres') });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * One attachment: the ciphertext is hashed as it is decrypted, and the plaintext's MD5 checked against the
 * manifest and the restored active_storage_blobs row, all before the blob becomes visible under its key.
 */
async function restoreBlob(
  repo: SiteRepository,
  blob: BlobRecord,
  options: RestoreOptions,
  restoredChecksum: string | null | undefined,
  spoolDir: string | undefined,
): Promise<number> {
  const cipher = new DigestStream('sha256');
  const plain = await decryptStream(
    (await repo.store.get(blob.object)).pipe(cipher),
    options.identities,
    blob.object,
  );
  const md5 = new DigestStream('md5');
  await options.attachmentsTo!.write(blob.key, plain.pipe(md5), {
    ...(spoolDir ? { spoolDir } : {}),
    verify: () => {
      if (cipher.bytes !== blob.size || cipher.digest('hex') !== blob.sha256) {
        throw new OperationError(
          `Attachment ${blob.key} changed in the repository after it was verified (${blob.object}); it was not written.`,
          'Someone or something is writing to the repository: investigate before restoring again.',
        );
      }
      const checksum = md5.digest('base64');
      const expected = [blob.checksum, restoredChecksum].filter((sum): sum is string => !!sum);
      if (expected.some((sum) => sum !== checksum)) {
        throw new OperationError(
          `Attachment ${blob.key} does not match its checksum (active_storage_blobs.checksum) after decryption; it was not written.`,
        );
      }
    },
  });
  return md5.bytes;
}

/** key → checksum of the restored active_storage_blobs (empty when the table is not there). */
async function restoredChecksums(target: DatabaseTarget): Promise<Map<string, string | null>> {
  const db = await connectDatabase(target);
  try {
    const { rows } = await db.query<{ present: boolean }>(
      "SELECT to_regclass('public.active_storage_blobs') IS NOT NULL AS present",
    );
    if (!rows[0]?.present) return new Map();
    const blobs = await db.query<{ key: string; checksum: string | null }>(
      'SELECT key, checksum FROM active_storage_blobs',
    );
    return new Map(blobs.rows.map((row) => [row.key, row.checksum]));
  } finally {
    await db.end();
  }
}

/** Writes the dump's table of contents beside it as the pg_restore lists of splitRestoreList; none when empty. */
async function writeRestoreLists(
  pgRestorePath: string,
  dump: string,
  skipExtensionComments: boolean,
  bulkTables?: Array<{ schema: string; table: string }>,
): Promise<{ [K in keyof RestoreLists]: string | undefined }> {
  // The pre-data items matter only to the bulk tables' early and late steps: listed only when there are some.
  const [verbose, preData] = await Promise.all([
    execa(pgRestorePath, ['--list', '--verbose', dump]),
    bulkTables?.length ? execa(pgRestorePath, ['--list', '--section=pre-data', dump]) : undefined,
  ]);
  const lists = splitRestoreList(verbose.stdout, {
    skipExtensionComments,
    bulkTables,
    preData: listedIds(preData?.stdout ?? ''),
  });
  const write = async (suffix: string, lines: string[]) => {
    if (lines.length === 0) return undefined;
    const name = `${dump}.${suffix}.list`;
    await writeFile(name, `${lines.join('\n')}\n`, { mode: 0o600 });
    return name;
  };
  return {
    data: await write('data', lists.data),
    early: await write('early', lists.early),
    late: await write('late', lists.late),
    rest: await write('rest', lists.rest),
  };
}

/**
 * The restore with more than one job (decision 0019): the schema first; then the rows of the largest tables (the
 * manifest's bulkTables; every table for older sets), each table's rows split between `jobs` psql sessions, as
 * pg_restore -j gives a table one connection and the largest set the pace; then everything else (the other
 * tables, sequence values, large objects, indexes, constraints) with pg_restore -j, whose smaller loads run beside
 * the largest tables' index builds.
 */
async function restoreInPhases(
  pgRestorePath: string,
  psql: string,
  dumpFile: string,
  tool: { url: string; env: Record<string, string> },
  args: string[],
  run: { env: Record<string, string>; reject: false; cancelSignal?: AbortSignal },
  how: { jobs: number; skipExtensionComments: boolean; bulkTables: Manifest['database']['bulkTables'] },
): Promise<string | undefined> {
  const lists = await writeRestoreLists(pgRestorePath, dumpFile, how.skipExtensionComments, how.bulkTables);
  // Pre-data items are never data, early or late: the rest list holds them all.
  const restList = lists.rest ? [`--use-list=${lists.rest}`] : [];
  const schema = failed(
    await execa(pgRestorePath, [...args, '--section=pre-data', ...restList, dumpFile], run),
  );
  if (schema) return schema;
  if (lists.data) {
    try {
      await loadTableData({
        pgRestore: pgRestorePath,
        psql,
        dumpFile,
        listFile: lists.data,
        url: tool.url,
        env: tool.env,
        sessions: how.jobs,
        ...(run.cancelSignal ? { signal: run.cancelSignal } : {}),
      });
    } catch (error) {
      if (!(error instanceof DataLoadError)) throw error;
      return `loading the table data, ${error.tool}: ${error.detail}`;
    }
  }
  // The bulk tables' own indexes and constraints start at once (their rows are in) on all but one job, while
  // pg_restore restores the rest on the other; what depends on both comes last.
  const post = (list: string, jobs: number, sections: string[]) =>
    execa(pgRestorePath, [...args, ...sections, `--use-list=${list}`, `--jobs=${jobs}`, dumpFile], run);
  const [early, rest] = await Promise.all([
    lists.early ? post(lists.early, Math.max(1, how.jobs - 1), ['--section=post-data']) : undefined,
    lists.rest
      ? post(lists.rest, lists.early ? 1 : how.jobs, ['--section=data', '--section=post-data'])
      : undefined,
  ]);
  const failure = (early && failed(early)) ?? (rest && failed(rest));
  if (failure || !lists.late) return failure;
  return failed(await post(lists.late, how.jobs, ['--section=post-data']));
}

/** A PostgreSQL tool's failure as the restore reports it (pg_restore: …), or undefined when it succeeded. */
function failed(result: { exitCode?: number | undefined; stderr?: unknown; signal?: string | undefined }) {
  return result.exitCode === 0 ? undefined : `pg_restore: ${toolErrorDetail(result)}`;
}

async function countTables(target: DatabaseTarget): Promise<number> {
  const db = await connectDatabase(target);
  try {
    const { rows } = await db.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
    return rows[0].n;
  } finally {
    await db.end();
  }
}

/** What an operator must do after a restore; Primero caches settings per process. */
export function nextSteps(siteName: string, solr: boolean): string[] {
  const steps = [
    `Make sure the site runs with the same PRIMERO_MESSAGE_SECRET, PRIMERO_SECRET_KEY_BASE and DEVISE_SECRET_KEY as when the backup was taken; without the same message secret, encrypted columns are lost.`,
    `Restart the application and the worker (Kubernetes: kubectl -n <namespace> rollout restart deployment/primero-application deployment/primero-worker).`,
  ];
  if (solr)
    steps.push(
      'Solr is on: rebuild its index with `bin/rails sunspot:reindex` in the application container.',
    );
  steps.push(`Check the site: tier4 doctor --site ${siteName}`);
  return steps;
}
