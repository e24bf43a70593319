import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { KubeObject } from '../../charts/primero/common.js';
import { valuesFromSite } from '../../charts/primero/from-site.js';
import { networkPolicies } from '../../charts/primero/network.js';
import type { PrimeroValues } from '../../charts/primero/values.js';
import { loadConfig } from '../../core/config/load.js';
import { planLoadedSite } from '../../stacks/production/render.js';
import { REPO_ROOT } from '../support/cli.js';

// biome-ignore lint/suspicious/noExplicitAny: tests read manifests freely
type Any = any;

/**
 * Exactly what each NetworkPolicy allows: for both example sites and for every option that changes a policy, the
 * whole rendered object (selector, policy types, peers, ports, in order). The flows come from the facts the chart
 * cites: Primero's nginx on 80/443 in front of puma on 3000 and Solr on 8983 (/work/shared/primero-facts.md),
 * CloudNativePG instances on PostgreSQL's port and the instance manager's 8000 (network.ts), the cluster DNS on
 * 53 over UDP and TCP, the API server on 443 and 6443.
 */

const EXAMPLE = join(REPO_ROOT, 'examples', 'tier4.example.yaml');
const PUMA = 3000;
const SOLR = 8983;
const CNPG_STATUS = 8000;
const PG = 5432;
const ANYWHERE = [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }];
const STORE = [{ ipBlock: { cidr: '198.51.100.20/32' } }]; // the example's storageCidrs (MinIO)
const CNPG_OPERATOR = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'cnpg-system' } },
};
const INSTANCES = { podSelector: { matchLabels: { 'cnpg.io/cluster': 'primero-db' } } };
const DRILL_INSTANCES = { podSelector: { matchLabels: { 'cnpg.io/cluster': 'primero-db-drill' } } };

let production: PrimeroValues;
let demo: PrimeroValues;

beforeAll(() => {
  const loaded = loadConfig(EXAMPLE);
  const configText = readFileSync(EXAMPLE, 'utf8');
  production = valuesFromSite(loaded.config, 'production', { configText });
  demo = valuesFromSite(loaded.config, 'demo', { configText });
});

const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port }));

/** The pod labels of one component of the example's site (the chart's selector labels). */
function pods(site: string, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'primero',
    'app.kubernetes.io/instance': `example-cp-${site}`,
    'app.kubernetes.io/component': component,
  };
}

const peer = (site: string, component: string) => ({ podSelector: { matchLabels: pods(site, component) } });

function policy(site: string, name: string, spec: Record<string, unknown>) {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name,
      namespace: 'primero',
      labels: {
        ...pods(site, 'network'),
        'app.kubernetes.io/version': 'v2.15.2',
        'app.kubernetes.io/part-of': 'primero',
        'app.kubernetes.io/managed-by': 'tier4',
      },
    },
    spec,
  };
}

const DEFAULT_DENY = (site: string) =>
  policy(site, 'default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });

const ALLOW_DNS = (site: string) =>
  policy(site, 'allow-dns', {
    podSelector: {},
    policyTypes: ['Egress'],
    egress: [
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
            podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
          },
        ],
        ports: [
          { protocol: 'UDP', port: 53 },
          { protocol: 'TCP', port: 53 },
        ],
      },
    ],
  });

/** The example's clientCidrs: [0.0.0.0/0]. */
const EXAMPLE_CLIENTS = [{ ipBlock: { cidr: '0.0.0.0/0' } }];

const NGINX = (site: string, clients: unknown[] = EXAMPLE_CLIENTS) =>
  policy(site, 'primero-nginx', {
    podSelector: { matchLabels: pods(site, 'nginx') },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: clients, ports: tcp(80, 443) }],
    egress: [{ to: [peer(site, 'application')], ports: tcp(PUMA) }],
  });

