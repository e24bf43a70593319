import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import { APP_ROOT, byName, metadata, NAMES } from './common.js';
import { SOLR_IMAGE } from './upstream.js';
import type { PrimeroValues } from './values.js';

/** Where the database CA is mounted; libpq reads it through PGSSLROOTCERT (Primero's database.yml has no option). */
export const DB_CA_DIR = '/etc/primero/db-ca';
export const TLS_DIR = '/etc/nginx/tls';

/**
 * The database CA as a volume, from a Secret (CloudNativePG's <cluster>-ca, key ca.crt: CNPG docs,
 * "Certificates") or a ConfigMap (the public roots of Azure's flexible server). Every pod that talks to the
 * database mounts it at DB_CA_DIR and names it in PGSSLROOTCERT (libpq's "Environment Variables" page; without
 * it libpq looks for ~/.postgresql/root.crt and stops).
 */
export function databaseCaVolume(values: PrimeroValues, name = 'db-ca'): IVolume | undefined {
  const ca = values.database.ca;
  if (!ca) return undefined;
  const items = [{ key: ca.key, path: ca.key }];
  return ca.kind === 'ConfigMap'
    ? { name, configMap: { name: ca.name, items } }
    : { name, secret: { secretName: ca.name, items } };
}

/** PGSSLROOTCERT's value in every pod that mounts databaseCaVolume at DB_CA_DIR. */
export function databaseCaPath(values: PrimeroValues): string | undefined {
  return values.database.ca ? `${DB_CA_DIR}/${values.database.ca.key}` : undefined;
}
export const DHPARAM_DIR = '/etc/nginx/dhparam';

/**
 * RFC 7919 ffdhe2048, a public, well-known group. Primero's nginx otherwise generates 2048-bit DH
 * parameters at every start, which on a read-only filesystem would happen in every new pod.
 */
export const FFDHE2048 = `-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
`;

function storageSettings(values: PrimeroValues): Record<string, string> {
  const storage = values.storage;
  switch (storage.type) {
    case 'local':
      return { PRIMERO_STORAGE_TYPE: 'local', PRIMERO_STORAGE_PATH: storage.path };
    case 'microsoft':
      return {
        PRIMERO_STORAGE_TYPE: 'microsoft',
        PRIMERO_STORAGE_AZ_ACCOUNT: storage.account,
        PRIMERO_STORAGE_AZ_CONTAINER: storage.container,
      };
    case 'minio':
      return {
        PRIMERO_STORAGE_TYPE: 'minio',
        PRIMERO_STORAGE_MINIO_BUCKET: storage.bucket,
        PRIMERO_STORAGE_MINIO_REGION: storage.region,
        ...(storage.endpoint ? { PRIMERO_STORAGE_MINIO_ENDPOINT: storage.endpoint } : {}),
      };
    case 'amazon':
      return {
        PRIMERO_STORAGE_TYPE: 'amazon',
        PRIMERO_STORAGE_AWS_BUCKET: storage.bucket,
        PRIMERO_STORAGE_AWS_REGION: storage.region,
      };
  }
}

/** What config/sunspot.yml.template reads, with upstream's defaults (upstream.ts SOLR_APP_ENV). */
function solrSettings(): Record<string, string> {
  return {
    SOLR_HOSTNAME: NAMES.solr,
    SOLR_PORT: String(SOLR_IMAGE.port),
    SOLR_LOG_LEVEL: 'ERROR',
    SOLR_AUTO_COMMIT_AFTER_REQUEST: 'true',
  };
}

/**
 * config/mailers.yml.template's variables (upstream.ts MAIL_ENV). Without them ActionMailer has no delivery
 * method and no mail leaves. The password is never here: primeroSecretEnv reads it from a Secret key.
 */
