/**
 * What the chart relies on from upstream Primero (primeroIMS/primero at UPSTREAM_REF), written down once.
 * Each fact names the upstream file it was read from; upstream-check.ts checks rendered manifests against
 * these facts, and test/charts/upstream-fidelity.test.ts runs that check on the shipped example. When a new
 * Primero release changes one of these files, change the fact here and let the check show what must follow.
 */

export const UPSTREAM_REF = 'v2.15.2';

export interface EnvFact {
  name: string;
  /** Read under `set -u` (or otherwise fatal when missing): the container exits if it is unset. */
  required: boolean;
  /** Upstream's own value (docker/defaults.env), when it has one. */
  upstreamDefault?: string;
  /** Values the chart may set; anything else breaks an assumption written next to it. */
  allowed?: readonly string[];
  /** Holds a secret: must come from a Secret key, never a literal or a ConfigMap. */
  secret?: boolean;
  source: string;
}

const ENTRYPOINT = 'docker/application/root/entrypoint.sh';
const DEFAULTS = 'docker/defaults.env';

/** Every Primero (Rails) container: checked by check_required_variables before any command runs. */
const RAILS_REQUIRED: EnvFact[] = [
  { name: 'PRIMERO_HOST', required: true, source: `${ENTRYPOINT} check_required_variables` },
  { name: 'POSTGRES_USER', required: true, source: `${ENTRYPOINT} check_required_variables` },
  {
    name: 'POSTGRES_PASSWORD',
    required: true,
    secret: true,
    source: `${ENTRYPOINT} check_required_variables`,
  },
  {
    name: 'PRIMERO_SECRET_KEY_BASE',
    required: true,
    secret: true,
    source: `${ENTRYPOINT} check_required_variables`,
  },
  {
    name: 'DEVISE_SECRET_KEY',
    required: true,
    secret: true,
    source: `${ENTRYPOINT} check_required_variables`,
  },
  {
    name: 'PRIMERO_MESSAGE_SECRET',
    required: true,
    secret: true,
    source: `${ENTRYPOINT} check_required_variables; app/services/encryption_service.rb`,
  },
  // config/database.yml.template is rendered by docker/sub.sh (envsubst of defined variables only):
  // an unset one stays a literal "$NAME" in database.yml.
  {
    name: 'POSTGRES_DATABASE',
    required: true,
    upstreamDefault: 'primero_production',
    source: 'config/database.yml.template',
  },
  {
    name: 'POSTGRES_HOSTNAME',
    required: true,
    upstreamDefault: 'postgres',
    source: 'config/database.yml.template',
  },
  {
    name: 'POSTGRES_SSL_MODE',
    required: true,
    upstreamDefault: 'prefer',
    source: 'config/database.yml.template',
  },
  {
    name: 'POSTGRES_POOL_NUM',
    required: true,
    upstreamDefault: '10',
    source: 'config/database.yml.template',
  },
  {
    name: 'RAILS_ENV',
    required: true,
    upstreamDefault: 'production',
    source: 'config/database.yml.template',
  },
];

export interface CommandFact {
  /** The argument given to the entrypoint. */
  arg: string;
  env: EnvFact[];
  source: string;
}

/** The entrypoint's commands and what each reads on its own path (beyond RAILS_REQUIRED). */
export const ENTRYPOINT_COMMANDS: Record<'start' | 'worker' | 'migrate' | 'bootstrap', CommandFact> = {
  start: {
    arg: 'primero-start',
    source: `${ENTRYPOINT} primero_start, stage_assets`,
    env: [
      // stage_assets reads it under set -u; anything but "true" copies public/ to APP_SHARE_DIR, a shared
      // volume nginx would serve. The chart has no such volume: Rails serves its own assets.
      {
        name: 'RAILS_PUBLIC_FILE_SERVER',
        required: true,
        upstreamDefault: 'false',
        allowed: ['true'],
        source: `${ENTRYPOINT} stage_assets; config/environments/production.rb`,
      },
    ],
  },
  worker: {
    arg: 'primero-worker',
    source: `${ENTRYPOINT} primero_worker`,
    env: [
      {
        name: 'PRIMERO_WORKER_MULTIPROCESS',
        required: true,
        upstreamDefault: 'false',
        allowed: ['true', 'false'],
        source: `${ENTRYPOINT} primero_worker (set -u); ${DEFAULTS}`,
      },
    ],
  },
  migrate: {
    arg: 'primero-migrate',
    source: `${ENTRYPOINT} primero_migrate`,
    // Read under set +u: optional. Set, the database is not created (it exists already).
    env: [{ name: 'PRIMERO_PG_APP_ROLE', required: false, source: `${ENTRYPOINT} primero_migrate` }],
  },
  bootstrap: {
    arg: 'primero-bootstrap',
    source: `${ENTRYPOINT} primero_bootstrap, primero_configure`,
    env: [
      { name: 'PRIMERO_PG_APP_ROLE', required: false, source: `${ENTRYPOINT} primero_migrate` },
      {
        name: 'RUN_DEFAULT_PRIMERO_SEEDS',
        required: false,
        allowed: ['true'],
        source: `${ENTRYPOINT} primero_configure`,
      },
    ],
  },
};

