import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TokenBucket } from '@flotilla/ratelimit';

/**
 * A reverse proxy that emulates links with token buckets. It stands for one server's uplink (the origin's, or
 * the central mirror's): every response body it forwards draws on one shared `egressRate` bucket. Each of its
 * listeners is one client's downlink with a bucket of its own, so N listeners = N nodes on separate links.
 * A chunk waits for both buckets: a flow gets the smaller of its own link and its share of the uplink.
 */
export interface ThrottleProxyOptions {
  /** `HOST:PORT` of the server behind it. */
  target: string;
  /** Bytes per second of the server's uplink, shared by every listener (0 = unlimited). */
  egressRate: number;
  /** Bytes per second of each client link; one listener per entry (0 = unlimited). */
  linkRates: number[];
  /** Address the listeners bind (default 127.0.0.1; a network namespace's own address under --link netns). */
  listenHost?: string;
}

/** Body bytes sent so far. */
export interface ThrottleStats {
  /** Everything the server behind sent out, over all links: its egress. */
  egressBytes: number;
}

export interface ThrottleProxy {
  /** `HOST:PORT` of each listener, in `linkRates` order. */
  linkHosts: string[];
  stats(): ThrottleStats;
  close(): Promise<void>;
}

export async function startThrottleProxy(options: ThrottleProxyOptions): Promise<ThrottleProxy> {
  const [targetHost, targetPort] = splitHostPort(options.target);
  const listenHost = options.listenHost ?? '127.0.0.1';
  const egress = new TokenBucket(options.egressRate);
  const agent = new Agent({ keepAlive: true });
  const stats: ThrottleStats = { egressBytes: 0 };
  const servers: Server[] = [];
  try {
    for (const rate of options.linkRates) {
      const link = new TokenBucket(rate);
      const count = (bytes: number) => {
        stats.egressBytes += bytes;
      };
      const server = createServer((req, res) => forward(req, res, { targetHost, targetPort, agent, buckets: [link, egress], count }));
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, listenHost, resolve);
      });
    }
  } catch (err) {
    await closeAll(servers, agent);
    throw err;
  }
  return {
    linkHosts: servers.map((server) => `${listenHost}:${(server.address() as AddressInfo).port}`),
    stats: () => ({ ...stats }),
    close: () => closeAll(servers, agent),
  };
}

interface Route {
  targetHost: string;
  targetPort: number;
  agent: Agent;
  buckets: TokenBucket[];
  count(bytes: number): void;
}

/** Forwards one request; the response body is released chunk by chunk as the buckets allow, with backpressure. */
function forward(req: IncomingMessage, res: ServerResponse, route: Route): void {
  const target = `${route.targetHost}:${route.targetPort}`;
  const clientGone = new AbortController();
  res.on('close', () => clientGone.abort());
  const upstream = request(
    {
      host: route.targetHost,
      port: route.targetPort,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: target },
      agent: route.agent,
      signal: clientGone.signal,
    },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      relay(upRes, res, route, clientGone.signal).then(
        () => res.end(),
        () => res.destroy(),
      );
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  req.pipe(upstream);
}

async function relay(upRes: IncomingMessage, res: ServerResponse, route: Route, signal: AbortSignal): Promise<void> {
  for await (const chunk of upRes as AsyncIterable<Buffer>) {
    const waitMs = Math.max(...route.buckets.map((bucket) => bucket.reserve(chunk.byteLength)));
    if (waitMs > 0) await sleep(waitMs, { signal });
    route.count(chunk.byteLength);
    if (!res.write(chunk)) await once(res, 'drain', { signal });
  }
}

async function closeAll(servers: Server[], agent: Agent): Promise<void> {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ),
  );
  agent.destroy();
}

function splitHostPort(hostPort: string): [string, number] {
  const colon = hostPort.lastIndexOf(':');
  const port = Number(hostPort.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port)) throw new Error(`expected HOST:PORT, got ${hostPort}`);
  return [hostPort.slice(0, colon), port];
}