function mailSettings(values: PrimeroValues): Record<string, string> {
  const mail = values.mail;
  if (!mail) return {};
  return {
    MAILER_DELIVERY_METHOD: 'smtp',
    MAILER_DEFAULT_FROM: mail.from,
    // Links in mails (password resets) point at the site.
    MAILER_NOTIFICATION_HOST: values.host,
    SMTP_ADDRESS: mail.address,
    SMTP_PORT: String(mail.port),
    SMTP_DOMAIN: mail.domain,
    SMTP_STARTTLS_AUTO: mail.startTls ? 'true' : 'false',
    ...(mail.user ? { SMTP_USER: mail.user } : {}),
    ...(mail.auth ? { SMTP_AUTH: mail.auth } : {}),
  };
}

/** Settings shared by the application, the worker and the migration Job. No secret is ever in here. */
export function primeroConfigMap(values: PrimeroValues): IConfigMap {
  const db = values.database;
  const data: Record<string, string> = {
    RAILS_ENV: 'production',
    PRIMERO_HOST: values.host,
    POSTGRES_HOSTNAME: db.host,
    POSTGRES_DATABASE: db.name,
    POSTGRES_USER: db.user,
    POSTGRES_SSL_MODE: db.sslMode,
    POSTGRES_POOL_NUM: '10',
    // database.yml.template has no port: libpq reads PGPORT (upstream.ts DATABASE_PORT).
    PGPORT: String(db.port),
    // The database exists already (CloudNativePG or a managed server): primero-migrate must not create it.
    PRIMERO_PG_APP_ROLE: 'true',
    // nginx runs in its own pods, so Rails serves the compiled assets itself.
    RAILS_PUBLIC_FILE_SERVER: 'true',
    LOG_TO_STDOUT: 'true',
    RAILS_LOG_PATH: `${APP_ROOT}/log`,
    LOCALE_ALL: 'en,fr,ar',
    LOCALE_DEFAULT: 'en',
    // The worker's LibreOffice and other tools write under $HOME; /tmp is a writable emptyDir.
    HOME: '/tmp',
    // The entrypoint reads it under set -u on the worker's path (upstream.ts ENTRYPOINT_COMMANDS.worker).
    PRIMERO_WORKER_MULTIPROCESS: values.workerMultiprocess ? 'true' : 'false',
    SOLR_ENABLED: values.solr.enabled ? 'true' : 'false',
    ...(values.solr.enabled ? solrSettings() : {}),
    ...(db.ca ? { PGSSLROOTCERT: databaseCaPath(values)! } : {}),
    ...storageSettings(values),
  };
  Object.assign(data, mailSettings(values));
  if (values.promotion) {
    data.PRIMERO_PROMOTE_CONFIG_PROD_HOST = values.promotion.host;
    data.PRIMERO_PROMOTE_CONFIG_PROD_PORT = String(values.promotion.port);
    data.PRIMERO_PROMOTE_CONFIG_PROD_TLS = values.promotion.tls ? 'true' : 'false';
  }
  if (values.role === 'demo') data.PRIMERO_SANDBOX_UI = 'true';
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(values, NAMES.config, 'config'),
    data,
  };
}

function secretEnv(name: string, from: { name: string; key: string }): IEnvVar {
  return { name, valueFrom: { secretKeyRef: { name: from.name, key: from.key } } };
}