export const RAILS_ENV_FACTS = RAILS_REQUIRED;

/** The Rails images: docker/application/Dockerfile (the worker image is the same file with IS_WORKER). */
export const APPLICATION_IMAGE = {
  repositories: { application: 'primeroims/application', worker: 'primeroims/worker' },
  uid: 1000,
  gid: 1000,
  appRoot: '/srv/primero/application',
  /** ENTRYPOINT tini -- /entrypoint.sh; CMD primero-start. The chart passes args only, never a command. */
  entrypoint: ['/sbin/tini', '--', '/entrypoint.sh'],
  /** Puma listens here (config/puma.rb, NGINX_PROXY_PASS_URL default http://application:3000). */
  port: 3000,
  /**
   * Written at start or at run time, so writable volumes under a read-only root: config/ (docker/sub.sh renders
   * *.yml.template in place), tmp/ and log/ (Rails; exports under tmp/export), db/ for db:migrate (schema.rb).
   */
  writable: { always: ['config', 'tmp', 'log'], migrate: ['db'] },
  source: 'docker/application/Dockerfile; docker/sub.sh; config/environments/production.rb',
} as const;

/** ActiveStorage's local service root (config/storage.yml `local`): PRIMERO_STORAGE_PATH, else Rails.root/storage. */
export const STORAGE = {
  typeVariable: 'PRIMERO_STORAGE_TYPE',
  pathVariable: 'PRIMERO_STORAGE_PATH',
  defaultPath: '/srv/primero/application/storage',
  /**
   * Who writes there: the application and worker (attachments, exports), and bootstrap's seeds, which
   * attach agency logos (db/seeds). tier4's backup reads it, its drill checks it.
   */
  source: 'config/storage.yml; docker/application/Dockerfile (mkdir storage); db/seeds',
} as const;

/** PGPORT: config/database.yml.template has no port, so libpq's own PGPORT is the only way to set one. */
export const DATABASE_PORT = {
  variable: 'PGPORT',
  default: 5432,
  source: 'config/database.yml.template',
} as const;

/**
 * Mail: config/mailers.yml.template, loaded by app/services/config_yaml_loader.rb, which drops any value still
 * reading "$NAME" (unset). delivery_method is passed through to_sym (config/initializers/action_mailer.rb):
 * write `smtp`, not `:smtp` (safe_load refuses a YAML symbol).
 */
export const MAIL_ENV: EnvFact[] = [
  {
    name: 'MAILER_DELIVERY_METHOD',
    required: false,
    allowed: ['smtp'],
    source: 'config/mailers.yml.template',
  },
  { name: 'MAILER_DEFAULT_FROM', required: false, source: 'config/mailers.yml.template' },
  { name: 'MAILER_NOTIFICATION_HOST', required: false, source: 'config/mailers.yml.template' },
  { name: 'SMTP_ADDRESS', required: false, source: 'config/mailers.yml.template' },
  { name: 'SMTP_PORT', required: false, source: 'config/mailers.yml.template' },
  { name: 'SMTP_DOMAIN', required: false, source: 'config/mailers.yml.template' },
  { name: 'SMTP_AUTH', required: false, source: 'config/mailers.yml.template' },
  { name: 'SMTP_USER', required: false, source: 'config/mailers.yml.template' },
  { name: 'SMTP_PASSWORD', required: false, secret: true, source: 'config/mailers.yml.template' },
  {
    name: 'SMTP_STARTTLS_AUTO',
    required: false,
    allowed: ['true', 'false'],
    source: 'config/mailers.yml.template',
  },
];

/** The length of PRIMERO_MESSAGE_SECRET: the fact and its source are in core/primero/message-secret.ts. */
export { MESSAGE_SECRET_BYTES } from '../../core/primero/message-secret.js';