const APPLICATION = (site: string, egress: unknown[]) =>
  policy(site, 'primero-application', {
    podSelector: { matchLabels: pods(site, 'application') },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [peer(site, 'nginx')], ports: tcp(PUMA) }],
    egress,
  });

/** No ingress at all (an empty list: isolated), the given egress. */
const ISOLATED = (site: string, name: string, component: string, egress: unknown[]) =>
  policy(site, name, {
    podSelector: { matchLabels: pods(site, component) },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [],
    egress,
  });

const DB_EGRESS = { to: [INSTANCES], ports: tcp(PG) };

const DRILL_PODS = { ...pods('production', 'ops'), 'tier4.primero.org/job': 'tier4-drill' };

const TIER4_DRILL = policy('production', 'tier4-drill', {
  podSelector: { matchLabels: DRILL_PODS },
  policyTypes: ['Egress'],
  egress: [{ to: [DRILL_INSTANCES], ports: tcp(PG) }],
});

const DRILL_DB = policy('production', 'primero-drill-db', {
  podSelector: { matchLabels: { 'cnpg.io/cluster': 'primero-db-drill' } },
  policyTypes: ['Ingress', 'Egress'],
  ingress: [
    { from: [{ podSelector: { matchLabels: DRILL_PODS } }], ports: tcp(PG) },
    { from: [CNPG_OPERATOR], ports: tcp(PG, CNPG_STATUS) },
  ],
  egress: [{ to: ANYWHERE, ports: tcp(443, 6443) }, { to: [CNPG_OPERATOR] }],
});

const DOCTOR = (site: string, egress: unknown[]) =>
  policy(site, 'tier4-doctor', {
    podSelector: {
      matchLabels: pods(site, 'ops'),
      matchExpressions: [
        { key: 'tier4.primero.org/job', operator: 'In', values: ['tier4-doctor', 'tier4-exporter'] },
      ],
    },
    policyTypes: ['Egress'],
    egress,
  });
const DOCTOR_API = { to: ANYWHERE, ports: tcp(443, 6443) };
const DOCTOR_PEER = { to: ANYWHERE, ports: tcp(443) };

const PRIMERO_DB = policy('production', 'primero-db', {
  podSelector: { matchLabels: { 'cnpg.io/cluster': 'primero-db' } },
  policyTypes: ['Ingress', 'Egress'],
  ingress: [
    {
      from: ['application', 'worker', 'migrate', 'ops'].map((component) => peer('production', component)),
      ports: tcp(PG),
    },
    { from: [INSTANCES, CNPG_OPERATOR], ports: tcp(PG, CNPG_STATUS) },
  ],
  egress: [
    { to: [INSTANCES], ports: tcp(PG, CNPG_STATUS) },
    { to: ANYWHERE, ports: tcp(443, 6443) },
    { to: STORE, ports: tcp(443) },
    { to: [CNPG_OPERATOR] },
  ],
});

const PRODUCTION_OPS = ISOLATED('production', 'tier4-ops', 'ops', [
  DB_EGRESS,
  { to: [...STORE, peer('production', 'nginx')], ports: tcp(443) },
]);

/** The production example's policies, with `changes` applied to its values first. */
function productionWith(change: (values: PrimeroValues) => void): KubeObject[] {
  const values = structuredClone(production);
  change(values);
  return networkPolicies(values) as KubeObject[];
}

const named = (policies: KubeObject[], name: string) =>
  policies.find((candidate) => candidate.metadata.name === name);
const names = (policies: KubeObject[]) => policies.map((candidate) => candidate.metadata.name);

