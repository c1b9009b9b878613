import type { IncomingMessage, ServerResponse } from 'node:http';
import { OciError, type Digest } from '@flotilla/oci';
import type { OriginClient } from '@flotilla/origin';
import type { ContentStore } from '@flotilla/store';
import type { BlobDownloads } from '../blob/download.ts';
import { streamDownload, streamFile } from '../blob/stream-to-response.ts';
import { requestOrigin } from '../origin-request.ts';
import { upstreamStatusError } from '../upstream-errors.ts';
import { forwardedHeaders, type RequestLog } from './context.ts';
import { parseRange, type ByteRange } from './range.ts';
import { API_VERSION_HEADER, sendError } from './respond.ts';

export interface BlobRoute {
  registry: string;
  repository: string;
  digest: Digest;
}

/**
 * `GET|HEAD /v2/<name>/blobs/<digest>`: from the store when present, else from the shared download of that digest,
 * streamed while it arrives. Blobs are never content-encoded: clients hash exactly what they receive.
 */
export class BlobHandler {
  readonly #store: ContentStore;
  readonly #downloads: BlobDownloads;
  readonly #origin: OriginClient;

  constructor(store: ContentStore, downloads: BlobDownloads, origin: OriginClient) {
    this.#store = store;
    this.#downloads = downloads;
    this.#origin = origin;
  }

  async handle(req: IncomingMessage, res: ServerResponse, route: BlobRoute, log: RequestLog): Promise<void> {
    const digest = route.digest.value;
    log.digest = digest;
    const record = await this.#store.stat(digest);
    if (record) {
      log.source = 'cache';
      void this.#store.touch(digest);
      const range = this.#respondHeaders(req, res, digest, record.size);
      if (range && req.method === 'GET') await streamFile(this.#store.blobPath(digest), range, res, log);
      else res.end();
      return;
    }
    if (req.method === 'HEAD') return this.#headFromOrigin(res, route, req, log);

    const { authorization } = forwardedHeaders(req);
    const download = this.#downloads.join({
      registry: route.registry,
      repository: route.repository,
      digest: route.digest,
      ...(authorization ? { authorization } : {}),
    });
    const state = await download.started();
    log.source = state.phase === 'committed' ? 'cache' : download.sourceName;
    const size = state.phase === 'committed' ? state.record.size : state.size;
    if (size === undefined) {
      // No Content-Length upstream: stream chunked; a failure still cuts the body short.
      res.writeHead(200, blobHeaders(digest));
      await streamDownload(download, { start: 0, end: Number.MAX_SAFE_INTEGER }, res, log);
      return;
    }
    const range = this.#respondHeaders(req, res, digest, size);
    if (range) await streamDownload(download, range, res, log);
  }

  /** Writes 200/206/416 headers; returns the range to send, or undefined when nothing more is to be sent. */
  #respondHeaders(req: IncomingMessage, res: ServerResponse, digest: string, size: number): ByteRange | undefined {
    const wanted = parseRange(req.headers.range, size);
    if (wanted.kind === 'unsatisfiable') {
      sendError(res, new OciError(416, 'RANGE_INVALID', `range not satisfiable for ${size} bytes`, { 'content-range': `bytes */${size}` }), req.method ?? 'GET');
      return undefined;
    }
    const range = wanted.kind === 'partial' ? wanted.range : { start: 0, end: size };
    const headers: Record<string, string | number> = { ...blobHeaders(digest), 'content-length': range.end - range.start };
    if (wanted.kind === 'partial') {
      headers['content-range'] = `bytes ${range.start}-${range.end - 1}/${size}`;
      res.writeHead(206, headers);
    } else {
      res.writeHead(200, headers);
    }
    return req.method === 'GET' ? range : undefined;
  }

  /** A HEAD for a blob the store lacks asks the origin; starting a download for a HEAD would waste the transfer. */
  async #headFromOrigin(res: ServerResponse, route: BlobRoute, req: IncomingMessage, log: RequestLog): Promise<void> {
    log.source = 'origin';
    const response = await requestOrigin(this.#origin, {
        registry: route.registry,
        repository: route.repository,
        kind: 'blobs',
        reference: route.digest.value,
        method: 'HEAD',
        ...forwardedHeaders(req),
    });
    response.body.destroy();
    if (response.status !== 200) throw upstreamStatusError(response, 'blob');
    const length = response.headers['content-length'];
    res.writeHead(200, { ...blobHeaders(route.digest.value), ...(length ? { 'content-length': length } : {}) });
    res.end();
  }
}

function blobHeaders(digest: string): Record<string, string> {
  return {
    ...API_VERSION_HEADER,
    'content-type': 'application/octet-stream',
    'docker-content-digest': digest,
    'accept-ranges': 'bytes',
  };
}