/** What the application reads for Solr (config/sunspot.yml.template, config/initializers/enable_solr.rb). */
export const SOLR_APP_ENV: EnvFact[] = [
  {
    name: 'SOLR_ENABLED',
    required: false,
    allowed: ['true', 'false'],
    source: 'config/initializers/enable_solr.rb',
  },
  { name: 'SOLR_HOSTNAME', required: true, upstreamDefault: 'solr', source: 'config/sunspot.yml.template' },
  { name: 'SOLR_PORT', required: true, upstreamDefault: '8983', source: 'config/sunspot.yml.template' },
  {
    name: 'SOLR_LOG_LEVEL',
    required: false,
    upstreamDefault: 'ERROR',
    source: 'config/sunspot.yml.template',
  },
  {
    name: 'SOLR_AUTO_COMMIT_AFTER_REQUEST',
    required: false,
    upstreamDefault: 'true',
    allowed: ['true', 'false'],
    source: 'config/sunspot.yml.template',
  },
];

/**
 * The Solr image (docker/solr/Dockerfile, solr:8.11 base, user solr 8983): docker compose gives it
 * docker/defaults.env, which its solr.in.sh.template reads (rendered by docker/sub.sh into /opt/solr/bin).
 */
export const SOLR_IMAGE = {
  repository: 'primeroims/solr',
  uid: 8983,
  port: 8983,
  core: 'primero',
  /** The image's CMD creates the core from its config set on first start. */
  data: '/var/solr',
  env: [
    {
      name: 'SOLR_HEAP_MEMORY',
      required: false,
      upstreamDefault: '512m',
      source: 'docker/solr/root/opt/solr/bin/solr.in.sh.template',
    },
    {
      name: 'SOLR_LOG_LEVEL',
      required: false,
      upstreamDefault: 'ERROR',
      source: 'docker/solr/root/opt/solr/bin/solr.in.sh.template',
    },
    {
      name: 'SOLR_LOGS_DIR',
      required: false,
      upstreamDefault: '/var/solr/logs',
      source: 'docker/solr/root/opt/solr/bin/solr.in.sh.template',
    },
    {
      name: 'SOLR_PORT',
      required: false,
      upstreamDefault: '8983',
      allowed: ['8983'],
      source: 'docker/solr/root/opt/solr/bin/solr.in.sh.template',
    },
  ] satisfies EnvFact[],
  writable: ['/var/solr', '/opt/solr/bin'],
  source: 'docker/solr/Dockerfile; docker/docker-compose.yml (env_file defaults.env)',
} as const;

/**
 * The nginx image: docker/nginx/Dockerfile. User docker-nginx (NGINX_UID 1001, docker/defaults.env);
 * `setcap cap_net_bind_service=+ep /usr/sbin/nginx`: the kernel refuses to exec a binary whose file
 * capabilities are not all in the bounding set, so NET_BIND_SERVICE must not be dropped.
 */
export const NGINX_IMAGE = {
  repository: 'primeroims/nginx',
  uid: 1001,
  capabilities: ['NET_BIND_SERVICE'],
  ports: { http: 80, https: 443 },
  /** update-nginx-conf.sh exits unless each is set (its `require`). */
  env: [
    'NGINX_CURRENT_PATH',
    'NGINX_HTTP_PORT',
    'NGINX_SERVER_NAME',
    'NGINX_HTTPS_PORT',
    'NGINX_DH_PARAM',
    'NGINX_CLIENT_MAX_BODY_SIZE',
    'NGINX_CLIENT_BODY_BUFFER_SIZE',
    'NGINX_PROXY_PASS_URL',
    'PROXY_CONNECT_TIMEOUT',
    'PROXY_SEND_TIMEOUT',
    'PROXY_READ_TIMEOUT',
    'NGINX_SSL_CERT_PATH',
    'NGINX_SSL_KEY_PATH',
  ].map((name) => ({ name, required: true, source: 'docker/nginx/root/usr/local/bin/update-nginx-conf.sh' })),
  /**
   * Written at start: conf.d/primero.conf (update-nginx-conf.sh), the pid file and caches (nginx), and
   * NGINX_DH_PARAM when it is missing or invalid (entrypoint.sh prim_generate_dh).
   */
  writable: ['/etc/nginx/conf.d', '/var/cache/nginx', '/var/run'],
  /**
   * conf.d/server-defaults.conf: default servers on 80 and 443 answer 444 and, on 443, reject a TLS handshake
   * without a known SNI name. primero.conf.template: with a certificate, port 80 answers 301 to https for every
   * path but ACME challenges. So a probe cannot be HTTPS (kubelet sends no SNI), and an HTTP probe needs the
   * server name as Host and must accept the redirect; a re-encrypting proxy must send SNI = NGINX_SERVER_NAME.
   */
  probes: 'TCP, or HTTP on port 80 with Host = NGINX_SERVER_NAME',
  source:
    'docker/nginx/Dockerfile; docker/nginx/root/etc/nginx/conf.d/server-defaults.conf; primero.conf.template',
} as const;
