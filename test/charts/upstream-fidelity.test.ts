import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseAllDocuments, parseDocument } from 'yaml';
import type { KubeObject } from '../../charts/primero/common.js';
import { checkPolicies } from '../../charts/primero/policy.js';
import { checkUpstreamFidelity } from '../../charts/primero/upstream-check.js';
import { REPO_ROOT, tier4 } from '../support/cli.js';

// biome-ignore lint/suspicious/noExplicitAny: tests inspect and mutate manifests freely
type Any = any;

const EXAMPLE = join(REPO_ROOT, 'examples', 'tier4.example.yaml');
const STORAGE = '/srv/primero/application/storage';

/** `tier4 site render` of the example (edited), read back from the YAML it wrote. */
async function render(
  site: string,
  edit?: (doc: ReturnType<typeof parseDocument>) => void,
  args: string[] = [],
) {
  let config = EXAMPLE;
  if (edit) {
    const doc = parseDocument(await readFile(EXAMPLE, 'utf8'));
    edit(doc);
    config = join(await mkdtemp(join(tmpdir(), 'tier4-fidelity-config-')), 'tier4.yaml');
    await writeFile(config, doc.toString());
  }
  const out = await mkdtemp(join(tmpdir(), 'tier4-fidelity-'));
  const result = await tier4(['site', 'render', site, '-c', config, '--out', out, ...args]);
  const objects: KubeObject[] = [];
  for (const file of (await readdir(out)).filter((name) => name.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(await readFile(join(out, file), 'utf8'))) objects.push(doc.toJS());
  }
  return { result, objects };
}

const get = (objects: KubeObject[], kind: string, name: string): Any => {
  const found = objects.find(
    (o) => o.kind === kind && (o.metadata.name === name || o.metadata.name.startsWith(`${name}-`)),
  );
  if (!found) throw new Error(`no ${kind}/${name}`);
  return found;
};
const pod = (object: Any) =>
  object.kind === 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec;
const main = (object: Any) => pod(object).containers[0];
const configData = (objects: KubeObject[]) => get(objects, 'ConfigMap', 'primero-config').data;
const clone = (objects: KubeObject[]): Any[] => structuredClone(objects);
const rulesOf = (objects: KubeObject[]) =>
  checkUpstreamFidelity(objects).map((f) => `${f.object}: ${f.message}`);

let example: KubeObject[];

beforeAll(async () => {
  const { result, objects } = await render('production');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  example = objects;
});

describe('the example production site, as `tier4 site render` writes it, meets upstream Primero v2.15.2', () => {
  test('every workload passes the upstream check', () => {
    expect(rulesOf(example)).toEqual([]);
    for (const name of ['primero-application', 'primero-worker', 'primero-nginx'])
      get(example, 'Deployment', name);
    get(example, 'Job', 'primero-migrate');
    get(example, 'CronJob', 'tier4-backup');
  });

  test('1: the worker gets PRIMERO_WORKER_MULTIPROCESS (entrypoint.sh reads it under set -u)', () => {
    const worker = get(example, 'Deployment', 'primero-worker');
    expect(main(worker).envFrom).toContainEqual({ configMapRef: { name: 'primero-config' } });
    expect(configData(example).PRIMERO_WORKER_MULTIPROCESS).toBe('false');
  });

  test('2: nginx drops ALL but keeps NET_BIND_SERVICE, and the policy rules accept exactly that', () => {
    const nginx = get(example, 'Deployment', 'primero-nginx');
    expect(main(nginx).securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
    expect(checkPolicies(example, { drillIdentitySecret: 'tier4-drill-identity' })).toEqual([]);
    const more = clone(example);
    main(get(more, 'Deployment', 'primero-nginx')).securityContext.capabilities.add.push('NET_RAW');
    expect(checkPolicies(more, { drillIdentitySecret: 'tier4-drill-identity' }).map((f) => f.rule)).toEqual([
      'pss-restricted/capabilities',
    ]);
  });

  test("the application's probes: traffic only when /health (database, Solr) answers; restarts only on /health/server", () => {
    // Primero's health endpoints: /work/shared/primero-facts.md (Health).
    const container = main(get(example, 'Deployment', 'primero-application'));
    expect(container.readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/health/server', port: 'http' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/health/server', port: 'http' });
  });

  test('3: no nginx probe needs SNI', () => {
    const container = main(get(example, 'Deployment', 'primero-nginx'));
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
      expect(probe.httpGet?.scheme).not.toBe('HTTPS');
      expect(probe.tcpSocket ?? probe.httpGet?.httpHeaders).toBeDefined();
    }
  });

  test('5: the migrate Job writes local attachments; the backup CronJob reads them, read-only', () => {
    const migrate = get(example, 'Job', 'primero-migrate');
    const mount = main(migrate).volumeMounts.find((m: Any) => m.mountPath === STORAGE);
    expect(mount.readOnly).toBeUndefined();
    expect(pod(migrate).volumes.find((v: Any) => v.name === mount.name).persistentVolumeClaim.claimName).toBe(
      'primero-attachments',
    );
    const backup = get(example, 'CronJob', 'tier4-backup');
    const readMount = main(backup).volumeMounts.find((m: Any) => m.mountPath === STORAGE);
    expect(readMount.readOnly).toBe(true);
    expect(pod(backup).volumes.find((v: Any) => v.name === readMount.name).persistentVolumeClaim).toEqual({
      claimName: 'primero-attachments',
      readOnly: true,
    });
    // Primero's group, so attachments only its group may read stay readable; no fsGroup re-owning them.
    expect(pod(backup).securityContext.supplementalGroups).toEqual([1000]);
    // The drill checks attachments from the backup set, never the live volume.
    expect(JSON.stringify(get(example, 'CronJob', 'tier4-drill'))).not.toContain('primero-attachments');
  });

  test('9: PGPORT carries the database port', () => {
    expect(configData(example).PGPORT).toBe('5432');
  });
});

