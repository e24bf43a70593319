import { X509Certificate } from 'node:crypto';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { OperationError } from '../core/errors.js';

export interface ServedTarget {
  /** SNI name. */
  host: string;
  /** Where to connect (an address or a name). */
  address: string;
  port: number;
}

/**
 * The chain a server presents to a client asking for `host` (SNI), leaf first. Trust is not checked here
 * (that is what we report on), so an expired or self-signed certificate is still read.
 */
export async function fetchServedChain(
  target: ServedTarget,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<X509Certificate[]> {
  const where = `${target.host}:${target.port}${target.address === target.host ? '' : ` (via ${target.address})`}`;
  return new Promise((resolvePromise, reject) => {
    const socket = connect({
      host: target.address,
      port: target.port,
      // SNI must be a name, never an IP address.
      ...(/^[\d.]+$|:/.test(target.host) ? {} : { servername: target.host }),
      rejectUnauthorized: false,
    });
    const onAbort = () => socket.destroy(new Error('cancelled'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => options.signal?.removeEventListener('abort', onAbort));
    socket.setTimeout(options.timeoutMs ?? 10_000, () =>
      socket.destroy(
        new Error(`no TLS handshake within ${Math.round((options.timeoutMs ?? 10_000) / 1000)} s`),
      ),
    );
    socket.once('secureConnect', () => {
      const chain: X509Certificate[] = [];
      const seen = new Set<string>();
      let peer: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      while (peer?.raw && !seen.has(peer.fingerprint256)) {
        seen.add(peer.fingerprint256);
        chain.push(new X509Certificate(peer.raw));
        peer = peer.issuerCertificate;
      }
      socket.end();
      if (chain.length === 0) reject(new OperationError(`${where} presented no certificate.`));
      else resolvePromise(chain);
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(
        new OperationError(
          `Cannot complete a TLS handshake with ${where}: ${error.message}`,
          'Check that the site is up and that tls.host, tls.port and tls.connectAddress are right.',
          error,
        ),
      );
    });
  });
}
