import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { type KubeObject, NAMES } from './common.js';
import type { Finding } from './policy.js';
import {
  APPLICATION_IMAGE,
  type CommandFact,
  DATABASE_PORT,
  ENTRYPOINT_COMMANDS,
  type EnvFact,
  MAIL_ENV,
  NGINX_IMAGE,
  RAILS_ENV_FACTS,
  SOLR_APP_ENV,
  SOLR_IMAGE,
  STORAGE,
} from './upstream.js';

/**
 * Checks rendered manifests against what upstream Primero's images need (upstream.ts): each Primero workload
 * gets the variables its entrypoint path reads, the user, capabilities, writable paths, probes and storage
 * mounts the image relies on. Works on plain objects, so it checks YAML written by `site render` as well.
 */

/** A policy-style finding (rule `upstream-fidelity`), so `site render` and doctor report it with the others. */
export type FidelityFinding = Finding;
const RULE = 'upstream-fidelity';

/** How a variable is set in a container: a literal (its value), from a Secret, or from a ConfigMap key. */
type EnvSource = { kind: 'value'; value: string } | { kind: 'secret' } | { kind: 'configMap'; value: string };

function podOf(object: KubeObject): IPodSpec | undefined {
  type Template = { template?: { spec?: IPodSpec } };
  const spec = object.spec as (Template & { jobTemplate?: { spec?: Template } }) | undefined;
  if (!spec) return undefined;
  if (object.kind === 'CronJob') return spec.jobTemplate?.spec?.template?.spec;
  return spec.template?.spec;
}

function envOf(container: IContainer, objects: KubeObject[]): Map<string, EnvSource> {
  const env = new Map<string, EnvSource>();
  for (const from of container.envFrom ?? []) {
    const name = from.configMapRef?.name;
    const map = objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === name);
    for (const [key, value] of Object.entries((map?.data as Record<string, string>) ?? {})) {
      env.set(key, { kind: 'configMap', value });
    }
  }
  for (const item of container.env ?? []) {
    if (item.valueFrom?.secretKeyRef) env.set(item.name, { kind: 'secret' });
    else if (item.valueFrom?.configMapKeyRef) env.set(item.name, { kind: 'configMap', value: '' });
    else env.set(item.name, { kind: 'value', value: item.value ?? '' });
  }
  return env;
}

function literal(source: EnvSource | undefined): string | undefined {
  return source && source.kind !== 'secret' ? source.value : undefined;
}

function checkEnv(facts: EnvFact[], env: Map<string, EnvSource>, say: (message: string) => void): void {
  for (const fact of facts) {
    const source = env.get(fact.name);
    if (!source) {
      if (fact.required) say(`${fact.name} is not set, and ${fact.source} needs it`);
      continue;
    }
    if (fact.secret && source.kind !== 'secret') {
      say(`${fact.name} holds a secret but is not read from a Secret (${fact.source})`);
      continue;
    }
    const value = literal(source);
    if (value === undefined) continue;
    if (fact.required && value === '') say(`${fact.name} is empty, and ${fact.source} needs it`);
    if (fact.allowed && value !== '' && !fact.allowed.includes(value)) {
      say(
        `${fact.name} is "${value}"; the chart relies on one of ${fact.allowed.join(', ')} (${fact.source})`,
      );
    }
  }
}

function find(objects: KubeObject[], kind: string, test: (object: KubeObject) => boolean) {
  return objects.filter((object) => object.kind === kind && test(object));
}

function mountAt(container: IContainer, path: string) {
  return (container.volumeMounts ?? []).find((mount) => mount.mountPath === path);
}

function checkWritable(container: IContainer, paths: readonly string[], say: (message: string) => void) {
  if (container.securityContext?.readOnlyRootFilesystem !== true) return;
  for (const path of paths) {
    const mount = mountAt(container, path);
    if (!mount || mount.readOnly) say(`${path} is written by the image but is not a writable volume`);
  }
}

/** A reporter for one container, after checking it runs the image (any tag or digest) as the image's user. */
function containerChecks(
  object: KubeObject,
  container: IContainer,
  image: { repository: string; uid: number },
  findings: FidelityFinding[],
): (message: string) => void {
  const ref = `${object.kind}/${object.metadata.name}`;
  const say = (message: string) =>
    findings.push({ rule: RULE, object: ref, message: `container ${container.name}: ${message}` });
  const { repository, uid } = image;
  if (!container.image?.startsWith(`${repository}:`) && !container.image?.startsWith(`${repository}@`)) {
    say(`image ${container.image} is not ${repository}`);
  }
  const user = container.securityContext?.runAsUser;
  if (user !== uid) say(`runs as ${user}, not the image's user ${uid}`);
  return say;
}

