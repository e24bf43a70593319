import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CheckStatus, worstStatus } from '../core/checks.js';
import type { LoadedConfig } from '../core/config/load.js';
import { errorMessage } from '../core/errors.js';
import {
  type CertificateInfo,
  coversName,
  describeCertificate,
  parsePemCertificates,
  parsePrivateKey,
} from './certificate.js';
import { readPairFiles } from './files.js';
import {
  type CertManagerState,
  connectKube,
  type Kube,
  listSecrets,
  readCertManagerCertificate,
  readTlsSecret,
  secretText,
} from './kubernetes.js';
import { fetchServedChain } from './served.js';
import { type SiteTls, siteTls } from './site.js';

/** A certificate is never skipped: it is read, or reading it fails. */
export type Level = Exclude<CheckStatus, 'skip'>;

export interface Finding {
  level: 'warn' | 'fail';
  message: string;
}

export interface CertificateEntry {
  /** Which certificate: the site's host name, or `client <name>`. */
  certificate: string;
  where: 'served' | 'stored';
  /** host:port, a file path or namespace/Secret. */
  location: string;
  status: Level;
  findings: Finding[];
  /** null when it could not be read (the findings say why). */
  info: CertificateInfo | null;
}

export interface SiteCertificateReport {
  site: string;
  host: string;
  port: number;
  warnDays: number;
  failDays: number;
  status: Level;
  entries: CertificateEntry[];
  certManager: CertManagerState | null;
  notes: string[];
}

export interface CertsOptions {
  signal?: AbortSignal;
  /** kubeconfig file; default $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string | undefined;
  /** Environment for finding the cluster (KUBECONFIG, HOME, the in-cluster variables); default process.env. */
  env?: NodeJS.ProcessEnv;
  now?: Date;
}

function entry(
  certificate: string,
  where: 'served' | 'stored',
  location: string,
  info: CertificateInfo | null,
  findings: Finding[],
): CertificateEntry {
  return { certificate, where, location, info, findings, status: worstStatus(findings.map((f) => f.level)) };
}

function expiryFindings(info: CertificateInfo, target: SiteTls): Finding[] {
  const { warnDays, failDays } = target.tls;
  if (info.daysLeft < 0) return [{ level: 'fail', message: `expired on ${info.notAfter}` }];
  if (info.daysLeft < failDays) {
    return [{ level: 'fail', message: `expires in ${info.daysLeft} days (fail under ${failDays})` }];
  }
  if (info.daysLeft < warnDays) {
    return [{ level: 'warn', message: `expires in ${info.daysLeft} days (warn under ${warnDays})` }];
  }
  return [];
}

/** What a server certificate needs, served or stored. */
function serverCertificateFindings(
  info: CertificateInfo,
  chainPem: string,
  target: SiteTls,
  now: Date = new Date(),
): Finding[] {
  const findings = expiryFindings(info, target);
  const leaf = parsePemCertificates(chainPem, 'certificate')[0]!;
  const uncovered = target.names.filter((name) => !coversName(leaf, name));
  if (uncovered.length > 0) {
    findings.push({ level: 'fail', message: `does not cover ${uncovered.join(', ')}` });
  }
  if (!info.chain.complete)
    findings.push({ level: 'fail', message: `chain does not reach a trusted CA: ${info.chain.problem}` });
  else if (!info.chain.trusted) {
    findings.push({
      level: 'fail',
      message: `chain not trusted: ${info.chain.problem} (set tls.caFile for a private CA)`,
    });
  }
  if (new Date(info.notBefore).getTime() > now.getTime()) {
    findings.push({ level: 'fail', message: `not valid before ${info.notBefore}` });
  }
  return findings;
}

function keyFindings(certPem: string, keyPem: string): Finding[] {
  try {
    const leaf = parsePemCertificates(certPem, 'certificate')[0]!;
    return leaf.checkPrivateKey(parsePrivateKey(keyPem, 'the stored key'))
      ? []
      : [{ level: 'fail', message: 'the stored key does not belong to the stored certificate' }];
  } catch (error) {
    return [{ level: 'fail', message: errorMessage(error) }];
  }
}

