import { OciError } from '@flotilla/oci';
import type { OriginClient } from '@flotilla/origin';
import type { BlobWriter } from '@flotilla/store';
import { upstreamFailure, upstreamStatusError } from '../upstream-errors.ts';
import type { BlobFetchRequest, BlobSource, StartedFetch } from './source.ts';

/** Fetches a blob from its upstream registry, streaming the body into the writer as it arrives. */
export class OriginBlobSource implements BlobSource {
  readonly name = 'origin';
  readonly #origin: OriginClient;

  constructor(origin: OriginClient) {
    this.#origin = origin;
  }

  async start(request: BlobFetchRequest, writer: BlobWriter): Promise<StartedFetch> {
    let response;
    try {
      response = await this.#origin.request({
        registry: request.registry,
        repository: request.repository,
        kind: 'blobs',
        reference: request.digest.value,
        method: 'GET',
        ...(request.authorization ? { authorization: request.authorization } : {}),
        signal: request.signal,
      });
    } catch (err) {
      throw upstreamFailure(err);
    }
    if (response.status !== 200) {
      response.body.destroy();
      throw upstreamStatusError(response, 'blob');
    }
    const lengthHeader = response.headers['content-length'];
    const size = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const done = (async () => {
      try {
        for await (const chunk of response.body as AsyncIterable<Buffer>) {
          if (size !== undefined && writer.contiguousBytes + chunk.byteLength > size) {
            throw new OciError(502, 'UNAVAILABLE', `upstream sent more than its Content-Length ${size}`);
          }
          await writer.append(chunk);
        }
        if (size !== undefined && writer.contiguousBytes !== size) {
          throw new OciError(502, 'UNAVAILABLE', `upstream body ended at ${writer.contiguousBytes} of ${size} bytes`);
        }
      } catch (err) {
        response.body.destroy();
        throw upstreamFailure(err);
      }
    })();
    return { size, done };
  }
}
