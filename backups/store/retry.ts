import type { S3Client } from '@aws-sdk/client-s3';
import type { BlobServiceClient } from '@azure/storage-blob';
import { ObjectNotFoundError } from './types.js';

/**
 * How a store retries a request that failed for a passing reason (a 5xx, a throttle, a reset or refused
 * connection). Retrying is the SDK's own retry, configured here once for each SDK: the S3 client's
 * `maxAttempts` (standard mode) and the Azure pipeline's `retryOptions.maxTries`. Nothing above the store
 * retries again: a retry loop around a store call would multiply the SDK's attempts (docs/decisions/0008).
 * The file store has no retries: a local disk's errors do not pass.
 */
export interface StoreRetry {
  /** Tries per request, the first included. */
  attempts?: number;
  /** First delay before a retry, for the SDKs that take one (Azure); tests make it short. */
  baseDelayMs?: number;
  /** Told before each retry of a request: which try comes next, of how many, and what failed. */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  /** The try about to be made: 2 for the first retry. */
  attempt: number;
  attempts: number;
  /** What the previous try failed with: an error, or an HTTP status. */
  reason: string;
}

export const DEFAULT_ATTEMPTS = 5;

/** The shape of an @azure/core-rest-pipeline policy, as much of it as we use. */
interface PipelinePolicy {
  name: string;
  sendRequest(
    request: object,
    next: (request: object) => Promise<{ status: number }>,
  ): Promise<{ status: number }>;
}

/**
 * The AWS SDK's standard retry mode retries throttling errors (SlowDown, 503), 500/502/504 and transient
 * network errors (ECONNRESET, ECONNREFUSED, ETIMEDOUT, EPIPE), never a 4xx such as 403 or 404
 * (@smithy/util-retry, service-error-classification). Its backoff is exponential with jitter.
 */
export function s3RetryConfig(retry: StoreRetry): { maxAttempts: number; retryMode: 'standard' } {
  return { maxAttempts: retry.attempts ?? DEFAULT_ATTEMPTS, retryMode: 'standard' };
}

/**
 * Reports each retry the S3 client makes: a middleware placed after the SDK's `retryMiddleware` runs once per
 * try, and sees the same context object for every try of one request.
 */
export function reportS3Retries(client: S3Client, retry: StoreRetry): void {
  const onRetry = retry.onRetry;
  if (!onRetry) return;
  const attempts = retry.attempts ?? DEFAULT_ATTEMPTS;
  const tries = new WeakMap<object, { count: number; reason: string }>();
  const middleware =
    (next: (args: unknown) => Promise<unknown>, context: object) =>
    async (args: unknown): Promise<unknown> => {
      const state = tries.get(context) ?? { count: 0, reason: '' };
      tries.set(context, state);
      state.count += 1;
      if (state.count > 1) onRetry({ attempt: state.count, attempts, reason: state.reason });
      try {
        return await next(args);
      } catch (error) {
        state.reason = failureReason(error);
        throw error;
      }
    };
  client.middlewareStack.addRelativeTo(middleware as never, {
    relation: 'after',
    toMiddleware: 'retryMiddleware',
    name: 'tier4RetryReport',
    override: true,
  });
}

/**
 * Azure Storage's retry policy (@azure/storage-common StorageRetryPolicyV2) retries 500, 503 and network
 * errors (ETIMEDOUT, ECONNREFUSED, ECONNRESET, ENOTFOUND, REQUEST_SEND_ERROR...), never another 4xx; its
 * delay is (2^(try-1) - 1) x retryDelayInMs, capped at maxRetryDelayInMs.
 */
export function azureRetryOptions(retry: StoreRetry): {
  maxTries: number;
  retryDelayInMs?: number;
} {
  return {
    maxTries: retry.attempts ?? DEFAULT_ATTEMPTS,
    ...(retry.baseDelayMs !== undefined ? { retryDelayInMs: retry.baseDelayMs } : {}),
  };
}

/**
 * Reports each retry the Azure pipeline makes: a policy after the Retry phase sees every try, and the
 * storage retry policy sends the same request object each time. The pipeline is reached through the
 * client's `storageClientContext` (a core-client ServiceClient): storage-blob offers no other way to add a
 * policy; every client derived from this service client shares it.
 */
export function reportAzureRetries(service: BlobServiceClient, retry: StoreRetry): void {
  const onRetry = retry.onRetry;
  if (!onRetry) return;
  const attempts = retry.attempts ?? DEFAULT_ATTEMPTS;
  const tries = new WeakMap<object, { count: number; reason: string }>();
  const policy: PipelinePolicy = {
    name: 'tier4RetryReport',
    async sendRequest(request, next) {
      const state = tries.get(request) ?? { count: 0, reason: '' };
      tries.set(request, state);
      state.count += 1;
      if (state.count > 1) onRetry({ attempt: state.count, attempts, reason: state.reason });
      try {
        const response = await next(request);
        state.reason = `HTTP ${response.status}`;
        return response;
      } catch (error) {
        state.reason = failureReason(error);
        throw error;
      }
    },
  };
  const context = Reflect.get(service, 'storageClientContext') as {
    pipeline: { addPolicy(policy: PipelinePolicy, options: { afterPhase: 'Retry' }): void };
  };
  context.pipeline.addPolicy(policy, { afterPhase: 'Retry' });
}

/** A failure's short reason: its code or HTTP status, never a request's URL or headers. */
function failureReason(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  if (typeof e?.code === 'string') return e.code;
  if (status) return `HTTP ${status}${typeof e.name === 'string' ? ` ${e.name}` : ''}`;
  return typeof e?.name === 'string' ? e.name : 'error';
}

/**
 * True for errors that mean "this object does not exist" across our stores: ENOENT, S3's NoSuchKey (GET) and
 * NotFound (HEAD, which has no body to say more), Azure's BlobNotFound. Not any 404: a missing bucket
 * (NoSuchBucket) or container (ContainerNotFound) is a wrong configuration, not an absent object.
 */
export function isNotFound(error: unknown): boolean {
  if (error instanceof ObjectNotFoundError) return true;
  const e = error as { code?: string; name?: string };
  return (
    e?.code === 'ENOENT' ||
    e?.name === 'NoSuchKey' ||
    e?.name === 'NotFound' ||
    e?.code === 'BlobNotFound' ||
    azureErrorCode(error) === 'BlobNotFound'
  );
}

/** Azure's error code of an answer without a body (HEAD): only its x-ms-error-code header carries it. */
function azureErrorCode(error: unknown): string | undefined {
  const headers = (error as { response?: { headers?: unknown } })?.response?.headers as
    | { get?: (name: string) => string | undefined; [name: string]: unknown }
    | undefined;
  if (!headers) return undefined;
  const code =
    typeof headers.get === 'function' ? headers.get('x-ms-error-code') : headers['x-ms-error-code'];
  return typeof code === 'string' ? code : undefined;
}
