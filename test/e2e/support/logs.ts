import { requestLogs, type DaemonLogLine, type FlotillaDaemon } from '@flotilla/test';

/** The daemon's request lines for GETs of one blob digest. */
export function blobGets(daemon: FlotillaDaemon, digest: string): DaemonLogLine[] {
  return requestLogs(daemon, digest).filter((l) => l['method'] === 'GET' && String(l['path']).includes('/blobs/'));
}

/** The `source` of every logged GET of each digest, e.g. { 'sha256:…': ['origin'] }, for readable assertions. */
export function blobSources(daemon: FlotillaDaemon, digests: string[]): Record<string, unknown[]> {
  return Object.fromEntries(digests.map((d) => [d, blobGets(daemon, d).map((l) => l['source'])]));
}
