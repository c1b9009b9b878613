import type { OriginBlobRequest, OriginClient, OriginRequest, OriginResponse, BlobBody } from '@flotilla/origin';
import { upstreamFailure } from './upstream-errors.ts';

/** An origin request whose failures to connect or answer arrive as the OciError the mirror's client gets. */
export function requestOrigin(origin: OriginClient, request: OriginRequest): Promise<OriginResponse> {
  return asUpstreamFailure(origin.request(request));
}

/** A blob GET read into pooled memory (the download path); failures as in requestOrigin. */
export function requestOriginBlob(origin: OriginClient, request: OriginBlobRequest): Promise<OriginResponse<BlobBody>> {
  return asUpstreamFailure(origin.requestBlob(request));
}

async function asUpstreamFailure<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (err) {
    throw upstreamFailure(err);
  }
}
