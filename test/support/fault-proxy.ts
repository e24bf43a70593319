import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of a storage server that injects the faults real networks and stores produce:
 * 5xx answers, connection resets, lost answers and slow responses. Only writes (PUT/POST) are disturbed.
 */
export interface FaultPlan {
  /** Answer 503 to every Nth write. */
  failEvery?: number;
  /** Reset the connection on every Nth write, before it reaches the server. */
  resetEvery?: number;
  /** Let every Nth write reach the server, then reset the connection: the write happened, its answer is lost. */
  loseAnswerEvery?: number;
  /** Added latency per request, in ms. */
  delayMs?: number;
  /** After this many writes, fail every write. */
  failAllAfter?: number;
}

export interface FaultProxyOptions {
  /**
   * Answer a PUT carrying If-None-Match: * with 412 when the object exists, as AWS S3 does (S3 User Guide,
   * "How to prevent object overwrites with conditional writes"); s3rver ignores the header. Such PUTs are
   * serialised per path, so of concurrent creators exactly one succeeds, as on S3.
   */
  conditionalWrites?: boolean;
}

export interface FaultProxy {
  endpoint: string;
  plan: FaultPlan;
  /** Every request seen, reads included. */
  requests: number;
  writes: number;
  injected: number;
  stop(): Promise<void>;
}

export async function startFaultProxy(
  target: string,
  plan: FaultPlan,
  options: FaultProxyOptions = {},
): Promise<FaultProxy> {
  const upstream = new URL(target);
  const state: FaultProxy = {
    endpoint: '',
    plan,
    requests: 0,
    writes: 0,
    injected: 0,
    stop: async () => {},
  };
  const creating = new Map<string, Promise<void>>();
  // A passing fault passes: the retry of a write that was just disturbed goes through. Counting writes over all
  // concurrent uploads could otherwise hit the same request on each of its retries and exhaust the SDK's
  // attempts, a failure no real network gives at these rates (it made a storage-faults test flaky under load).
  const justFaulted = new Set<string>();
  const server: Server = createServer((req, res) => {
    state.requests += 1;
    const isWrite = req.method === 'PUT' || req.method === 'POST';
    const n = isWrite ? ++state.writes : 0;
    const forward = (done: () => void = () => {}) => {
      const p = state.plan;
      if (isWrite && p.failAllAfter !== undefined && n > p.failAllAfter) return fail503(done);
      const key = `${req.method} ${req.url}`;
      const mayFault = isWrite && !justFaulted.delete(key);
      const every = (period: number | undefined) => period !== undefined && n % period === 0;
      const faulted = (hit: boolean) => {
        if (!mayFault || !hit) return false;
        justFaulted.add(key);
        return true;
      };
      if (faulted(every(p.failEvery))) return fail503(done);
      if (faulted(every(p.resetEvery))) {
        state.injected += 1;
        req.socket.destroy();
        return done();
      }
      const loseAnswer = faulted(every(p.loseAnswerEvery));
      const proxied = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          if (loseAnswer) {
            state.injected += 1;
            answer.resume();
            answer.on('end', () => {
              req.socket.destroy();
              done();
            });
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', done);
        },
      );
      proxied.on('error', () => {
        res.destroy();
        done();
      });
      req.pipe(proxied);
    };
    const fail503 = (done: () => void) => {
      state.injected += 1;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml', 'retry-after': '0' });
      res.end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>injected fault</Message></Error>');
      done();
    };
    const conditional =
      options.conditionalWrites && req.method === 'PUT' && req.headers['if-none-match'] === '*';
    const path = (req.url ?? '').split('?')[0] ?? '';
    const go = () => {
      if (!conditional) return forward();
      const before = creating.get(path) ?? Promise.resolve();
      const turn = before.then(
        () =>
          new Promise<void>((release) => {
            const head = request(
              {
                host: upstream.hostname,
                port: upstream.port,
                method: 'HEAD',
                path,
                headers: { host: req.headers.host },
              },
              (answer) => {
                answer.resume();
                if (answer.statusCode === 200) {
                  req.resume();
                  res.writeHead(412, { 'content-type': 'application/xml' });
                  res.end('<?xml version="1.0"?><Error><Code>PreconditionFailed</Code></Error>');
                  return release();
                }
                forward(release);
              },
            );
            head.on('error', () => {
              res.destroy();
              release();
            });
            head.end();
          }),
      );
      creating.set(path, turn);
    };
    if (state.plan.delayMs) setTimeout(go, state.plan.delayMs);
    else go();
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
