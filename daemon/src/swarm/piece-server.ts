import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from '@flotilla/log';
import type { P2PNode } from '@flotilla/p2p';
import { UploadQueue, type TokenBucket } from '@flotilla/ratelimit';
import type { ContentStore } from '@flotilla/store';
import {
  choosePieceLength,
  handlePiece,
  isProtocolViolation,
  pieceCountFor,
  pieceRange,
  type BlobMetaResponse,
  type PieceGetReply,
  type RequestContext,
} from '@flotilla/wire';
import type { ActiveDownloads } from './active-downloads.ts';
import type { SignedMetaStore } from './meta-store.ts';
import { PieceSet } from './piece-set.ts';

/** Piece bytes are read from disk and sent in chunks of this size. */
const READ_CHUNK = 256 * 1024;

/** Test-only fault: every uploaded piece has one byte flipped. Read from the environment only, never from config. */
export const CORRUPT_UPLOAD_ENV = 'FLOTILLA_FAULT_CORRUPT_UPLOAD';

export interface PieceServerOptions {
  node: P2PNode;
  store: ContentStore;
  active: ActiveDownloads;
  /** Piece uploads at once; more requests are answered `busy`. */
  uploadSlots: number;
  /** A request that could not start within this long is answered `busy` (see UploadQueue). */
  uploadQueueMs: number;
  uploadBucket: TokenBucket;
  /** Signed task meta to hand out with `meta` (without it, only sizes are). */
  metas?: SignedMetaStore;
  logger: Logger;
}

/** Where the pieces of one blob can be read, and which of them are there. */
interface Holding {
  size: number;
  pieceLength: number;
  have: PieceSet;
  /** Tried in order: a download's temp file is renamed into the store when it commits. */
  paths: string[];
}

/**
 * Serves /flotilla/piece/1.0.0 to other daemons: pieces of committed blobs (read from the store) and of blobs still
 * downloading (only pieces already verified and written), `watch` streams of which pieces are there, and an upload
 * queue on the --upload-rate bucket that answers `busy` when a request could not start in time.
 */
export class PieceServer {
  readonly #o: PieceServerOptions;
  readonly #corrupt = process.env[CORRUPT_UPLOAD_ENV] === '1';
  readonly #uploads: UploadQueue;

  constructor(options: PieceServerOptions) {
    this.#o = options;
    this.#uploads = new UploadQueue({ bucket: options.uploadBucket, slots: options.uploadSlots, maxWaitMs: options.uploadQueueMs });
    if (this.#corrupt) options.logger.warn({ env: CORRUPT_UPLOAD_ENV }, 'FAULT INJECTION: every uploaded piece is corrupted');
  }

  get uploadsInProgress(): number {
    return this.#uploads.uploads;
  }

  async start(): Promise<void> {
    await handlePiece(
      this.#o.node,
      {
        get: (request, context) => this.#get(request, context),
        watch: (request, context) => this.#watch(request.digest, context.signal),
        meta: (request) => this.#meta(request.digest),
      },
      {
        onError: (err, peer) => {
          const fields = { peer: peer.toString(), error: (err as Error).message };
          if (isProtocolViolation(err)) this.#o.logger.warn(fields, 'peer broke the piece protocol');
          else this.#o.logger.debug(fields, 'piece stream failed');
        },
      },
    );
  }

  async #get(request: { digest: string; index: number }, context: RequestContext): Promise<PieceGetReply> {
    const holding = await this.#holding(request.digest);
    if (!holding?.have.has(request.index)) return { type: 'missing' };
    const { start, end } = pieceRange(request.index, holding.size, holding.pieceLength);
    const admission = this.#uploads.admit(end - start);
    if (!admission.ok) return { type: 'busy', retryAfterMs: admission.retryAfterMs };
    const { upload } = admission;
    const file = await openFirst(holding.paths).catch((err: unknown) => {
      upload.release();
      throw err;
    });
    if (!file) {
      upload.release();
      return { type: 'missing' };
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      upload.release();
      void file.close().catch(() => undefined);
    };
    return {
      type: 'piece',
      length: end - start,
      body: upload.pace(this.#read(file, start, end), context.signal),
      done: release,
    };
  }

  /** The size of a blob held or being fetched, with its signed meta when this daemon has it. */
  async #meta(digest: string): Promise<BlobMetaResponse> {
    const blob = this.#o.active.get(digest);
    const size = blob?.live ? blob.meta.size : (await this.#o.store.stat(digest))?.size;
    if (size === undefined) return { type: 'missing' };
    const signed = await this.#o.metas?.get(digest);
    return signed ? { type: 'blob-meta', size, signed } : { type: 'blob-meta', size };
  }

  async *#read(file: FileHandle, start: number, end: number): AsyncGenerator<Uint8Array> {
    for (let pos = start; pos < end; ) {
      const length = Math.min(READ_CHUNK, end - pos);
      const chunk = Buffer.allocUnsafe(length);
      const { bytesRead } = await file.read(chunk, 0, length, pos);
      if (bytesRead !== length) throw new Error(`blob file ended at ${pos + bytesRead} inside a piece`);
      if (this.#corrupt && pos === start) chunk[0] = chunk[0]! ^ 0xff;
      pos += length;
      yield chunk;
    }
  }

  /**
   * The full set first, then additions as pieces land, until the blob is complete. A blob this daemon has not
   * started yet gets an empty first frame: the scheduler may name us a parent just before our own task begins.
   * Ends without `complete` when our download failed (the child then stops using us).
   */
  async *#watch(digest: string, signal: AbortSignal): AsyncGenerator<{ pieces: number[]; complete: boolean }> {
    const stop = new AbortController();
    const until = AbortSignal.any([signal, stop.signal]);
    let sent = 0;
    let first = true;
    try {
      while (!until.aborted) {
        const next = this.#o.active.changed(digest, until);
        const blob = this.#o.active.get(digest);
        if (blob?.live) {
          if (first || sent < blob.landed.length) {
            const pieces = first ? blob.have.toArray() : blob.landed.slice(sent).sort((a, b) => a - b);
            sent = blob.landed.length;
            first = false;
            yield { pieces, complete: blob.have.complete };
            if (blob.have.complete) return;
            continue;
          }
        } else {
          const committed = await this.#committed(digest);
          if (committed) {
            yield { pieces: committed.have.toArray(), complete: true };
            return;
          }
          if (!first) return;
          first = false;
          yield { pieces: [], complete: false };
          continue;
        }
        await next;
      }
    } finally {
      stop.abort();
    }
  }

  async #holding(digest: string): Promise<Holding | undefined> {
    const blob = this.#o.active.get(digest);
    if (blob?.live) {
      const { size, pieceLength } = blob.meta;
      return { size, pieceLength, have: blob.have, paths: [blob.writer.tempPath, this.#o.store.blobPath(digest)] };
    }
    return this.#committed(digest);
  }

  /** A committed blob, cut the way the scheduler cuts it (choosePieceLength of its size). */
  async #committed(digest: string): Promise<Holding | undefined> {
    const record = await this.#o.store.stat(digest);
    if (!record) return undefined;
    const pieceLength = choosePieceLength(record.size);
    return {
      size: record.size,
      pieceLength,
      have: PieceSet.full(pieceCountFor(record.size, pieceLength)),
      paths: [this.#o.store.blobPath(digest)],
    };
  }
}

/** The first of these files that exists, open for reading. */
async function openFirst(paths: string[]): Promise<FileHandle | undefined> {
  for (const path of paths) {
    try {
      return await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return undefined;
}
