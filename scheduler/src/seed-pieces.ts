import type { Logger } from '@flotilla/log';
import { UploadQueue, type TokenBucket } from '@flotilla/ratelimit';
import {
  MAX_HAVE_DIGESTS,
  pieceRange,
  type BlobMetaResponse,
  type HaveUpdate,
  type PieceGetReply,
  type PieceHandlers,
  type RequestContext,
} from '@flotilla/wire';
import type { Seeds } from './seed.ts';

export interface SeedPieceServerOptions {
  seeds: Seeds;
  /** --upload-slots: concurrent piece uploads; more requests are answered busy. */
  uploadSlots: number;
  /** --upload-queue-time: a request that could not start within this long is answered busy (see UploadQueue). */
  uploadQueueMs: number;
  /** --upload-rate, shared by every upload. */
  upload: TokenBucket;
  logger: Logger;
}

/** Serves the seeds' pieces over /flotilla/piece/1.0.0 the way a daemon serves its own: `get` and `watch`. */
export class SeedPieceServer implements PieceHandlers {
  readonly #options: SeedPieceServerOptions;
  readonly #uploads: UploadQueue;

  constructor(options: SeedPieceServerOptions) {
    this.#options = options;
    this.#uploads = new UploadQueue({ bucket: options.upload, slots: options.uploadSlots, maxWaitMs: options.uploadQueueMs });
  }

  get activeUploads(): number {
    return this.#uploads.uploads;
  }

  get uploadedBytes(): number {
    return this.#uploads.sentBytes;
  }

  async get(request: { digest: string; index: number }, context: RequestContext): Promise<PieceGetReply> {
    const seed = this.#options.seeds.get(request.digest);
    if (!seed?.hasBytes || request.index >= seed.piecesReady) return { type: 'missing' };
    const { start, end } = pieceRange(request.index, seed.meta.size, seed.meta.pieceLength);
    const admission = this.#uploads.admit(end - start);
    if (!admission.ok) return { type: 'busy', retryAfterMs: admission.retryAfterMs };
    const { upload } = admission;
    const started = performance.now();
    return {
      type: 'piece',
      length: end - start,
      body: upload.pace(seed.read(request.index), context.signal),
      done: (err) => {
        upload.release();
        const fields = { digest: request.digest, index: request.index, peer: context.peer.toString(), bytes: end - start };
        const duration_ms = Math.round(performance.now() - started);
        if (err === undefined) this.#options.logger.debug({ ...fields, duration_ms }, 'piece uploaded');
        else this.#options.logger.info({ ...fields, duration_ms, err: String(err) }, 'piece upload failed');
      },
    };
  }

  /**
   * The ready pieces first, then each batch as it lands, until every piece is there, the seed fails or the child
   * leaves. Each frame carries the digests of its pieces (at most MAX_HAVE_DIGESTS a frame): children learn them here
   * as the seed fetches, instead of polling with reports.
   */
  async *watch(request: { digest: string }, context: RequestContext): AsyncGenerator<HaveUpdate> {
    const seed = this.#options.seeds.get(request.digest);
    if (!seed?.hasBytes) return;
    let sent = 0;
    let first = true;
    while (!context.signal.aborted && !seed.failure) {
      const ready = seed.piecesReady;
      if (ready > sent || first) {
        for (let from = sent; from < ready || first; from += MAX_HAVE_DIGESTS) {
          const to = Math.min(ready, from + MAX_HAVE_DIGESTS);
          const pieces = range(from, to);
          yield { pieces, complete: to === seed.meta.pieceCount, digests: seed.meta.pieceDigests.slice(from, to) as string[] };
          first = false;
        }
        sent = ready;
      }
      if (seed.hasAllPieces) return;
      await seed.changed(context.signal);
    }
  }

  /** The seed's size, and its signed meta once every piece digest is known. */
  async meta(request: { digest: string }): Promise<BlobMetaResponse> {
    const seed = this.#options.seeds.get(request.digest);
    if (!seed) return { type: 'missing' };
    const { meta, signature } = seed;
    if (signature === undefined) return { type: 'blob-meta', size: meta.size };
    return { type: 'blob-meta', size: meta.size, signed: { meta: { ...meta, pieceDigests: meta.pieceDigests as string[] }, signature } };
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