describe('settings the upstream check follows', () => {
  test('9: a database on port 5433 reaches app, worker and migrate as PGPORT', async () => {
    const { result, objects } = await render('production', (doc) =>
      doc.setIn(
        ['sites', 'production', 'database', 'url'],
        'postgres://primero@primero-db-rw.primero.svc:5433/primero_production?sslmode=verify-full',
      ),
    );
    expect(result.code).toBe(0);
    expect(configData(objects).PGPORT).toBe('5433');
    for (const object of [
      get(objects, 'Deployment', 'primero-application'),
      get(objects, 'Deployment', 'primero-worker'),
      get(objects, 'Job', 'primero-migrate'),
    ]) {
      expect(main(object).envFrom).toContainEqual({ configMapRef: { name: 'primero-config' } });
    }
  });

  test('1: workerMultiprocess turns on PRIMERO_WORKER_MULTIPROCESS', async () => {
    const { objects } = await render('production', (doc) =>
      doc.setIn(['sites', 'production', 'kubernetes', 'workerMultiprocess'], true),
    );
    expect(configData(objects).PRIMERO_WORKER_MULTIPROCESS).toBe('true');
  });

  test('5: bootstrap (first install) mounts attachments too', async () => {
    const { result, objects } = await render('production', undefined, ['--first-install']);
    expect(result.code).toBe(0);
    const migrate = get(objects, 'Job', 'primero-migrate');
    expect(main(migrate).args).toEqual(['primero-bootstrap']);
    expect(main(migrate).volumeMounts.map((m: Any) => m.mountPath)).toContain(STORAGE);
    expect(rulesOf(objects)).toEqual([]);
  });

  test('10: with Solr on, the application reads SOLR_* and the Solr pod gets its own environment', async () => {
    const { result, objects } = await render('production', (doc) =>
      doc.setIn(['sites', 'production', 'primero', 'solr'], true),
    );
    expect(result.code).toBe(0);
    expect(configData(objects)).toMatchObject({
      SOLR_ENABLED: 'true',
      SOLR_HOSTNAME: 'primero-solr',
      SOLR_PORT: '8983',
      SOLR_LOG_LEVEL: 'ERROR',
      SOLR_AUTO_COMMIT_AFTER_REQUEST: 'true',
    });
    const solr = main(get(objects, 'StatefulSet', 'primero-solr'));
    expect(Object.fromEntries(solr.env.map((e: Any) => [e.name, e.value]))).toMatchObject({
      SOLR_HEAP_MEMORY: '512m',
      SOLR_PORT: '8983',
      SOLR_LOG_LEVEL: 'ERROR',
      SOLR_LOGS_DIR: '/opt/logs',
    });
    expect(rulesOf(objects)).toEqual([]);
  });
});

