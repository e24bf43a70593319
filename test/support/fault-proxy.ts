import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of a storage server that injects the faults real networks and stores produce:
 * 5xx answers, connection resets and slow responses. Only writes (PUT/POST) are disturbed, so we test uploads.
 */
export interface FaultPlan {
  /** Answer 503 to every Nth write. */
  failEvery?: number;
  /** Reset the connection on every Nth write. */
  resetEvery?: number;
  /** Added latency per request, in ms. */
  delayMs?: number;
  /** After this many writes, fail every write. */
  failAllAfter?: number;
}

export interface FaultProxy {
  endpoint: string;
  plan: FaultPlan;
  writes: number;
  injected: number;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: string, plan: FaultPlan): Promise<FaultProxy> {
  const upstream = new URL(target);
  const state: FaultProxy = { endpoint: '', plan, writes: 0, injected: 0, stop: async () => {} };
  const server: Server = createServer((req, res) => {
    const isWrite = req.method === 'PUT' || req.method === 'POST';
    const n = isWrite ? ++state.writes : 0;
    const forward = () => {
      const p = state.plan;
      if (isWrite && p.failAllAfter !== undefined && n > p.failAllAfter) return fail503();
      if (isWrite && p.failEvery && n % p.failEvery === 0) return fail503();
      if (isWrite && p.resetEvery && n % p.resetEvery === 0) {
        state.injected += 1;
        req.socket.destroy();
        return;
      }
      const proxied = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      proxied.on('error', () => res.destroy());
      req.pipe(proxied);
    };
    const fail503 = () => {
      state.injected += 1;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml', 'retry-after': '0' });
      res.end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>injected fault</Message></Error>');
    };
    if (state.plan.delayMs) setTimeout(forward, state.plan.delayMs);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.stop = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
