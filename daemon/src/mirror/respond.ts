import type { ServerResponse } from 'node:http';
import { OciError } from '@flotilla/oci';

/** Headers every mirror response carries. */
export const API_VERSION_HEADER = { 'docker-distribution-api-version': 'registry/2.0' } as const;

/** Writes the spec's error JSON, unless headers already went out (then the only honest signal left is a cut connection). */
export function sendError(res: ServerResponse, err: OciError, method: string): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const body = err.body();
  res.writeHead(err.status, {
    ...API_VERSION_HEADER,
    ...err.headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(method === 'HEAD' ? undefined : body);
}

/** Sends a small complete body (manifests, JSON). */
export function sendBody(
  res: ServerResponse,
  method: string,
  status: number,
  headers: Record<string, string | number>,
  body: Uint8Array,
): void {
  res.writeHead(status, { ...API_VERSION_HEADER, ...headers, 'content-length': body.byteLength });
  res.end(method === 'HEAD' ? undefined : body);
}
