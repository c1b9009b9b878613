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
import type { Seed, Seeds } from './seed.ts';

/**
 * A piece the seed has started sending is sent again while other uploads are queued only after this long: by then
 * the daemon that took it should have passed it on. Copies of pieces the swarm already has were a quarter of the
 * seed's upload in a 10-node fan-out (1.25 S), and the seed's upload is what sets the pace of the whole swarm: every
 * duplicate delays a fresh piece.
 */
const RELAY_WINDOW_MS = 3_000;
/** Blobs smaller than this are sent to whoever asks (children take them straight from the seed, too). */
const RELAYED_FROM_BYTES = 4 * 1024 * 1024;
/** The longest back-off a refused copy asks for. */
const COPY_RETRY_MS = 500;

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
  /** Per seed, when each piece was first sent (0: not yet, or that upload failed). */
  readonly #firstSent = new WeakMap<Seed, Float64Array>();

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
    const copyWait = this.#copyWait(seed, request.index);
    if (copyWait > 0) return { type: 'busy', retryAfterMs: copyWait };
    const admission = this.#uploads.admit(end - start);
    if (!admission.ok) return { type: 'busy', retryAfterMs: admission.retryAfterMs };
    const { upload } = admission;
    const started = performance.now();
    const firstSent = this.#firstSentOf(seed);
    const first = firstSent[request.index] === 0;
    if (first) firstSent[request.index] = started;
    return {
      type: 'piece',
      length: end - start,
      body: upload.pace(seed.read(request.index), context.signal),
      done: (err) => {
        upload.release();
        if (err !== undefined && first) firstSent[request.index] = 0;
        const fields = { digest: request.digest, index: request.index, peer: context.peer.toString(), bytes: end - start };
        const duration_ms = Math.round(performance.now() - started);
        if (err === undefined) this.#options.logger.debug({ ...fields, duration_ms }, 'piece uploaded');
        else this.#options.logger.info({ ...fields, duration_ms, err: String(err) }, 'piece upload failed');
      },
    };
  }

  /** How long a request for another copy of a piece should wait (0: serve it): see RELAY_WINDOW_MS. */
  #copyWait(seed: Seed, index: number): number {
    if (seed.meta.size < RELAYED_FROM_BYTES || this.#uploads.uploads === 0) return 0;
    const sentAt = this.#firstSentOf(seed)[index]!;
    const age = performance.now() - sentAt;
    return sentAt > 0 && age < RELAY_WINDOW_MS ? Math.ceil(Math.min(COPY_RETRY_MS, RELAY_WINDOW_MS - age)) : 0;
  }

  #firstSentOf(seed: Seed): Float64Array {
    let sent = this.#firstSent.get(seed);
    if (!sent) {
      sent = new Float64Array(seed.meta.pieceCount);
      this.#firstSent.set(seed, sent);
    }
    return sent;
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
      // Pieces may have landed while a frame was out (at a yield): send them before stopping or waiting.
      if (sent === seed.meta.pieceCount) return;
      if (seed.piecesReady === sent) await seed.changed(context.signal);
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
