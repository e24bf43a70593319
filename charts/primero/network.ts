import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyIngressRule } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyIngressRule';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import { metadata, NAMES, selectorLabels } from './common.js';
import type { PrimeroValues } from './values.js';

/**
 * Default deny in both directions for every pod in the namespace, then exactly the flows Primero needs.
 * Where a peer outside the cluster has no configured CIDR (object storage, an external database), the
 * rule allows its port to any address; set kubernetes.network.* in tier4.yaml to narrow it.
 */

type EgressRule = { to: INetworkPolicyPeer[]; ports?: INetworkPolicyPort[] };

/**
 * CloudNativePG's instance manager serves the operator's status requests on this port in every instance
 * (cloudnative-pg pkg/management/url/url.go, StatusPort); its networking docs (docs/src/networking.md) ask
 * that the operator reach each instance on it and on PostgreSQL's port, and that instances reach each other.
 */
const CNPG_STATUS_PORT = 8000;

function tcp(...ports: number[]): INetworkPolicyPort[] {
  return ports.map((port) => ({ protocol: 'TCP', port }));
}

function pods(values: PrimeroValues, ...components: string[]): INetworkPolicyPeer[] {
  return components.map((component) => ({ podSelector: { matchLabels: selectorLabels(values, component) } }));
}

/** The configured CIDRs, or every IPv4 and IPv6 address when none are configured. */
function cidrs(list: string[]): INetworkPolicyPeer[] {
  return (list.length > 0 ? list : ['0.0.0.0/0', '::/0']).map((cidr) => ({ ipBlock: { cidr } }));
}

function policy(
  values: PrimeroValues,
  name: string,
  podSelector: Record<string, string>,
  rules: { ingress?: INetworkPolicyIngressRule[]; egress?: EgressRule[] },
): INetworkPolicy {
  const policyTypes: Array<'Ingress' | 'Egress'> = [];
  if (rules.ingress) policyTypes.push('Ingress');
  if (rules.egress) policyTypes.push('Egress');
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metadata(values, name, 'network'),
    spec: {
      podSelector: { matchLabels: podSelector },
      policyTypes,
      ...(rules.ingress ? { ingress: rules.ingress } : {}),
      ...(rules.egress ? { egress: rules.egress } : {}),
    },
  };
}

function databaseEgress(values: PrimeroValues): EgressRule {
  const db = values.database;
  const to = db.podSelector ? [{ podSelector: { matchLabels: db.podSelector } }] : cidrs(db.cidrs);
  return { to, ports: tcp(db.port) };
}

/** Where Rails-side pods (application, worker) may go besides the database. */
function railsEgress(values: PrimeroValues): EgressRule[] {
  const rules: EgressRule[] = [databaseEgress(values)];
  if (values.solr.enabled) rules.push({ to: pods(values, 'solr'), ports: tcp(8983) });
  if (values.storage.type !== 'local')
    rules.push({ to: cidrs(values.network.storageCidrs), ports: tcp(443) });
  if (values.network.smtp)
    rules.push({ to: cidrs(values.network.smtp.cidrs), ports: tcp(values.network.smtp.port) });
  if (values.promotion) rules.push({ to: cidrs([]), ports: tcp(values.promotion.port) });
  return rules;
}

