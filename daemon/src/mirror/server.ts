import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { OciError } from '@flotilla/oci';
import type { Logger } from '@flotilla/log';
import type { BlobHandler } from './blobs.ts';
import type { RequestLog } from './context.ts';
import type { ManifestHandler } from './manifests.ts';
import { API_VERSION_HEADER, sendBody, sendError } from './respond.ts';
import { parseRoute } from './route.ts';
import type { UpstreamPolicy } from './upstream.ts';

export interface MirrorHandlers {
  policy: UpstreamPolicy;
  manifests: ManifestHandler;
  blobs: BlobHandler;
  logger: Logger;
}

const EMPTY_JSON = Buffer.from('{}');

/** The node-local registry mirror: validates the request once, dispatches, and logs one JSON line per request. */
export function createMirrorServer(handlers: MirrorHandlers): Server {
  const server = createServer((req, res) => void serve(handlers, req, res));
  // A plain-http mirror sees TLS ClientHellos from skopeo first; answer 400 and move on.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

async function serve(handlers: MirrorHandlers, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const begin = performance.now();
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const log: RequestLog = { bytes: 0 };
  res.once('close', () => {
    handlers.logger.info(
      {
        method,
        path: url.split('?')[0],
        ns: new URLSearchParams(url.split('?')[1] ?? '').get('ns') ?? undefined,
        registry: log.registry,
        digest: log.digest,
        status: res.statusCode,
        bytes: log.bytes,
        source: log.source,
        complete: res.writableFinished,
        duration_ms: Math.round((performance.now() - begin) * 100) / 100,
      },
      'request',
    );
  });
  try {
    const route = parseRoute(method, url, handlers.policy);
    switch (route.kind) {
      case 'health':
        return sendBody(res, method, 200, { 'content-type': 'application/json' }, Buffer.from('{"status":"ok"}'));
      case 'ping':
        return sendBody(res, method, 200, { ...API_VERSION_HEADER, 'content-type': 'application/json' }, EMPTY_JSON);
      case 'manifest':
        log.registry = route.registry;
        return await handlers.manifests.handle(req, res, route, log);
      case 'blob':
        log.registry = route.registry;
        return await handlers.blobs.handle(req, res, route, log);
    }
  } catch (err) {
    if (err instanceof OciError) return sendError(res, err, method);
    if (isClientGone(err, res)) return;
    handlers.logger.error({ err, method, path: url }, 'request failed');
    sendError(res, new OciError(500, 'UNKNOWN', 'internal error'), method);
  }
}

function isClientGone(err: unknown, res: ServerResponse): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return res.destroyed || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'EPIPE' || code === 'ECONNRESET';
}
