import type { Digest } from '@flotilla/oci';
import type { BlobWriter } from '@flotilla/store';

/** What a blob miss asks a source for. */
export interface BlobFetchRequest {
  registry: string;
  repository: string;
  digest: Digest;
  /** The client's Authorization header, forwarded to whoever needs it (origin, or the scheduler that seeds). */
  authorization?: string;
  signal: AbortSignal;
}

/** A fetch that has started: its size is known and its bytes are flowing into the writer. */
export interface StartedFetch {
  /** Who is actually sending the bytes (a swarm that fell back reports `origin`): logged and stored with the blob. */
  source: string;
  /** Total blob size, when the source knows it (origins send Content-Length). */
  size: number | undefined;
  /** Resolves when every byte has been written; rejects on any failure (the writer is then discarded by the caller). */
  done: Promise<void>;
}

/**
 * Where the bytes of a blob the store does not have come from. The origin is one source; the swarm (scheduler and
 * peers) is another, tried first. `start` throws an OciError when the source answers that it cannot serve the blob
 * (unknown, unauthorized, unreachable) so the client can be told at once.
 */
export interface BlobSource {
  /** Short name, logged as the response's `source`. */
  readonly name: string;
  start(request: BlobFetchRequest, writer: BlobWriter): Promise<StartedFetch>;
}
