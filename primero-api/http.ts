import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

/**
 * One HTTP exchange with node's own client (fetch cannot take an extra CA without undici, which is not a
 * dependency). JSON in, JSON or text out. No retries here: the Primero client decides what to retry.
 */

export interface HttpExchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** Extra trusted CA certificates (PEM), added to the system store. */
  ca?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A connection that never produced an HTTP answer: refused, reset, DNS, TLS, timeout. */
export class ConnectionFailure extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ConnectionFailure';
  }
}

export function exchange(options: HttpExchange): Promise<HttpReply> {
  const isHttps = options.url.protocol === 'https:';
  const send = isHttps ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      options.url,
      {
        method: options.method,
        headers: {
          ...options.headers,
          ...(options.body === undefined ? {} : { 'content-length': Buffer.byteLength(options.body) }),
        },
        // TLS is always verified; an extra CA only adds to what is trusted.
        ...(isHttps
          ? { rejectUnauthorized: true, ...(options.ca ? { ca: [...rootCertificates, options.ca] } : {}) }
          : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', (error) => reject(toConnectionFailure(error)));
      },
    );
    req.setTimeout(options.timeoutMs, () => {
      req.destroy(new ConnectionFailure(`no answer within ${options.timeoutMs} ms`, 'ETIMEDOUT'));
    });
    req.on('error', (error) => reject(toConnectionFailure(error)));
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

function toConnectionFailure(error: unknown): Error {
  if (error instanceof ConnectionFailure) return error;
  const err = error as NodeJS.ErrnoException;
  if (err.name === 'AbortError') return err;
  return new ConnectionFailure(err.message, err.code ?? 'ECONNERROR');
}
