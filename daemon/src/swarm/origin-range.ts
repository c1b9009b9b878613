import { OciError } from '@flotilla/oci';
import type { OriginClient } from '@flotilla/origin';
import { requestOrigin } from '../origin-request.ts';
import { upstreamFailure, upstreamStatusError } from '../upstream-errors.ts';
import type { BlobFetchRequest } from '../blob/source.ts';

/** Fetches bytes [start, end) of a blob from its origin with a Range request (a piece nobody in the swarm delivered). */
export async function fetchOriginRange(
  origin: OriginClient,
  request: BlobFetchRequest,
  range: { start: number; end: number },
  signal: AbortSignal,
): Promise<Uint8Array[]> {
  const response = await requestOrigin(origin, {
    registry: request.registry,
    repository: request.repository,
    kind: 'blobs',
    reference: request.digest.value,
    method: 'GET',
    range: `bytes=${range.start}-${range.end - 1}`,
    ...(request.authorization ? { authorization: request.authorization } : {}),
    signal,
  });
  if (response.status !== 206) {
    response.body.destroy();
    if (response.status === 200) throw new OciError(502, 'UNAVAILABLE', 'the origin ignored a Range request');
    throw upstreamStatusError(response, 'blob');
  }
  const chunks: Uint8Array[] = [];
  let received = 0;
  const wanted = range.end - range.start;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      received += chunk.byteLength;
      if (received > wanted) throw new OciError(502, 'UNAVAILABLE', `the origin sent more than the ${wanted} bytes asked for`);
      chunks.push(chunk);
    }
  } catch (err) {
    response.body.destroy();
    throw upstreamFailure(err);
  }
  if (received !== wanted) throw new OciError(502, 'UNAVAILABLE', `the origin sent ${received} of ${wanted} bytes`);
  return chunks;
}
