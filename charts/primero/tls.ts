import { type KubeObject, metadata, NAMES } from './common.js';
import type { PrimeroValues } from './values.js';

/**
 * cert-manager resources for nginx's certificate: an Issuer (ACME or CA) and a Certificate, or a
 * Certificate against an existing (Cluster)Issuer. With a partner-provided Secret, nothing is rendered:
 * the Secret is created by the partner (see docs/kubernetes.md).
 */
export function tlsResources(values: PrimeroValues): KubeObject[] {
  const certManager = values.tls.certManager;
  if (!certManager) return [];
  const issuer = certManager.issuer;
  const out: KubeObject[] = [];
  let issuerRef: { name: string; kind: string; group: string };
  if (issuer.kind === 'existing') {
    issuerRef = {
      name: issuer.name,
      kind: issuer.clusterIssuer ? 'ClusterIssuer' : 'Issuer',
      group: 'cert-manager.io',
    };
  } else {
    // Azure DNS with workload identity is an ambient credential, which cert-manager refuses to namespaced
    // Issuers unless started with --issuer-ambient-credentials (default false; ClusterIssuers default
    // true: cert-manager internal/apis/config/controller/v1alpha1/defaults.go, and
    // pkg/issuer/acme/dns/azuredns/azuredns.go getAuthorization). So that solver is a ClusterIssuer.
    const cluster = issuer.kind === 'acme' && issuer.solver.type === 'azure-dns';
    const name = cluster
      ? `${values.deployment}-${values.site}-acme`
      : issuer.kind === 'acme'
        ? 'primero-acme'
        : 'primero-ca';
    const kind = cluster ? 'ClusterIssuer' : 'Issuer';
    issuerRef = { name, kind, group: 'cert-manager.io' };
    const spec =
      issuer.kind === 'ca'
        ? { ca: { secretName: issuer.caSecret } }
        : {
            acme: {
              email: issuer.email,
              server: issuer.server,
              privateKeySecretRef: { name: 'primero-acme-account' },
              solvers: [
                issuer.solver.type === 'gateway'
                  ? {
                      http01: {
                        gatewayHTTPRoute: {
                          parentRefs: [
                            { kind: 'Gateway', namespace: issuer.solver.namespace, name: issuer.solver.name },
                          ],
                        },
                      },
                    }
                  : {
                      // Workload identity: cert-manager's ServiceAccount is federated with an identity that
                      // may write TXT records in this zone (the Azure demo stack); cert-manager's pods need
                      // the azure.workload.identity/use label (docs/azure-demo.md, installing cert-manager).
                      dns01: {
                        azureDNS: {
                          subscriptionID: issuer.solver.subscriptionId,
                          resourceGroupName: issuer.solver.resourceGroup,
                          hostedZoneName: issuer.solver.zone,
                          environment: 'AzurePublicCloud',
                          managedIdentity: { clientID: issuer.solver.clientId },
                        },
                      },
                    },
              ],
            },
          };
    const { namespace: _namespace, ...clusterMetadata } = metadata(values, name, 'tls');
    out.push({
      apiVersion: 'cert-manager.io/v1',
      kind,
      metadata: cluster ? clusterMetadata : metadata(values, name, 'tls'),
      spec,
    });
  }
  out.push({
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    // `tier4 certs` expects this name (tls.source.certificate defaults to it).
    metadata: metadata(values, 'primero', 'tls'),
    spec: {
      secretName: values.tls.secretName,
      dnsNames: values.tls.dnsNames,
      issuerRef,
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      duration: '2160h',
      renewBefore: '720h',
    },
  });
  return out;
}

/**
 * The Gateway's hop to nginx is HTTPS (the HTTPRoute sends to the Service's 443): without a BackendTLSPolicy
 * a Gateway speaks plain HTTP to that port. Gateway API BackendTLSPolicy (gateway.networking.k8s.io/v1,
 * Standard channel since v1.4.0) attaches to the Service's "https" port, in the Service's namespace; its
 * validation.hostname is also the SNI, which nginx needs (its default 443 server rejects handshakes without
 * a known name). The certificate nginx serves is the site's public one, so the system roots verify it.
 */
export function backendTlsPolicy(values: PrimeroValues): KubeObject | undefined {
  if (!values.exposure.gateway) return undefined;
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'BackendTLSPolicy',
    metadata: metadata(values, NAMES.nginx, 'nginx'),
    spec: {
      targetRefs: [{ group: '', kind: 'Service', name: NAMES.nginx, sectionName: 'https' }],
      validation: { hostname: values.host, wellKnownCACertificates: 'System' },
    },
  };
}