describe('the NetworkPolicies of the example sites, whole', () => {
  test('production (CloudNativePG with its operator, local attachments, a drill server, the doctor)', () => {
    expect(networkPolicies(production)).toEqual([
      DEFAULT_DENY('production'),
      ALLOW_DNS('production'),
      NGINX('production'),
      APPLICATION('production', [DB_EGRESS]),
      ISOLATED('production', 'primero-worker', 'worker', [DB_EGRESS]),
      ISOLATED('production', 'primero-migrate', 'migrate', [DB_EGRESS]),
      PRODUCTION_OPS,
      TIER4_DRILL,
      DRILL_DB,
      DOCTOR('production', [DOCTOR_API, DOCTOR_PEER]),
      PRIMERO_DB,
    ]);
  });

  test('demo (an Azure database by address, Azure Blob attachments, promotion to production)', () => {
    // No database CIDRs and no storage CIDRs configured: their ports to any address (network.ts's doc).
    const database = { to: ANYWHERE, ports: tcp(PG) };
    const rails = [
      database,
      { to: ANYWHERE, ports: tcp(443) }, // Azure Blob Storage
      { to: ANYWHERE, ports: tcp(443) }, // PrimeroConfigurationSyncService to production's port 443
    ];
    expect(networkPolicies(demo)).toEqual([
      DEFAULT_DENY('demo'),
      ALLOW_DNS('demo'),
      NGINX('demo'),
      APPLICATION('demo', rails),
      ISOLATED('demo', 'primero-worker', 'worker', rails),
      ISOLATED('demo', 'primero-migrate', 'migrate', [database]),
      ISOLATED('demo', 'tier4-ops', 'ops', [
        database,
        { to: [...ANYWHERE, peer('demo', 'nginx')], ports: tcp(443) },
      ]),
      DOCTOR('demo', [DOCTOR_API, DOCTOR_PEER]),
    ]);
  });

  test('each policy selects the pods it is written for in the rendered site, and only those', () => {
    const objects = planLoadedSite(loadConfig(EXAMPLE), 'production').manifests.map((m) => m.object);
    const templates = objects.flatMap((object: Any) => {
      const template =
        object.kind === 'CronJob' ? object.spec?.jobTemplate?.spec?.template : object.spec?.template;
      return template?.metadata?.labels
        ? [{ ref: `${object.kind}/${object.metadata.name}`, labels: template.metadata.labels }]
        : [];
    });
    const selected = (selector: Any) =>
      templates
        .filter(
          ({ labels }) =>
            Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value) &&
            (selector.matchExpressions ?? []).every(
              (e: Any) => e.operator === 'In' && e.values.includes(labels[e.key]),
            ),
        )
        .map(({ ref }) => ref)
        .sort();
    const selection = Object.fromEntries(
      objects
        .filter((object) => object.kind === 'NetworkPolicy')
        .filter((object: Any) => Object.keys(object.spec.podSelector).length > 0)
        .map((object: Any) => [object.metadata.name, selected(object.spec.podSelector)]),
    );
    const ops = [
      'CronJob/tier4-backup',
      'CronJob/tier4-doctor',
      'CronJob/tier4-drill',
      'Deployment/tier4-exporter',
    ];
    expect(selection).toEqual({
      'primero-nginx': ['Deployment/primero-nginx'],
      'primero-application': ['Deployment/primero-application'],
      'primero-worker': ['Deployment/primero-worker'],
      'primero-migrate': ['Job/primero-migrate-v2-15-2'],
      'tier4-ops': ops,
      'tier4-drill': ['CronJob/tier4-drill'],
      'tier4-doctor': ['CronJob/tier4-doctor', 'Deployment/tier4-exporter'],
      'tier4-exporter': ['Deployment/tier4-exporter'], // monitoring.ts: Prometheus scrapes it
      // CloudNativePG creates these pods (cnpg.io/cluster labels); the chart renders only their Cluster.
      'primero-drill-db': [],
      'primero-db': [],
    });
  });
});

