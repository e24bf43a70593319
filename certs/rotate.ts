import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LoadedConfig } from '../core/config/load.js';
import type { CertificateSource } from '../core/config/tls.js';
import { errorMessage, OperationError, UsageError } from '../core/errors.js';
import { folderProblem } from '../core/writable.js';
import type { CertificateInfo } from './certificate.js';
import { installPairFiles, readPairFiles, runServerCommand, savePairFiles } from './files.js';
import {
  type CertManagerState,
  connectKube,
  type Kube,
  putSecret,
  readCertManagerCertificate,
  readDeployment,
  readTlsSecret,
  renewCertManagerCertificate,
  replaceTlsSecret,
  restartDeployment,
  restoreSecret,
  sleep,
} from './kubernetes.js';
import { fetchServedChain } from './served.js';
import { type SiteTls, siteTls } from './site.js';
import { checkNewPair } from './validate.js';

export interface RotateOptions {
  signal?: AbortSignal;
  kubeconfig?: string | undefined;
  /** Steps for people ("installing…"); the library prints nothing itself. */
  onProgress?: (text: string) => void;
  now?: Date;
  /** How often the served certificate (and a rollout, an issuance) is checked while waiting; tests shorten it. */
  pollMs?: number;
  /** Validate and check everything, then stop before the first write or reload. */
  dryRun?: boolean;
}

/** What `certs rotate --dry-run` found: everything checked, nothing written, nothing reloaded. */
export interface RotatePlan {
  site: string;
  dryRun: true;
  /** Where the new pair would go, and where the current one would be kept. */
  installTo: string;
  saveTo: string;
  current: { sha256: string; notAfter: string } | null;
  new: CertificateInfo;
  /** The configuration test that passed (e.g. `nginx -t`), or null when none is configured. */
  configTest: string | null;
  /** How the server would be made to read the new pair. */
  reload: string;
  /** Where the served certificate would be checked afterwards. */
  verifyAt: string;
}

export interface RotateResult {
  site: string;
  /** Where the new pair went and where the old one was kept. */
  installedTo: string;
  previousSavedAt: string;
  previous: { sha256: string; notAfter: string } | null;
  installed: CertificateInfo;
  servedSha256: string;
}

interface Pair {
  cert: string;
  key: string;
}

/**
 * The one place the two storage kinds differ: how the pair is read, saved, installed, restored, reloaded.
 */
interface PairStore {
  describe: string;
  /** Where save() keeps the current pair. */
  saveTo: string;
  /** How reload() makes the server read the pair. */
  reloadBy: string;
  read(): Promise<Pair | null>;
  /**
   * Read only: checks the server side is ready (files: the folders can be written and tls.source.testCommand
   * passes; a Secret: the Deployment exists). Returns the test that ran, or null. Throws what is wrong.
   */
  test(): Promise<string | null>;
  save(pair: Pair): Promise<string>;
  install(pair: Pair): Promise<void>;
  restore(): Promise<void>;
  reload(): Promise<void>;
}

/** The signal and poll interval of a wait on the cluster (a rollout, an issuance). */
const waiting = (options: RotateOptions) => ({
  ...(options.signal ? { signal: options.signal } : {}),
  ...(options.pollMs ? { pollMs: options.pollMs } : {}),
});

