import { OciError } from '@flotilla/oci';
import { OriginError, type OriginResponse } from '@flotilla/origin';

/**
 * Maps an origin answer that is not a success to what the mirror's client gets. 401 keeps `WWW-Authenticate` so
 * docker/containerd run their own token flow; 5xx becomes 502 so containerd moves on to the next host at once.
 */
export function upstreamStatusError(response: Pick<OriginResponse<unknown>, 'status' | 'headers'>, what: 'manifest' | 'blob'): OciError {
  const status = response.status;
  if (status === 401) {
    const challenge = response.headers['www-authenticate'];
    return new OciError(401, 'UNAUTHORIZED', 'the upstream registry requires authentication', challenge ? { 'www-authenticate': challenge } : {});
  }
  if (status === 403) return new OciError(403, 'DENIED', 'the upstream registry denied access');
  if (status === 404) {
    return what === 'blob'
      ? new OciError(404, 'BLOB_UNKNOWN', 'blob unknown to the upstream registry')
      : new OciError(404, 'MANIFEST_UNKNOWN', 'manifest unknown to the upstream registry');
  }
  if (status === 429) {
    const retryAfter = response.headers['retry-after'];
    return new OciError(429, 'TOOMANYREQUESTS', 'the upstream registry is rate limiting', retryAfter ? { 'retry-after': retryAfter } : {});
  }
  return new OciError(502, 'UNAVAILABLE', `the upstream registry answered ${status}`);
}

/** Maps a failure to reach the origin (or a non-OCI error on the way) to a fast 5xx. */
export function upstreamFailure(err: unknown): OciError {
  if (err instanceof OciError) return err;
  if (err instanceof OriginError) {
    return err.kind === 'timeout'
      ? new OciError(504, 'UNAVAILABLE', `the upstream registry did not answer in time: ${err.message}`)
      : new OciError(503, 'UNAVAILABLE', `the upstream registry is unreachable: ${err.message}`);
  }
  return new OciError(502, 'UNAVAILABLE', `fetching from the upstream registry failed: ${(err as Error)?.message ?? String(err)}`);
}
