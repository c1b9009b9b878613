import { OciError } from '@flotilla/oci';
import type { BlobBody, HeldBytes, OriginClient } from '@flotilla/origin';
import type { BlobWriter } from '@flotilla/store';
import { requestOriginBlob } from '../origin-request.ts';
import { upstreamFailure, upstreamStatusError } from '../upstream-errors.ts';
import type { BlobFetchRequest, BlobSource, StartedFetch } from './source.ts';

/** How the body of an origin blob is moved into the store (the daemon's --origin-write-* knobs). */
export interface OriginWrites {
  /** Body bytes gathered into one vectored file write: fewer syscalls, no copying. */
  batchBytes: number;
  /** Batches being written and hashed at once; each holds its bytes in memory until it is done. */
  inFlight: number;
}

/** Fetches a blob from its upstream registry, streaming the body into the writer as it arrives. */
export class OriginBlobSource implements BlobSource {
  readonly name = 'origin';
  readonly #origin: OriginClient;
  readonly #writes: OriginWrites;

  constructor(origin: OriginClient, writes: OriginWrites) {
    this.#origin = origin;
    this.#writes = writes;
  }

  async start(request: BlobFetchRequest, writer: BlobWriter): Promise<StartedFetch> {
    const response = await requestOriginBlob(this.#origin, {
      registry: request.registry,
      repository: request.repository,
      reference: request.digest.value,
      ...(request.authorization ? { authorization: request.authorization } : {}),
      signal: request.signal,
    });
    if (response.status !== 200) {
      response.body.destroy();
      throw upstreamStatusError(response, 'blob');
    }
    const lengthHeader = response.headers['content-length'];
    const size = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const done = pump(response.body, writer, size, this.#writes);
    return { source: this.name, size, done };
  }
}

/**
 * Moves the origin body into the writer, checking it against the announced length. Body bytes are pooled memory:
 * each run is released once the append that carries it has settled (the writer keeps what readers need).
 */
async function pump(body: BlobBody, writer: BlobWriter, size: number | undefined, writes: OriginWrites): Promise<void> {
  const inFlight: Promise<void>[] = [];
  let pending: HeldBytes[] = [];
  let pendingBytes = 0;
  let received = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const held = pending;
    pending = [];
    pendingBytes = 0;
    inFlight.push(
      writer.append(held.map((h) => h.bytes)).finally(() => {
        for (const h of held) h.release();
      }),
    );
    if (inFlight.length >= writes.inFlight) await inFlight.shift();
  };
  try {
    for (let held = await body.read(); held; held = await body.read()) {
      pending.push(held);
      received += held.bytes.byteLength;
      if (size !== undefined && received > size) {
        throw new OciError(502, 'UNAVAILABLE', `upstream sent more than its Content-Length ${size}`);
      }
      pendingBytes += held.bytes.byteLength;
      if (pendingBytes >= writes.batchBytes) await flush();
    }
    await flush();
    await Promise.all(inFlight);
    if (size !== undefined && received !== size) {
      throw new OciError(502, 'UNAVAILABLE', `upstream body ended at ${received} of ${size} bytes`);
    }
  } catch (err) {
    body.destroy(err);
    for (const h of pending) h.release();
    await Promise.allSettled(inFlight);
    throw upstreamFailure(err);
  }
}