async function servedEntry(
  target: SiteTls,
  options: CertsOptions,
): Promise<{ entry: CertificateEntry; pem: string | null }> {
  const location = `${target.host}:${target.port}${target.address === target.host ? '' : ` via ${target.address}`}`;
  try {
    const chain = await fetchServedChain(target, options.signal ? { signal: options.signal } : {});
    const pem = chain.map((cert) => cert.toString()).join('');
    const info = describeCertificate(chain, target.anchors, options.now);
    return {
      entry: entry(
        target.host,
        'served',
        location,
        info,
        serverCertificateFindings(info, pem, target, options.now),
      ),
      pem,
    };
  } catch (error) {
    return {
      entry: entry(target.host, 'served', location, null, [{ level: 'fail', message: errorMessage(error) }]),
      pem: null,
    };
  }
}

function storedEntry(
  target: SiteTls,
  location: string,
  pair: { cert: string; key: string },
  now?: Date,
): CertificateEntry {
  try {
    const chain = parsePemCertificates(pair.cert, location);
    const info = describeCertificate(chain, target.anchors, now);
    return entry(target.host, 'stored', location, info, [
      ...serverCertificateFindings(info, pair.cert, target, now),
      ...keyFindings(pair.cert, pair.key),
    ]);
  } catch (error) {
    return entry(target.host, 'stored', location, null, [{ level: 'fail', message: errorMessage(error) }]);
  }
}

function clientEntry(
  target: SiteTls,
  name: string,
  location: string,
  certPem: string,
  now?: Date,
): CertificateEntry {
  try {
    const chain = parsePemCertificates(certPem, location);
    const info = describeCertificate(chain, target.anchors, now);
    return entry(`client ${name}`, 'stored', location, info, expiryFindings(info, target));
  } catch (error) {
    return entry(`client ${name}`, 'stored', location, null, [
      { level: 'fail', message: errorMessage(error) },
    ]);
  }
}

export const CLIENT_LABEL = 'tier4.primero.org/client-certificate';

async function clientEntries(
  target: SiteTls,
  kube: () => Promise<Kube>,
  now?: Date,
): Promise<CertificateEntry[]> {
  const store = target.tls.clients?.store;
  if (!store) return [];
  const entries: CertificateEntry[] = [];
  if (store.type === 'files') {
    const names = await readdir(store.dir).catch(() => [] as string[]);
    for (const file of names.filter((name) => name.endsWith('.crt')).sort()) {
      const path = join(store.dir, file);
      entries.push(clientEntry(target, file.slice(0, -4), path, await readFile(path, 'utf8'), now));
    }
    return entries;
  }
  const client = await kube();
  for (const secret of await listSecrets(client, CLIENT_LABEL)) {
    const cert = secretText(secret, 'tls.crt');
    const name = secret.metadata?.labels?.[CLIENT_LABEL] ?? secret.metadata?.name ?? '?';
    if (cert)
      entries.push(clientEntry(target, name, `${client.namespace}/${secret.metadata?.name}`, cert, now));
  }
  return entries;
}

/**
 * Every certificate of a site, as served (TLS handshake with SNI) and as stored (files, a TLS Secret, the
 * cert-manager Certificate), with the findings against warnDays/failDays and between served and stored.
 */
