import { z } from 'zod';

/** Where and how a site's Primero runs on Kubernetes (the on-prem production cluster, or AKS for demo). */

export const kubernetesSettingsSchema = z
  .object({
    /** kubeconfig context; default: the current context. */
    context: z.string().optional(),
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes namespace name')
      .default('primero'),
    /** A ReadWriteMany storage class for attachments when they are stored locally. */
    storageClass: z.string().optional(),
    exposure: z
      .object({
        type: z.enum(['LoadBalancer', 'NodePort']).default('LoadBalancer'),
        loadBalancerIP: z.string().optional(),
        nodePort: z.number().int().min(30_000).max(32_767).optional(),
        /** Attach an HTTPRoute to this Gateway API gateway (namespace/name). */
        gateway: z.string().optional(),
      })
      .strict()
      .default({ type: 'LoadBalancer' }),
    postgres: z
      .discriminatedUnion('mode', [
        z
          .object({
            mode: z.literal('cloudnativepg'),
            instances: z.number().int().min(1).default(3),
            storageSize: z.string().default('50Gi'),
            storageClass: z.string().optional(),
          })
          .strict(),
        z.object({ mode: z.literal('external') }).strict(),
      ])
      .default({ mode: 'cloudnativepg', instances: 3, storageSize: '50Gi' }),
    /** The tier4 CLI image for the ops CronJobs. */
    opsImage: z.string().default('ghcr.io/primero-tier4/tier4:0.1.0'),
    /** Pulumi state; default: a local file backend beside tier4.yaml, so no SaaS account is needed. */
    pulumiBackend: z.string().default('file://./.tier4/pulumi'),
  })
  .strict();

export type KubernetesSettings = z.infer<typeof kubernetesSettingsSchema>;