function filesStore(
  source: Extract<CertificateSource, { type: 'files' }>,
  options: RotateOptions,
): PairStore {
  let saved: Pair | null = null;
  const backupDir = source.backupDir ?? join(dirname(source.cert), '.tier4-previous');
  return {
    describe: `${source.cert} and ${source.key}`,
    saveTo: backupDir,
    reloadBy: source.reloadCommand,
    read: () => readPairFiles(source.cert, source.key),
    async test() {
      // The pair is swapped by a rename beside each file, and the old pair kept in backupDir.
      for (const folder of new Set([dirname(source.cert), dirname(source.key), backupDir])) {
        const problem = await folderProblem(folder);
        if (problem)
          throw new UsageError(`The certificate cannot be installed: ${problem}; nothing was changed.`);
      }
      if (!source.testCommand) return null;
      await runServerCommand(source.testCommand, {
        field: 'testCommand',
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return source.testCommand;
    },
    async save(pair) {
      saved = pair;
      const where = await savePairFiles(backupDir, pair, options.now ?? new Date());
      return dirname(where.cert);
    },
    install: (pair) => installPairFiles(source.cert, source.key, pair),
    async restore() {
      if (saved) await installPairFiles(source.cert, source.key, saved);
    },
    reload: () => runServerCommand(source.reloadCommand, options.signal ? { signal: options.signal } : {}),
  };
}

function secretStore(
  kube: Kube,
  secretName: string,
  deployment: string,
  timeoutSeconds: number,
  options: RotateOptions,
): PairStore {
  let original: Awaited<ReturnType<typeof readTlsSecret>> = null;
  return {
    describe: `Secret ${kube.namespace}/${secretName}`,
    saveTo: `Secret ${kube.namespace}/${secretName}-previous`,
    reloadBy: `a rolling restart of Deployment ${kube.namespace}/${deployment}`,
    async test() {
      await readDeployment(kube, deployment);
      return null;
    },
    async read() {
      original = await readTlsSecret(kube, secretName);
      return original ? { cert: original.cert, key: original.key } : null;
    },
    async save(pair) {
      const backup = `${secretName}-previous`;
      await putSecret(
        kube,
        backup,
        'kubernetes.io/tls',
        { 'tls.crt': pair.cert, 'tls.key': pair.key },
        { 'tier4.primero.org/previous-of': secretName },
        { overwrite: true },
      );
      return `Secret ${kube.namespace}/${backup}`;
    },
    async install(pair) {
      if (!original) throw new OperationError(`Secret ${kube.namespace}/${secretName} was not read first.`);
      await replaceTlsSecret(kube, original.raw, pair);
    },
    async restore() {
      if (original) await restoreSecret(kube, original.raw);
    },
    reload: () => restartDeployment(kube, deployment, { timeoutSeconds, ...waiting(options) }),
  };
}

/**
 * Polls the served certificate until it is the expected one on `inARow` handshakes in a row, or the time is up.
 * A reload is asynchronous (`nginx -s reload` only signals the master): right after one, workers from before
 * an earlier reload may still answer. The previous certificate can come from such stale workers, so a
 * rollback asks for it several times in a row; a new certificate can only come from the new configuration.
 */
async function waitUntilServed(
  target: SiteTls,
  sha256: string,
  timeoutSeconds: number,
  options: RotateOptions,
  inARow = 1,
): Promise<{ ok: boolean; lastSeen: string | null; lastError: string | null }> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let lastSeen: string | null = null;
  let lastError: string | null = null;
  let seen = 0;
  for (;;) {
    try {
      const chain = await fetchServedChain(target, {
        timeoutMs: 10_000,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      lastSeen = chain[0]!.fingerprint256.toUpperCase();
      lastError = null;
      seen = lastSeen === sha256 ? seen + 1 : 0;
      if (seen >= inARow) return { ok: true, lastSeen, lastError };
    } catch (error) {
      lastError = errorMessage(error);
    }
    if (Date.now() >= deadline) return { ok: false, lastSeen, lastError };
    await sleep(options.pollMs ?? 500, options.signal);
  }
}

/**
 * Validates a new certificate and key, keeps the current pair, installs the new one atomically, reloads the
 * server and proves by TLS handshake that it serves the new certificate. Any failure after the install
 * puts the saved pair back and reloads again, then throws an OperationError saying so.
 */
export async function rotateCertificate(
  loaded: LoadedConfig,
  siteName: string,
  files: { cert: string; key: string },
  options: RotateOptions & { dryRun: true },
): Promise<RotatePlan>;
export async function rotateCertificate(
  loaded: LoadedConfig,
  siteName: string,
  files: { cert: string; key: string },
  options?: RotateOptions,
): Promise<RotateResult>;
export async function rotateCertificate(
  loaded: LoadedConfig,
  siteName: string,
  files: { cert: string; key: string },
  options: RotateOptions = {},
): Promise<RotateResult | RotatePlan> {
  const target = siteTls(loaded, siteName);
  const source = target.tls.source;
  const progress = options.onProgress ?? (() => {});
  if (!source) {
    throw new UsageError(
      `sites.${target.siteName}.tls.source is not set, so tier4 does not know where the certificate is kept.`,
      'Set tls.source to {type: files, cert, key, reloadCommand} or {type: kubernetes-secret, secret}.',
    );
  }
  if (source.type === 'cert-manager') {
    throw new UsageError(
      `The certificate of ${target.siteName} is issued by cert-manager; a certificate file would be overwritten at its next renewal.`,
      'Run `tier4 certs rotate --site NAME` without --cert and --key to have cert-manager issue a new one.',
    );
  }

  // 1. Validate before anything changes.
  const pem = await readNew(files);
  const check = checkNewPair(
    pem,
    {
      names: target.names,
      anchors: target.anchors,
      failDays: target.tls.failDays,
      ...(options.now ? { now: options.now } : {}),
    },
    { cert: files.cert, key: files.key },
  );
  if (check.problems.length > 0) {
    throw new UsageError(
      `The new certificate for ${target.host} is refused; nothing was changed:\n  - ${check.problems.join('\n  - ')}`,
      'Fix the certificate or key and run again. The certificate file holds the full chain, leaf first; a private or national CA goes in tls.caFile.',
    );
  }
  const newSha = check.info.sha256;
  const timeout = target.tls.verifyTimeout.seconds;

  const store =
    source.type === 'files'
      ? filesStore(source, options)
      : secretStore(
          await connectKube({
            namespace: target.namespace,
            context: target.context,
            kubeconfig: options.kubeconfig,
          }),
          source.secret,
          source.deployment,
          timeout,
          options,
        );

  // 2. Keep the current pair.
  const current = await store.read();
  if (!current) {
    throw new UsageError(
      `There is no current certificate at ${store.describe} to replace.`,
      'Check tls.source; for a first install put the files (or the Secret) in place yourself.',
    );
  }
  const previous = (() => {
    try {
      const info = checkNewPair(current, { names: [], anchors: target.anchors, failDays: 0 }).info;
      return { sha256: info.sha256, notAfter: info.notAfter };
    } catch {
      return null;
    }
  })();
  if (previous?.sha256 === newSha) {
    throw new UsageError(`${store.describe} already holds this certificate; nothing was changed.`);
  }
  if (options.dryRun) {
    progress(`Checking the server side of ${store.describe} (a dry run: nothing is written)`);
    const configTest = await store.test();
    return {
      site: target.siteName,
      dryRun: true,
      installTo: store.describe,
      saveTo: store.saveTo,
      current: previous,
      new: check.info,
      configTest,
      reload: store.reloadBy,
      verifyAt: `${target.host}:${target.port}`,
    };
  }
  progress(`Saving the current certificate from ${store.describe}`);
  const savedAt = await store.save(current);

  // 3. Install, reload, verify; roll back on any failure.
  try {
    progress(`Installing the new certificate into ${store.describe}`);
    await store.install(pem);
    // With the new pair in place, the server's own test (e.g. `nginx -t`) reads it before any reload.
    await store.test();
    progress('Reloading the server');
    await store.reload();
    progress(`Checking that ${target.host}:${target.port} serves the new certificate`);
    const seen = await waitUntilServed(target, newSha, timeout, options);
    if (!seen.ok) {
      throw new OperationError(
        seen.lastSeen
          ? `${target.host}:${target.port} still serves ${seen.lastSeen} after ${timeout} s, not the new certificate ${newSha}.`
          : `${target.host}:${target.port} could not be reached after the reload: ${seen.lastError}`,
      );
    }
    return {
      site: target.siteName,
      installedTo: store.describe,
      previousSavedAt: savedAt,
      previous,
      installed: check.info,
      servedSha256: newSha,
    };
  } catch (failure) {
    progress('Rolling back to the saved certificate');
    const rollback = await rollBack(store, target, previous?.sha256 ?? null, savedAt, timeout, options);
    throw new OperationError(
      `Rotation of ${target.host} failed: ${errorMessage(failure)} Then ${rollback}.`,
      `The previous pair is kept at ${savedAt}. Fix the cause (reload command, rollout, server configuration) and run again.`,
      failure,
    );
  }
}

/** Puts the saved pair back, reloads, and says in one sentence where that left the server. */
async function rollBack(
  store: PairStore,
  target: SiteTls,
  previousSha: string | null,
  savedAt: string,
  timeout: number,
  options: RotateOptions,
): Promise<string> {
  try {
    await store.restore();
  } catch (error) {
    return `ROLLBACK FAILED: the previous pair could not be put back (${errorMessage(error)}); it is kept at ${savedAt}, restore it by hand now`;
  }
  let reloadProblem: string | null = null;
  try {
    await store.reload();
  } catch (error) {
    reloadProblem = errorMessage(error);
  }
  if (previousSha === null) return 'the previous pair was restored';
  // After a failed reload nothing will change: look once rather than wait.
  const back = await waitUntilServed(
    target,
    previousSha,
    reloadProblem ? 0 : timeout,
    options,
    reloadProblem ? 1 : 3,
  );
  if (back.ok) {
    return reloadProblem
      ? `the previous pair was restored; the reload failed again (${reloadProblem}), but the server still serves the previous certificate`
      : 'the previous certificate was restored and is served again';
  }
  return `the previous pair was restored, but the server does not serve it (${back.lastSeen ? `it serves ${back.lastSeen}` : back.lastError}${reloadProblem ? `; the reload failed: ${reloadProblem}` : ''}): check the server now`;
}

async function readNew(files: { cert: string; key: string }): Promise<Pair> {
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      throw new UsageError(
        `Cannot read the ${what} ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      );
    }
  };
  return { cert: await read(files.cert, 'certificate file'), key: await read(files.key, 'key file') };
}

export interface RenewResult {
  site: string;
  certificate: CertManagerState;
  servedSha256: string;
  served: boolean;
}

/** `certs rotate --dry-run` on a cert-manager site: what a renewal would ask for, read without changing anything. */
export async function planManagedRenewal(
  loaded: LoadedConfig,
  siteName: string,
  options: RotateOptions = {},
): Promise<{ site: string; dryRun: true; certificate: CertManagerState; reload: string; verifyAt: string }> {
  const target = siteTls(loaded, siteName);
  const source = target.tls.source;
  if (source?.type !== 'cert-manager')
    throw new UsageError(`The certificate of ${target.siteName} is not managed by cert-manager.`);
  const kube = await connectKube({
    namespace: target.namespace,
    context: target.context,
    kubeconfig: options.kubeconfig,
  });
  const certificate = await readCertManagerCertificate(kube, source.certificate);
  if (!certificate) {
    throw new OperationError(
      `cert-manager Certificate ${target.namespace}/${source.certificate} does not exist; a renewal would fail.`,
      'Deploy the site (the chart creates it), or check tls.source.certificate.',
    );
  }
  await readDeployment(kube, source.deployment);
  return {
    site: target.siteName,
    dryRun: true,
    certificate,
    reload: `a rolling restart of Deployment ${target.namespace}/${source.deployment}`,
    verifyAt: `${target.host}:${target.port}`,
  };
}

/**
 * For cert-manager sources: trigger re-issuance, wait for Ready, restart nginx so it reads the new Secret,
 * and check by handshake that the Secret's certificate is served.
 */
export async function renewManagedCertificate(
  loaded: LoadedConfig,
  siteName: string,
  options: RotateOptions = {},
): Promise<RenewResult> {
  const target = siteTls(loaded, siteName);
  const source = target.tls.source;
  if (source?.type !== 'cert-manager') {
    throw new UsageError(
      `The certificate of ${target.siteName} is not managed by cert-manager.`,
      'Pass --cert FILE --key FILE with the new certificate (full chain) and its key.',
    );
  }
  const progress = options.onProgress ?? (() => {});
  const timeout = target.tls.verifyTimeout.seconds;
  const kube = await connectKube({
    namespace: target.namespace,
    context: target.context,
    kubeconfig: options.kubeconfig,
  });
  const name = source.certificate;
  progress(`Asking cert-manager to issue ${target.namespace}/${name} again`);
  const state = await renewCertManagerCertificate(kube, name, {
    timeoutSeconds: timeout,
    ...waiting(options),
  });
  const secret = await readTlsSecret(kube, source.secret);
  if (!secret)
    throw new OperationError(`Secret ${target.namespace}/${source.secret} is missing after issuance.`);
  const issued = checkNewPair(secret, {
    names: target.names,
    anchors: target.anchors,
    failDays: target.tls.failDays,
  });
  progress(`Restarting Deployment ${target.namespace}/${source.deployment}`);
  await restartDeployment(kube, source.deployment, { timeoutSeconds: timeout, ...waiting(options) });
  const seen = await waitUntilServed(target, issued.info.sha256, timeout, options);
  if (!seen.ok) {
    throw new OperationError(
      `cert-manager issued ${issued.info.sha256}, but ${target.host}:${target.port} serves ${seen.lastSeen ?? `nothing (${seen.lastError})`}.`,
      `Check that the nginx Deployment mounts this Secret and that sites.${target.siteName}.tls.source.deployment (now ${source.deployment}) names it.`,
    );
  }
  return { site: target.siteName, certificate: state, servedSha256: issued.info.sha256, served: true };
}