describe('each option that changes a policy', () => {
  test('Solr enabled: the Rails pods and the migration reach it on 8983, and only they may', () => {
    const policies = productionWith((values) => {
      values.solr.enabled = true;
    });
    const solr = { to: [peer('production', 'solr')], ports: tcp(SOLR) };
    expect(names(policies)).toEqual([
      'default-deny',
      'allow-dns',
      'primero-nginx',
      'primero-application',
      'primero-worker',
      'primero-migrate',
      'tier4-ops',
      'tier4-drill',
      'primero-drill-db',
      'tier4-doctor',
      'primero-solr',
      'primero-db',
    ]);
    expect(named(policies, 'primero-application')).toEqual(APPLICATION('production', [DB_EGRESS, solr]));
    expect(named(policies, 'primero-worker')).toEqual(
      ISOLATED('production', 'primero-worker', 'worker', [DB_EGRESS, solr]),
    );
    expect(named(policies, 'primero-migrate')).toEqual(
      ISOLATED('production', 'primero-migrate', 'migrate', [DB_EGRESS, solr]),
    );
    // Solr answers only the Rails pods and the migration; it calls nobody (egress: none).
    expect(named(policies, 'primero-solr')).toEqual(
      policy('production', 'primero-solr', {
        podSelector: { matchLabels: pods('production', 'solr') },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          {
            from: ['application', 'worker', 'migrate'].map((component) => peer('production', component)),
            ports: tcp(SOLR),
          },
        ],
        egress: [],
      }),
    );
    expect(named(policies, 'tier4-ops')).toEqual(PRODUCTION_OPS);
  });

  test('object storage for attachments: the Rails pods reach the configured store on 443', () => {
    const policies = productionWith((values) => {
      values.storage = {
        type: 'minio',
        bucket: 'primero',
        region: 'us-east-1',
        endpoint: 'https://198.51.100.20',
        accessKey: { name: 'primero-app', key: 'S3_ACCESS_KEY' },
        secretAccessKey: { name: 'primero-app', key: 'S3_SECRET_KEY' },
      };
    });
    const rails = [DB_EGRESS, { to: STORE, ports: tcp(443) }];
    expect(named(policies, 'primero-application')).toEqual(APPLICATION('production', rails));
    expect(named(policies, 'primero-worker')).toEqual(
      ISOLATED('production', 'primero-worker', 'worker', rails),
    );
    expect(named(policies, 'primero-migrate')).toEqual(
      ISOLATED('production', 'primero-migrate', 'migrate', [DB_EGRESS]),
    );
  });

  test('mail: the Rails pods reach the relay on its port, or that port anywhere without CIDRs', () => {
    const relay = productionWith((values) => {
      values.network.smtp = { cidrs: ['192.0.2.25/32', '2001:db8::25/128'], port: 587 };
    });
    const toRelay = {
      to: [{ ipBlock: { cidr: '192.0.2.25/32' } }, { ipBlock: { cidr: '2001:db8::25/128' } }],
      ports: tcp(587),
    };
    expect(named(relay, 'primero-application')).toEqual(APPLICATION('production', [DB_EGRESS, toRelay]));
    expect(named(relay, 'primero-worker')).toEqual(
      ISOLATED('production', 'primero-worker', 'worker', [DB_EGRESS, toRelay]),
    );
    const anyRelay = productionWith((values) => {
      values.network.smtp = { cidrs: [], port: 25 };
    });
    expect(named(anyRelay, 'primero-worker')).toEqual(
      ISOLATED('production', 'primero-worker', 'worker', [DB_EGRESS, { to: ANYWHERE, ports: tcp(25) }]),
    );
  });

  test('every Rails option at once keeps the order database, Solr, storage, mail, promotion', () => {
    const policies = productionWith((values) => {
      values.solr.enabled = true;
      values.storage = demo.storage;
      values.network.storageCidrs = [];
      values.network.smtp = { cidrs: ['192.0.2.25/32'], port: 587 };
      values.promotion = { ...(demo.promotion as NonNullable<PrimeroValues['promotion']>), port: 8443 };
    });
    expect(named(policies, 'primero-worker')).toEqual(
      ISOLATED('production', 'primero-worker', 'worker', [
        DB_EGRESS,
        { to: [peer('production', 'solr')], ports: tcp(SOLR) },
        { to: ANYWHERE, ports: tcp(443) },
        { to: [{ ipBlock: { cidr: '192.0.2.25/32' } }], ports: tcp(587) },
        { to: ANYWHERE, ports: tcp(8443) },
      ]),
    );
  });

  test('a Gateway in front of nginx: its namespace may reach nginx besides the client networks', () => {
    const policies = productionWith((values) => {
      values.exposure.gateway = { namespace: 'gateway-system', name: 'public' };
      values.network.clientCidrs = ['203.0.113.0/24', '2001:db8:1::/48'];
    });
    expect(named(policies, 'primero-nginx')).toEqual(
      NGINX('production', [
        { ipBlock: { cidr: '203.0.113.0/24' } },
        { ipBlock: { cidr: '2001:db8:1::/48' } },
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gateway-system' } } },
      ]),
    );
  });

  test('an external database by address: egress to its CIDRs on its port, and no policy for instances', () => {
    const policies = productionWith((values) => {
      values.database.podSelector = undefined;
      values.database.operatorNamespace = undefined;
      values.database.cidrs = ['10.20.0.5/32'];
      values.database.port = 6432;
      values.ops.drill = undefined;
    });
    const database = { to: [{ ipBlock: { cidr: '10.20.0.5/32' } }], ports: tcp(6432) };
    expect(policies).toEqual([
      DEFAULT_DENY('production'),
      ALLOW_DNS('production'),
      NGINX('production'),
      APPLICATION('production', [database]),
      ISOLATED('production', 'primero-worker', 'worker', [database]),
      ISOLATED('production', 'primero-migrate', 'migrate', [database]),
      ISOLATED('production', 'tier4-ops', 'ops', [
        database,
        { to: [...STORE, peer('production', 'nginx')], ports: tcp(443) },
      ]),
      DOCTOR('production', [DOCTOR_API, DOCTOR_PEER]),
    ]);
  });

  test('CloudNativePG on another port, the API server narrowed: every database rule follows', () => {
    const policies = productionWith((values) => {
      values.database.port = 6432;
      values.network.apiServerCidrs = ['10.0.0.1/32'];
    });
    const api = { to: [{ ipBlock: { cidr: '10.0.0.1/32' } }], ports: tcp(443, 6443) };
    expect(named(policies, 'primero-db')).toEqual(
      policy('production', 'primero-db', {
        podSelector: { matchLabels: { 'cnpg.io/cluster': 'primero-db' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          {
            from: ['application', 'worker', 'migrate', 'ops'].map((component) =>
              peer('production', component),
            ),
            ports: tcp(6432),
          },
          { from: [INSTANCES, CNPG_OPERATOR], ports: tcp(6432, CNPG_STATUS) },
        ],
        egress: [
          { to: [INSTANCES], ports: tcp(6432, CNPG_STATUS) },
          api,
          { to: STORE, ports: tcp(443) },
          { to: [CNPG_OPERATOR] },
        ],
      }),
    );
    expect(named(policies, 'tier4-drill')).toEqual(
      policy('production', 'tier4-drill', {
        podSelector: { matchLabels: DRILL_PODS },
        policyTypes: ['Egress'],
        egress: [{ to: [DRILL_INSTANCES], ports: tcp(6432) }],
      }),
    );
    expect(named(policies, 'primero-drill-db')).toEqual(
      policy('production', 'primero-drill-db', {
        podSelector: { matchLabels: { 'cnpg.io/cluster': 'primero-db-drill' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          { from: [{ podSelector: { matchLabels: DRILL_PODS } }], ports: tcp(6432) },
          { from: [CNPG_OPERATOR], ports: tcp(6432, CNPG_STATUS) },
        ],
        egress: [api, { to: [CNPG_OPERATOR] }],
      }),
    );
    expect(named(policies, 'tier4-doctor')).toEqual(DOCTOR('production', [api, DOCTOR_PEER]));
  });

  test('CloudNativePG without an operator namespace: no rule for the operator, the rest unchanged', () => {
    const policies = productionWith((values) => {
      values.database.operatorNamespace = undefined;
    });
    expect(named(policies, 'primero-db')).toEqual(
      policy('production', 'primero-db', {
        podSelector: { matchLabels: { 'cnpg.io/cluster': 'primero-db' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          {
            from: ['application', 'worker', 'migrate', 'ops'].map((component) =>
              peer('production', component),
            ),
            ports: tcp(PG),
          },
          { from: [INSTANCES], ports: tcp(PG, CNPG_STATUS) },
        ],
        egress: [
          { to: [INSTANCES], ports: tcp(PG, CNPG_STATUS) },
          { to: ANYWHERE, ports: tcp(443, 6443) },
          { to: STORE, ports: tcp(443) },
        ],
      }),
    );
    expect(named(policies, 'primero-drill-db')).toEqual(
      policy('production', 'primero-drill-db', {
        podSelector: { matchLabels: { 'cnpg.io/cluster': 'primero-db-drill' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: { matchLabels: DRILL_PODS } }], ports: tcp(PG) }],
        egress: [{ to: ANYWHERE, ports: tcp(443, 6443) }],
      }),
    );
    expect(named(policies, 'tier4-drill')).toEqual(TIER4_DRILL);
  });

  test('no rendered drill server: no drill policies', () => {
    const policies = productionWith((values) => {
      if (values.ops.drill) values.ops.drill.serverPods = undefined;
    });
    expect(names(policies)).toEqual([
      'default-deny',
      'allow-dns',
      'primero-nginx',
      'primero-application',
      'primero-worker',
      'primero-migrate',
      'tier4-ops',
      'tier4-doctor',
      'primero-db',
    ]);
  });

  const NOTHING_READ = { secrets: [], listSecrets: false, certificates: [] };
  const PEER_ENV = [
    { name: 'DEMO_PRIMERO_PASSWORD', from: { name: 'tier4-ops-env', key: 'DEMO_PRIMERO_PASSWORD' } },
  ];
  const PEER_FILE = [
    { path: '/var/run/secrets/tier4/demo-password', from: { name: 'tier4-ops-env', key: 'p' } },
  ];
  test.each([
    ['reads nothing and has no promotion peer: no doctor policy', NOTHING_READ, [], [], undefined],
    [
      'reads a TLS Secret only: the API server',
      { ...NOTHING_READ, secrets: ['primero-tls'] },
      [],
      [],
      [DOCTOR_API],
    ],
    [
      'lists client Secrets only: the API server',
      { ...NOTHING_READ, listSecrets: true },
      [],
      [],
      [DOCTOR_API],
    ],
    [
      'reads a Certificate only: the API server',
      { ...NOTHING_READ, certificates: ['primero'] },
      [],
      [],
      [DOCTOR_API],
    ],
    ["has the peer's credentials in env only: its Primero on 443", NOTHING_READ, PEER_ENV, [], [DOCTOR_PEER]],
    [
      "has the peer's credentials in a file only: its Primero on 443",
      NOTHING_READ,
      [],
      PEER_FILE,
      [DOCTOR_PEER],
    ],
  ])('the doctor %s', (_what, reads, env, files, egress) => {
    const policies = productionWith((values) => {
      values.ops.doctor.reads = reads;
      values.ops.doctor.env = env;
      values.ops.doctor.files = files;
    });
    expect(named(policies, 'tier4-doctor')).toEqual(egress ? DOCTOR('production', egress) : undefined);
    expect(names(policies).filter((name) => name === 'tier4-doctor')).toHaveLength(egress ? 1 : 0);
  });
});
