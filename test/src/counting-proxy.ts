import { createServer, request, Agent, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the proxy forwarded. */
export interface ProxiedRequest {
  method: string;
  path: string;
  status: number;
  /** Response body bytes sent back to the client (counted as they go out). */
  bytes: number;
  range?: string;
}

/** A reverse proxy in front of a registry that counts what the origin served, independently of Flotilla's own logs. */
export interface CountingProxy {
  /** "127.0.0.1:PORT": use it as the registry's address. */
  host: string;
  url: string;
  /** Every forwarded request whose response has ended (or was cut short). */
  requests(): ProxiedRequest[];
  /** Body bytes of blob GETs (`/v2/<name>/blobs/<digest>`) sent to clients, including partial and ranged ones. */
  blobBytes(digest?: string): number;
  close(): Promise<void>;
}

const BLOB_PATH = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})(?:\?|$)/;

/** Starts a plain-HTTP reverse proxy on 127.0.0.1 to `target` ("HOST:PORT"). */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const [targetHost, targetPort] = splitHostPort(target);
  const agent = new Agent({ keepAlive: true });
  const done: ProxiedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const record: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', status: 0, bytes: 0 };
    if (typeof req.headers.range === 'string') record.range = req.headers.range;
    let recorded = false;
    const finish = () => {
      if (recorded) return;
      recorded = true;
      done.push(record);
    };
    const upstream = request(
      { host: targetHost, port: targetPort, method: req.method, path: req.url, headers: { ...req.headers, host: target }, agent },
      (upRes: IncomingMessage) => {
        record.status = upRes.statusCode ?? 0;
        res.writeHead(record.status, upRes.headers);
        upRes.on('data', (chunk: Buffer) => {
          record.bytes += chunk.length;
          if (!res.write(chunk)) {
            upRes.pause();
            res.once('drain', () => upRes.resume());
          }
        });
        upRes.on('end', () => res.end(finish));
        upRes.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => {
      finish();
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on('close', () => {
      upstream.destroy();
      finish();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    url: `http://${host}`,
    requests: () => [...done],
    blobBytes(digest) {
      let total = 0;
      for (const r of done) {
        const m = BLOB_PATH.exec(r.path);
        if (r.method === 'GET' && m && (digest === undefined || m[1] === digest)) total += r.bytes;
      }
      return total;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}

function splitHostPort(target: string): [string, number] {
  const colon = target.lastIndexOf(':');
  return [target.slice(0, colon), Number(target.slice(colon + 1))];
}