function checkRails(
  object: KubeObject,
  container: IContainer,
  command: CommandFact,
  repository: string,
  objects: KubeObject[],
  findings: FidelityFinding[],
): Map<string, EnvSource> {
  const say = containerChecks(object, container, { repository, uid: APPLICATION_IMAGE.uid }, findings);
  if (container.command) say(`overrides the image's entrypoint (${APPLICATION_IMAGE.entrypoint.join(' ')})`);
  if (container.args?.[0] !== command.arg) say(`runs ${container.args?.[0]}, not ${command.arg}`);
  const env = envOf(container, objects);
  checkEnv([...RAILS_ENV_FACTS, ...command.env], env, say);
  const port = literal(env.get(DATABASE_PORT.variable));
  if (port !== undefined && !/^\d{1,5}$/.test(port)) say(`${DATABASE_PORT.variable} "${port}" is not a port`);
  const writable = [
    ...APPLICATION_IMAGE.writable.always,
    ...(command === ENTRYPOINT_COMMANDS.start || command === ENTRYPOINT_COMMANDS.worker
      ? []
      : APPLICATION_IMAGE.writable.migrate),
  ].map((dir) => `${APPLICATION_IMAGE.appRoot}/${dir}`);
  checkWritable(container, writable, say);
  if (literal(env.get(STORAGE.typeVariable)) === 'local') {
    const path = literal(env.get(STORAGE.pathVariable)) || STORAGE.defaultPath;
    const mount = mountAt(container, path);
    if (!mount || mount.readOnly)
      say(`local attachments at ${path} are not mounted writable (${STORAGE.source})`);
  }
  if (env.has('MAILER_DELIVERY_METHOD')) checkEnv(MAIL_ENV, env, say);
  else if (env.has('SMTP_PASSWORD') && env.get('SMTP_PASSWORD')?.kind !== 'secret') {
    say('SMTP_PASSWORD is not read from a Secret');
  }
  if (literal(env.get('SOLR_ENABLED')) === 'true') {
    checkEnv(SOLR_APP_ENV, env, say);
    const host = literal(env.get('SOLR_HOSTNAME'));
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === host);
    if (!service) say(`SOLR_HOSTNAME ${host} names no Service in the manifests`);
  }
  return env;
}

/**
 * An init container that goes through Primero's entrypoint (no command of its own, e.g. wait-for-migrations)
 * passes check_required_variables and renders config/ first, like the main container.
 */
function checkEntrypointInit(
  object: KubeObject,
  container: IContainer,
  objects: KubeObject[],
  findings: FidelityFinding[],
): void {
  if (container.command) return;
  const ref = `${object.kind}/${object.metadata.name}`;
  const say = (message: string) =>
    findings.push({ rule: RULE, object: ref, message: `init container ${container.name}: ${message}` });
  checkEnv(RAILS_ENV_FACTS, envOf(container, objects), say);
  checkWritable(container, [`${APPLICATION_IMAGE.appRoot}/config`], say);
}

function mainContainer(object: KubeObject): IContainer | undefined {
  return podOf(object)?.containers?.[0];
}

function checkNginx(object: KubeObject, objects: KubeObject[], findings: FidelityFinding[]) {
  const container = mainContainer(object);
  if (!container) return;
  const say = containerChecks(object, container, NGINX_IMAGE, findings);
  const context = container.securityContext;
  const added = context?.capabilities?.add ?? [];
  const dropsAll = context?.capabilities?.drop?.includes('ALL');
  for (const capability of NGINX_IMAGE.capabilities) {
    if (dropsAll && !added.includes(capability)) {
      say(
        `drops ${capability}, a file capability of /usr/sbin/nginx: the kernel refuses to exec it (${NGINX_IMAGE.source})`,
      );
    }
  }
  const env = envOf(container, objects);
  checkEnv(NGINX_IMAGE.env, env, say);
  checkWritable(container, NGINX_IMAGE.writable, say);
  const serverName = literal(env.get('NGINX_SERVER_NAME'));
  const httpPorts = new Set<string | number>([NGINX_IMAGE.ports.http]);
  for (const port of container.ports ?? [])
    if (port.containerPort === NGINX_IMAGE.ports.http && port.name) httpPorts.add(port.name);
  for (const [kind, probe] of [
    ['startup', container.startupProbe],
    ['liveness', container.livenessProbe],
    ['readiness', container.readinessProbe],
  ] as const) {
    const get = probe?.httpGet;
    if (!get) continue;
    const host = get.httpHeaders?.find((header) => header.name.toLowerCase() === 'host')?.value;
    if (get.scheme === 'HTTPS')
      say(`${kind} probe uses HTTPS, which nginx rejects without SNI (${NGINX_IMAGE.probes})`);
    else if (!httpPorts.has(get.port as string | number) || host !== serverName) {
      say(
        `${kind} probe is HTTP without Host ${serverName} on port ${NGINX_IMAGE.ports.http}: nginx answers 444`,
      );
    }
  }
}