export function networkPolicies(values: PrimeroValues): INetworkPolicy[] {
  const policies: INetworkPolicy[] = [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: metadata(values, 'default-deny', 'network'),
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    },
    // The cluster DNS: CoreDNS keeps kube-dns's label k8s-app: kube-dns in kube-system and answers on 53
    // over UDP and TCP (kubernetes cluster/addons/dns/coredns/coredns.yaml.base).
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: metadata(values, 'allow-dns', 'network'),
      spec: {
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
      },
    },
  ];

  const clients: INetworkPolicyPeer[] = cidrs(values.network.clientCidrs);
  if (values.exposure.gateway) {
    clients.push({
      namespaceSelector: {
        matchLabels: { 'kubernetes.io/metadata.name': values.exposure.gateway.namespace },
      },
    });
  }
  policies.push(
    policy(values, NAMES.nginx, selectorLabels(values, 'nginx'), {
      ingress: [{ from: clients, ports: tcp(80, 443) }],
      egress: [{ to: pods(values, 'application'), ports: tcp(3000) }],
    }),
    policy(values, 'primero-application', selectorLabels(values, 'application'), {
      ingress: [{ from: pods(values, 'nginx'), ports: tcp(3000) }],
      egress: railsEgress(values),
    }),
    policy(values, 'primero-worker', selectorLabels(values, 'worker'), {
      ingress: [],
      egress: railsEgress(values),
    }),
    policy(values, 'primero-migrate', selectorLabels(values, 'migrate'), {
      ingress: [],
      egress: [
        databaseEgress(values),
        ...(values.solr.enabled ? [{ to: pods(values, 'solr'), ports: tcp(8983) }] : []),
      ],
    }),
    // Backups, drills and the doctor: the database, object storage and Primero's own HTTPS endpoint.
    policy(values, 'tier4-ops', selectorLabels(values, 'ops'), {
      ingress: [],
      egress: [
        databaseEgress(values),
        { to: [...cidrs(values.network.storageCidrs), ...pods(values, 'nginx')], ports: tcp(443) },
      ],
    }),
  );
  const scratch = values.ops.drill?.serverPods;
  if (scratch) {
    const operator = values.database.operatorNamespace
      ? [
          {
            namespaceSelector: {
              matchLabels: { 'kubernetes.io/metadata.name': values.database.operatorNamespace },
            },
          },
        ]
      : [];
    const drillPods = { ...selectorLabels(values, 'ops'), 'tier4.primero.org/job': 'tier4-drill' };
    policies.push(
      // The drill job reaches its scratch server, and only the drill job does.
      policy(values, 'tier4-drill', drillPods, {
        egress: [{ to: [{ podSelector: { matchLabels: scratch } }], ports: tcp(values.database.port) }],
      }),
      policy(values, 'primero-drill-db', scratch, {
        ingress: [
          { from: [{ podSelector: { matchLabels: drillPods } }], ports: tcp(values.database.port) },
          ...(operator.length > 0
            ? [{ from: operator, ports: tcp(values.database.port, CNPG_STATUS_PORT) }]
            : []),
        ],
        egress: [
          { to: cidrs(values.network.apiServerCidrs), ports: tcp(443, 6443) },
          ...(operator.length > 0 ? [{ to: operator }] : []),
        ],
      }),
    );
  }
  const doctor = values.ops.doctor;
  const doctorEgress: EgressRule[] = [];
  const reads = doctor.reads;
  // The doctor's API calls (certificate checks): the API server's endpoints, which NetworkPolicy sees after
  // the kubernetes Service's translation, so both 443 and the usual 6443.
  if (reads.secrets.length > 0 || reads.listSecrets || reads.certificates.length > 0)
    doctorEgress.push({ to: cidrs(values.network.apiServerCidrs), ports: tcp(443, 6443) });
  // The configuration drift check reads the promotion peer's Primero API over HTTPS.
  if (doctor.env.length > 0 || doctor.files.length > 0) doctorEgress.push({ to: cidrs([]), ports: tcp(443) });
  if (doctorEgress.length > 0) {
    const doctorPolicy = policy(values, 'tier4-doctor', selectorLabels(values, 'ops'), {
      egress: doctorEgress,
    });
    // The doctor CronJob and the long-running exporter (monitoring.ts) run the same checks.
    doctorPolicy.spec!.podSelector.matchExpressions = [
      { key: 'tier4.primero.org/job', operator: 'In', values: ['tier4-doctor', 'tier4-exporter'] },
    ];
    policies.push(doctorPolicy);
  }
  if (values.solr.enabled) {
    policies.push(
      policy(values, 'primero-solr', selectorLabels(values, 'solr'), {
        ingress: [{ from: pods(values, 'application', 'worker', 'migrate'), ports: tcp(8983) }],
        egress: [],
      }),
    );
  }
  const db = values.database;
  if (db.podSelector) {
    // CloudNativePG instances: clients, replication between instances, the operator, the API server,
    // and the object store that receives the WAL archive.
    const instances = [{ podSelector: { matchLabels: db.podSelector } }];
    const operator = db.operatorNamespace
      ? [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': db.operatorNamespace } } }]
      : [];
    policies.push(
      policy(values, 'primero-db', db.podSelector, {
        ingress: [
          { from: pods(values, 'application', 'worker', 'migrate', 'ops'), ports: tcp(db.port) },
          { from: [...instances, ...operator], ports: tcp(db.port, CNPG_STATUS_PORT) },
        ],
        egress: [
          { to: instances, ports: tcp(db.port, CNPG_STATUS_PORT) },
          { to: cidrs(values.network.apiServerCidrs), ports: tcp(443, 6443) },
          { to: cidrs(values.network.storageCidrs), ports: tcp(443) },
          ...(operator.length > 0 ? [{ to: operator }] : []),
        ],
      }),
    );
  }
  return policies;
}