export async function certificateStatus(
  loaded: LoadedConfig,
  siteName: string,
  options: CertsOptions = {},
): Promise<SiteCertificateReport> {
  const target = siteTls(loaded, siteName);
  const source = target.tls.source;
  const notes: string[] = [];
  let kubeClient: Kube | undefined;
  const kube = async () => {
    kubeClient ??= await connectKube(
      { namespace: target.namespace, context: target.context, kubeconfig: options.kubeconfig },
      options.env ? { env: options.env } : {},
    );
    return kubeClient;
  };

  const served = await servedEntry(target, options);
  const entries: CertificateEntry[] = [served.entry];
  let stored: CertificateEntry | undefined;
  let certManager: CertManagerState | null = null;

  if (!source) {
    notes.push('tls.source is not set: only the served certificate is checked.');
  } else if (source.type === 'files') {
    const pair = await readPairFiles(source.cert, source.key).catch((error) => error as Error);
    const location = source.cert;
    stored =
      pair instanceof Error
        ? entry(target.host, 'stored', location, null, [{ level: 'fail', message: pair.message }])
        : pair === null
          ? entry(target.host, 'stored', location, null, [
              { level: 'fail', message: `${source.cert} or ${source.key} does not exist` },
            ])
          : storedEntry(target, location, pair, options.now);
  } else {
    const location = `${target.namespace}/${source.secret}`;
    try {
      const client = await kube();
      const secret = await readTlsSecret(client, source.secret);
      stored = secret
        ? storedEntry(target, `Secret ${location}`, secret, options.now)
        : entry(target.host, 'stored', `Secret ${location}`, null, [
            { level: 'fail', message: `Secret ${location} does not exist` },
          ]);
      if (source.type === 'cert-manager') {
        const name = source.certificate;
        certManager = await readCertManagerCertificate(client, name);
        if (!certManager) {
          stored.findings.push({
            level: 'fail',
            message: `cert-manager Certificate ${target.namespace}/${name} does not exist`,
          });
        } else if (!certManager.ready) {
          stored.findings.push({
            level: 'fail',
            message: `cert-manager Certificate ${name} is not Ready (${certManager.reason ?? 'no reason'}${certManager.message ? `: ${certManager.message}` : ''})`,
          });
        }
        stored.status = worstStatus(stored.findings.map((f) => f.level));
      }
    } catch (error) {
      stored = entry(target.host, 'stored', `Secret ${location}`, null, [
        { level: 'fail', message: errorMessage(error) },
      ]);
    }
  }

  if (stored) {
    entries.push(stored);
    if (served.entry.info && stored.info && served.entry.info.sha256 !== stored.info.sha256) {
      served.entry.findings.push({
        level: 'fail',
        message:
          'the served certificate is not the stored one: the server was not reloaded after the last renewal (run `tier4 certs rotate`, or reload nginx)',
      });
      served.entry.status = 'fail';
    }
  }

  try {
    entries.push(...(await clientEntries(target, kube, options.now)));
  } catch (error) {
    notes.push(`client certificates could not be listed: ${errorMessage(error)}`);
  }

  return {
    site: target.siteName,
    host: target.host,
    port: target.port,
    warnDays: target.tls.warnDays,
    failDays: target.tls.failDays,
    status: worstStatus(entries.map((e) => e.status)),
    entries,
    certManager,
    notes,
  };
}

export interface CertificateHealth {
  certificate: string;
  where: 'served' | 'stored';
  daysLeft: number | null;
  notAfter: string | null;
  status: Level;
  message: string;
  /** On the served entry when a stored copy was read too: whether both are the same certificate. */
  servedMatchesStored?: boolean;
}

/** For `tier4 doctor`: one line per certificate of the site, with days left. Never throws for a site that exists. */
export async function certificateHealth(
  loaded: LoadedConfig,
  siteName: string,
  options: { signal?: AbortSignal; kubeconfig?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CertificateHealth[]> {
  const report = await certificateStatus(loaded, siteName, options);
  const servedInfo = report.entries.find((e) => e.where === 'served' && e.certificate === report.host)?.info;
  const storedInfo = report.entries.find((e) => e.where === 'stored' && e.certificate === report.host)?.info;
  return report.entries.map((e) => ({
    certificate: e.certificate,
    where: e.where,
    daysLeft: e.info?.daysLeft ?? null,
    notAfter: e.info?.notAfter ?? null,
    status: e.status,
    message:
      e.findings.map((f) => f.message).join('; ') ||
      (e.info ? `${e.info.daysLeft} days left (until ${e.info.notAfter.slice(0, 10)})` : 'ok'),
    ...(e.where === 'served' && e.certificate === report.host && servedInfo && storedInfo
      ? { servedMatchesStored: servedInfo.sha256 === storedInfo.sha256 }
      : {}),
  }));
}