function checkSolr(object: KubeObject, objects: KubeObject[], findings: FidelityFinding[]) {
  const container = mainContainer(object);
  if (!container) return;
  const say = containerChecks(object, container, SOLR_IMAGE, findings);
  const env = envOf(container, objects);
  for (const fact of SOLR_IMAGE.env) {
    if (!env.has(fact.name))
      say(`${fact.name} is not set; upstream gives Solr ${fact.upstreamDefault} (${fact.source})`);
  }
  checkEnv(SOLR_IMAGE.env, env, say);
  checkWritable(container, SOLR_IMAGE.writable, say);
}

function checkBackup(object: KubeObject, objects: KubeObject[], findings: FidelityFinding[]) {
  const container = mainContainer(object);
  const app = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'primero-application');
  const appContainer = app && mainContainer(app);
  if (!container || !appContainer) return;
  const appEnv = envOf(appContainer, objects);
  if (literal(appEnv.get(STORAGE.typeVariable)) !== 'local') return;
  const path = literal(appEnv.get(STORAGE.pathVariable)) || STORAGE.defaultPath;
  const mount = mountAt(container, path);
  const claim = podOf(object)?.volumes?.find((volume) => volume.name === mount?.name)?.persistentVolumeClaim;
  const appClaim = podOf(app)?.volumes?.find((volume) => volume.name === mountAt(appContainer, path)?.name)
    ?.persistentVolumeClaim?.claimName;
  const ref = `${object.kind}/${object.metadata.name}`;
  if (!mount || !claim || claim.claimName !== appClaim) {
    findings.push({
      rule: RULE,
      object: ref,
      message: `the attachments volume is not mounted at ${path}, so every attachment reads as missing`,
    });
  } else if (!mount.readOnly || !claim.readOnly) {
    findings.push({
      rule: RULE,
      object: ref,
      message: `the attachments volume at ${path} must be mounted read-only`,
    });
  }
}

/** Every way the rendered workloads differ from what upstream's images need; empty when none. */
export function checkUpstreamFidelity(objects: KubeObject[]): FidelityFinding[] {
  const findings: FidelityFinding[] = [];
  const deployment = (name: string) => find(objects, 'Deployment', (o) => o.metadata.name === name);
  const rails = [
    ['primero-application', ENTRYPOINT_COMMANDS.start, APPLICATION_IMAGE.repositories.application],
    ['primero-worker', ENTRYPOINT_COMMANDS.worker, APPLICATION_IMAGE.repositories.worker],
  ] as const;
  for (const [name, command, repository] of rails) {
    for (const object of deployment(name)) {
      const container = mainContainer(object);
      if (container) checkRails(object, container, command, repository, objects, findings);
      for (const init of podOf(object)?.initContainers ?? [])
        checkEntrypointInit(object, init, objects, findings);
    }
  }
  for (const job of find(objects, 'Job', (o) => o.metadata.name.startsWith('primero-migrate'))) {
    const container = mainContainer(job);
    if (!container) continue;
    const command =
      container.args?.[0] === ENTRYPOINT_COMMANDS.bootstrap.arg
        ? ENTRYPOINT_COMMANDS.bootstrap
        : ENTRYPOINT_COMMANDS.migrate;
    checkRails(job, container, command, APPLICATION_IMAGE.repositories.application, objects, findings);
  }
  for (const nginx of deployment(NAMES.nginx)) checkNginx(nginx, objects, findings);
  for (const solr of find(objects, 'StatefulSet', (o) => o.metadata.name === 'primero-solr'))
    checkSolr(solr, objects, findings);
  for (const backup of find(objects, 'CronJob', (o) => o.metadata.name === 'tier4-backup'))
    checkBackup(backup, objects, findings);
  for (const map of find(objects, 'ConfigMap', () => true)) {
    for (const key of Object.keys((map.data as Record<string, string>) ?? {})) {
      const fact = [...RAILS_ENV_FACTS, ...MAIL_ENV].find((item) => item.name === key);
      if (fact?.secret)
        findings.push({
          rule: RULE,
          object: `ConfigMap/${map.metadata.name}`,
          message: `holds ${key}, a secret`,
        });
    }
  }
  return findings;
}
