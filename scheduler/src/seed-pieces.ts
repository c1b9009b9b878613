import type { Logger } from '@flotilla/log';
import type { TokenBucket } from '@flotilla/ratelimit';
import { pieceRange, type BlobMetaResponse, type PieceGetReply, type PieceHandlers, type RequestContext } from '@flotilla/wire';
import type { Seeds } from './seed.ts';

export interface SeedPieceServerOptions {
  seeds: Seeds;
  /** --upload-slots: concurrent piece uploads; more requests are answered busy. */
  uploadSlots: number;
  /** --upload-rate, shared by every upload. */
  upload: TokenBucket;
  logger: Logger;
}

/** Serves the seeds' pieces over /flotilla/piece/1.0.0 the way a daemon serves its own: `get` and `watch`. */
export class SeedPieceServer implements PieceHandlers {
  readonly #options: SeedPieceServerOptions;
  #activeUploads = 0;
  #uploadedBytes = 0;

  constructor(options: SeedPieceServerOptions) {
    this.#options = options;
  }

  get activeUploads(): number {
    return this.#activeUploads;
  }

  get uploadedBytes(): number {
    return this.#uploadedBytes;
  }

  async get(request: { digest: string; index: number }, context: RequestContext): Promise<PieceGetReply> {
    const seed = this.#options.seeds.get(request.digest);
    if (!seed?.hasBytes || request.index >= seed.piecesReady) return { type: 'missing' };
    if (this.#activeUploads >= this.#options.uploadSlots) return { type: 'busy' };
    this.#activeUploads++;
    const { start, end } = pieceRange(request.index, seed.meta.size, seed.meta.pieceLength);
    const started = performance.now();
    return {
      type: 'piece',
      length: end - start,
      body: this.#throttled(seed.read(request.index), context.signal),
      done: (err) => {
        this.#activeUploads--;
        const fields = { digest: request.digest, index: request.index, peer: context.peer.toString(), bytes: end - start };
        const duration_ms = Math.round(performance.now() - started);
        if (err === undefined) this.#options.logger.debug({ ...fields, duration_ms }, 'piece uploaded');
        else this.#options.logger.info({ ...fields, duration_ms, err: String(err) }, 'piece upload failed');
      },
    };
  }

  /** The ready pieces first, then each batch as it lands, until every piece is there, the seed fails or the child leaves. */
  async *watch(request: { digest: string }, context: RequestContext): AsyncGenerator<{ pieces: number[]; complete: boolean }> {
    const seed = this.#options.seeds.get(request.digest);
    if (!seed?.hasBytes) return;
    let sent = -1;
    while (!context.signal.aborted && !seed.failure) {
      const ready = seed.piecesReady;
      if (ready > sent) {
        yield { pieces: range(Math.max(sent, 0), ready), complete: seed.hasAllPieces };
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

  async *#throttled(chunks: AsyncIterable<Uint8Array>, signal: AbortSignal): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunks) {
      await this.#options.upload.take(chunk.byteLength, signal);
      this.#uploadedBytes += chunk.byteLength;
      yield chunk;
    }
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