/** Secrets as environment variables, each from a named Secret key: never a literal value. */
export function primeroSecretEnv(values: PrimeroValues): IEnvVar[] {
  const app = values.appSecret;
  const env: IEnvVar[] = [
    secretEnv('POSTGRES_PASSWORD', values.database.password),
    secretEnv('PRIMERO_SECRET_KEY_BASE', { name: app, key: 'PRIMERO_SECRET_KEY_BASE' }),
    secretEnv('DEVISE_SECRET_KEY', { name: app, key: 'DEVISE_SECRET_KEY' }),
    secretEnv('PRIMERO_MESSAGE_SECRET', { name: app, key: 'PRIMERO_MESSAGE_SECRET' }),
  ];
  const storage = values.storage;
  if (storage.type === 'microsoft') env.push(secretEnv('PRIMERO_STORAGE_AZ_KEY', storage.key));
  if (storage.type === 'minio' || storage.type === 'amazon') {
    const prefix = storage.type === 'minio' ? 'PRIMERO_STORAGE_MINIO' : 'PRIMERO_STORAGE_AWS';
    env.push(secretEnv(`${prefix}_ACCESS_KEY`, storage.accessKey));
    env.push(secretEnv(`${prefix}_SECRET_ACCESS_KEY`, storage.secretAccessKey));
  }
  if (values.promotion)
    env.push(secretEnv('PRIMERO_PROMOTE_CONFIG_PROD_BASIC_AUTH', values.promotion.basicAuth));
  if (values.mail?.password) env.push(secretEnv('SMTP_PASSWORD', values.mail.password));
  return env;
}

/** The keys the operator must put in the app Secret (for docs and `site render` output). */
export function requiredSecrets(values: PrimeroValues): Array<{ secret: string; keys: string[] }> {
  const bySecret = new Map<string, Set<string>>();
  const add = (name: string, key: string) => {
    if (!bySecret.has(name)) bySecret.set(name, new Set());
    bySecret.get(name)!.add(key);
  };
  for (const env of primeroSecretEnv(values)) {
    const ref = env.valueFrom?.secretKeyRef;
    if (ref?.name && ref.key) add(ref.name, ref.key);
  }
  if (values.tls.certManager === undefined) {
    add(values.tls.secretName, 'tls.crt');
    add(values.tls.secretName, 'tls.key');
  }
  for (const item of [...values.ops.env, ...values.ops.files]) add(item.from.name, item.from.key);
  for (const item of [
    ...values.ops.doctor.env,
    ...values.ops.doctor.files,
    ...(values.ops.drill?.env ?? []),
    ...(values.ops.drill?.files ?? []),
  ])
    add(item.from.name, item.from.key);
  if (values.ops.drill) add(values.ops.drill.identity.secret, values.ops.drill.identity.key);
  if (values.database.ca?.kind === 'Secret') add(values.database.ca.name, values.database.ca.key);
  return [...bySecret.entries()]
    .map(([secret, keys]) => ({ secret, keys: [...keys].sort() }))
    .sort((a, b) => byName(a.secret, b.secret));
}

/** Settings for Primero's nginx image (the variables its update-nginx-conf.sh requires). */
export function nginxConfigMap(values: PrimeroValues): IConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(values, NAMES.nginxConfig, 'nginx'),
    data: {
      NGINX_SERVER_NAME: values.host,
      NGINX_CERTIFICATE_NAME: 'primero',
      NGINX_SSL_CERT_PATH: `${TLS_DIR}/tls.crt`,
      NGINX_SSL_KEY_PATH: `${TLS_DIR}/tls.key`,
      NGINX_DH_PARAM: `${DHPARAM_DIR}/dhparam.pem`,
      // The certificate comes from a Secret (cert-manager or the partner), never from certbot or self-signed.
      USE_LETS_ENCRYPT: 'false',
      USE_EXTERNAL_CERTS: 'true',
      NGINX_PROXY_PASS_URL: `http://${NAMES.application}:3000`,
      NGINX_HTTP_PORT: '80',
      NGINX_HTTPS_PORT: '443',
      NGINX_CURRENT_PATH: APP_ROOT,
      NGINX_CLIENT_MAX_BODY_SIZE: '50M',
      NGINX_CLIENT_BODY_BUFFER_SIZE: '256k',
      PROXY_CONNECT_TIMEOUT: '30m',
      PROXY_SEND_TIMEOUT: '30m',
      PROXY_READ_TIMEOUT: '30m',
    },
  };
}

export function dhparamConfigMap(values: PrimeroValues): IConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(values, NAMES.dhparam, 'nginx'),
    data: { 'dhparam.pem': FFDHE2048 },
  };
}
