import type { Readable } from 'node:stream';
import { OciError } from '@flotilla/oci';
import type { OriginClient } from '@flotilla/origin';
import type { BlobWriter } from '@flotilla/store';
import { requestOrigin } from '../origin-request.ts';
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
    const response = await requestOrigin(this.#origin, {
        registry: request.registry,
        repository: request.repository,
        kind: 'blobs',
        reference: request.digest.value,
        method: 'GET',
        ...(request.authorization ? { authorization: request.authorization } : {}),
        signal: request.signal,
    });
    if (response.status !== 200) {
      response.body.destroy();
      throw upstreamStatusError(response, 'blob');
    }
    const lengthHeader = response.headers['content-length'];
    const size = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const done = pump(response.body, writer, size);
    return { source: this.name, size, done };
  }
}

/** Chunks are gathered into one vectored write of about this size: fewer syscalls, no copying. */
const APPEND_BYTES = 1 << 20;
/** Appends in flight at once: one awaited write at a time caps near 0.5 GB/s, a few overlap hashing and I/O. */
const APPENDS_IN_FLIGHT = 4;

/** Moves the origin body into the writer, checking it against the announced length. */
async function pump(body: Readable, writer: BlobWriter, size: number | undefined): Promise<void> {
  const inFlight: Promise<void>[] = [];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let received = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    inFlight.push(writer.append(pending));
    pending = [];
    pendingBytes = 0;
    if (inFlight.length >= APPENDS_IN_FLIGHT) await inFlight.shift();
  };
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      received += chunk.byteLength;
      if (size !== undefined && received > size) {
        throw new OciError(502, 'UNAVAILABLE', `upstream sent more than its Content-Length ${size}`);
      }
      pending.push(chunk);
      pendingBytes += chunk.byteLength;
      if (pendingBytes >= APPEND_BYTES) await flush();
    }
    await flush();
    await Promise.all(inFlight);
    if (size !== undefined && received !== size) {
      throw new OciError(502, 'UNAVAILABLE', `upstream body ended at ${received} of ${size} bytes`);
    }
  } catch (err) {
    body.destroy();
    await Promise.allSettled(inFlight);
    throw upstreamFailure(err);
  }
}
