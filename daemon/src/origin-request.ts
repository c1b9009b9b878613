import type { OriginClient, OriginRequest, OriginResponse } from '@flotilla/origin';
import { upstreamFailure } from './upstream-errors.ts';

/** An origin request whose failures to connect or answer arrive as the OciError the mirror's client gets. */
export async function requestOrigin(origin: OriginClient, request: OriginRequest): Promise<OriginResponse> {
  try {
    return await origin.request(request);
  } catch (err) {
    throw upstreamFailure(err);
  }
}