describe('8: mail, as config/mailers.yml.template reads it', () => {
  const withMail =
    (
      mail: Record<string, unknown>,
      smtp: Record<string, unknown> | null = { cidrs: ['192.0.2.25/32'], port: 587 },
    ) =>
    (doc: ReturnType<typeof parseDocument>) => {
      doc.setIn(['sites', 'production', 'kubernetes', 'mail'], mail);
      if (smtp) doc.setIn(['sites', 'production', 'kubernetes', 'network', 'smtp'], smtp);
    };

  test('MAILER_*/SMTP_* in the ConfigMap, the password from the app Secret, never in a ConfigMap', async () => {
    const { result, objects } = await render(
      'production',
      withMail({
        from: 'Primero <primero@example.org>',
        address: 'smtp.example.org',
        user: 'primero',
        auth: 'login',
      }),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(configData(objects)).toMatchObject({
      MAILER_DELIVERY_METHOD: 'smtp',
      MAILER_DEFAULT_FROM: 'Primero <primero@example.org>',
      MAILER_NOTIFICATION_HOST: 'primero.example.org',
      SMTP_ADDRESS: 'smtp.example.org',
      SMTP_PORT: '587',
      SMTP_DOMAIN: 'primero.example.org',
      SMTP_USER: 'primero',
      SMTP_AUTH: 'login',
      SMTP_STARTTLS_AUTO: 'true',
    });
    for (const map of objects.filter((o) => o.kind === 'ConfigMap')) {
      expect(Object.keys((map as Any).data ?? {})).not.toContain('SMTP_PASSWORD');
    }
    for (const object of [
      get(objects, 'Deployment', 'primero-application'),
      get(objects, 'Deployment', 'primero-worker'),
    ]) {
      expect(main(object).env).toContainEqual({
        name: 'SMTP_PASSWORD',
        valueFrom: { secretKeyRef: { name: 'primero-app', key: 'SMTP_PASSWORD' } },
      });
    }
    expect(result.stdout).toMatch(/primero-app.*SMTP_PASSWORD/);
    expect(rulesOf(objects)).toEqual([]);
  });

  test('mail without an SMTP egress rule is refused, naming the setting', async () => {
    const { result } = await render(
      'production',
      withMail({ from: 'primero@example.org', address: 'smtp.example.org' }, null),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('kubernetes.network.smtp');
  });

  test.each([
    ['a colon and space', 'Primero: Team <primero@example.org>'],
    ['a comment', 'primero@example.org #x'],
    ['a YAML 1.1 boolean', 'yes'],
    ['a leading dollar (Primero drops it as unset)', '$HOME'],
  ])('a from address with %s is refused (it would not survive mailers.yml)', async (_what, from) => {
    const { result } = await render('production', withMail({ from, address: 'smtp.example.org' }));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('kubernetes.mail.from');
  });
});

describe('the upstream check catches each way the chart can drift from upstream', () => {
  const cases: Array<{ what: string; mutate: (o: Any[]) => void; finding: RegExp }> = [
    {
      what: '1: PRIMERO_WORKER_MULTIPROCESS unset',
      mutate: (o) => delete configData(o).PRIMERO_WORKER_MULTIPROCESS,
      finding: /primero-worker: .*PRIMERO_WORKER_MULTIPROCESS is not set/,
    },
    {
      what: '1: RAILS_PUBLIC_FILE_SERVER other than true (stage_assets would copy to a volume nobody serves)',
      mutate: (o) => (configData(o).RAILS_PUBLIC_FILE_SERVER = 'false'),
      finding: /primero-application: .*RAILS_PUBLIC_FILE_SERVER is "false"/,
    },
    {
      what: '1: a required variable missing (PRIMERO_HOST)',
      mutate: (o) => delete configData(o).PRIMERO_HOST,
      finding: /Job\/primero-migrate.*PRIMERO_HOST is not set/,
    },
    {
      what: '1: wait-for-migrations (through the entrypoint) without the app Secret',
      mutate: (o) => {
        const init = pod(get(o, 'Deployment', 'primero-worker')).initContainers.find(
          (c: Any) => c.name === 'wait-for-migrations',
        );
        init.env = [];
      },
      finding: /primero-worker: init container wait-for-migrations: POSTGRES_PASSWORD is not set/,
    },
    {
      what: '1: the worker overriding the entrypoint',
      mutate: (o) => (main(get(o, 'Deployment', 'primero-worker')).command = ['rails']),
      finding: /primero-worker: .*overrides the image's entrypoint/,
    },
    {
      what: '2: nginx without NET_BIND_SERVICE',
      mutate: (o) => delete main(get(o, 'Deployment', 'primero-nginx')).securityContext.capabilities.add,
      finding: /primero-nginx: .*drops NET_BIND_SERVICE/,
    },
    {
      what: '3: an HTTPS readiness probe on nginx',
      mutate: (o) =>
        (main(get(o, 'Deployment', 'primero-nginx')).readinessProbe = {
          httpGet: { path: '/health/server', port: 'https', scheme: 'HTTPS' },
        }),
      finding: /readiness probe uses HTTPS/,
    },
    {
      what: '3: an HTTP probe on port 80 without the server name as Host',
      mutate: (o) =>
        (main(get(o, 'Deployment', 'primero-nginx')).livenessProbe = {
          httpGet: { path: '/', port: 'http' },
        }),
      finding: /liveness probe is HTTP without Host primero.example.org/,
    },
    {
      what: '5: the migrate Job without the attachments volume',
      mutate: (o) => {
        const container = main(get(o, 'Job', 'primero-migrate'));
        container.volumeMounts = container.volumeMounts.filter((m: Any) => m.mountPath !== STORAGE);
      },
      finding:
        /Job\/primero-migrate.*local attachments at \/srv\/primero\/application\/storage are not mounted/,
    },
    {
      what: '5: the backup CronJob without the attachments volume',
      mutate: (o) => {
        const container = main(get(o, 'CronJob', 'tier4-backup'));
        container.volumeMounts = container.volumeMounts.filter((m: Any) => m.mountPath !== STORAGE);
      },
      finding: /CronJob\/tier4-backup: the attachments volume is not mounted/,
    },
    {
      what: '5: the backup CronJob mounting attachments writable',
      mutate: (o) => {
        const mount = main(get(o, 'CronJob', 'tier4-backup')).volumeMounts.find(
          (m: Any) => m.mountPath === STORAGE,
        );
        delete mount.readOnly;
      },
      finding: /CronJob\/tier4-backup: .*must be mounted read-only/,
    },
    {
      what: '8: the SMTP password in a ConfigMap',
      mutate: (o) => (configData(o).SMTP_PASSWORD = 'x'),
      finding: /ConfigMap\/primero-config: holds SMTP_PASSWORD/,
    },
    {
      what: '8: the SMTP password as a literal',
      mutate: (o) => {
        configData(o).MAILER_DELIVERY_METHOD = 'smtp';
        main(get(o, 'Deployment', 'primero-worker')).env.push({ name: 'SMTP_PASSWORD', value: 'x' });
      },
      finding: /primero-worker: .*SMTP_PASSWORD holds a secret but is not read from a Secret/,
    },
    {
      what: '9: PGPORT that is not a port',
      mutate: (o) => (configData(o).PGPORT = 'five'),
      finding: /PGPORT "five" is not a port/,
    },
    {
      what: 'the application running as another user',
      mutate: (o) => (main(get(o, 'Deployment', 'primero-application')).securityContext.runAsUser = 1001),
      finding: /primero-application: .*runs as 1001/,
    },
    {
      what: 'config/ not writable (docker/sub.sh renders the templates in place)',
      mutate: (o) => {
        const container = main(get(o, 'Deployment', 'primero-application'));
        container.volumeMounts = container.volumeMounts.filter(
          (m: Any) => m.mountPath !== '/srv/primero/application/config',
        );
      },
      finding: /\/srv\/primero\/application\/config is written by the image/,
    },
  ];

  test.each(cases)('$what', ({ mutate, finding }) => {
    const objects = clone(example);
    mutate(objects);
    expect(rulesOf(objects).join('\n')).toMatch(finding);
  });
});
