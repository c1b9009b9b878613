import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostPort } from '@flotilla/config';
import type { Logger } from '@flotilla/log';

/** What the status endpoints show; each call builds a fresh JSON-ready snapshot. */
export interface StatusSource {
  tasks(): unknown;
  hosts(): unknown;
}

export interface StatusServer {
  /** "HOST:PORT" actually bound. */
  address: string;
  close(): Promise<void>;
}

/** `GET /healthz`, `GET /tasks`, `GET /hosts`: read-only JSON views for operators and tests. */
export async function startStatusServer(listen: HostPort, source: StatusSource, logger: Logger): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://status').pathname;
    const view = path === '/healthz' ? () => ({ status: 'ok' }) : path === '/tasks' ? source.tasks : path === '/hosts' ? source.hosts : undefined;
    let status = 200;
    let body: unknown;
    if (!view) [status, body] = [404, { error: `no such endpoint ${path}` }];
    else if (req.method !== 'GET' && req.method !== 'HEAD') [status, body] = [405, { error: 'only GET' }];
    else body = view();
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...(status === 405 ? { allow: 'GET, HEAD' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  });
  server.listen(listen.port, listen.host);
  await once(server, 'listening');
  const bound = server.address() as AddressInfo;
  const host = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  logger.debug({ address: `${host}:${bound.port}` }, 'status server listening');
  return {
    address: `${host}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
