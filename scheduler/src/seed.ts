import { open, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Logger } from '@flotilla/log';
import { parseDigest } from '@flotilla/oci';
import type { OriginClient } from '@flotilla/origin';
import { throttleStream, type TokenBucket } from '@flotilla/ratelimit';
import type { BlobWriter, ContentStore } from '@flotilla/store';
import {
  choosePieceLength,
  MAX_BLOB_SIZE,
  pieceCountFor,
  pieceRange,
  type MetaSignature,
  type SignedTaskMeta,
  type TaskMeta,
} from '@flotilla/wire';
import { PieceHasher } from './piece-hasher.ts';

/** Piece bytes are read from disk and sent in chunks of this size. */
const READ_CHUNK = 256 * 1024;
/** Origin chunks are gathered into one vectored write of about this size (as the daemon does). */
const APPEND_BYTES = 1 << 20;
const APPENDS_IN_FLIGHT = 4;
/** After a failed seed (digest mismatch, origin died mid-body) requests go back to source for this long, then it is retried. */
const FAILED_SEED_RETRY_MS = 30_000;

/**
 * The scheduler's own copy of one blob: fetched once from the origin (or found in the store), cut into pieces whose
 * sha256 is known as soon as their bytes are in. Pieces become available in order, so `piecesReady` is a prefix.
 */
export class Seed {
  readonly meta: TaskMeta;
  /** The scheduler's signature over the meta, once every piece digest is known: daemons pass it on. */
  signature: MetaSignature | undefined;
  readonly #tempPath: string | undefined;
  readonly #blobPath: string | undefined;
  readonly #waiters = new Set<() => void>();
  #ready = 0;
  #committed = false;
  #failure: { reason: string; at: number } | undefined;

  /** Without paths the seed is meta only: daemons hold the bytes (it was adopted from their signed meta). */
  constructor(meta: TaskMeta, paths?: { tempPath?: string; blobPath: string }) {
    this.meta = meta;
    this.#tempPath = paths?.tempPath;
    this.#blobPath = paths?.blobPath;
  }

  /** The scheduler has the bytes and can serve pieces (not an adopted, meta-only seed). */
  get hasBytes(): boolean {
    return this.#blobPath !== undefined;
  }

  /** Pieces [0, piecesReady) are on disk and their digests are in meta.pieceDigests. */
  get piecesReady(): number {
    return this.#ready;
  }

  /** Every piece is available (the whole-blob digest may still be under verification). */
  get hasAllPieces(): boolean {
    return this.#ready === this.meta.pieceCount;
  }

  get failure(): { reason: string; at: number } | undefined {
    return this.#failure;
  }

  /** Publishes the pieces whose bytes are written and whose digests are known. */
  advance(digests: readonly string[], contiguousBytes: number): void {
    const before = this.#ready;
    while (this.#ready < digests.length && this.#pieceEnd(this.#ready) <= contiguousBytes) {
      this.meta.pieceDigests[this.#ready] = digests[this.#ready]!;
      this.#ready++;
    }
    if (this.#ready > before) this.#notify();
  }

  markCommitted(): void {
    this.#committed = true;
    this.#notify();
  }

  fail(reason: string): void {
    this.#failure = { reason, at: Date.now() };
    this.#notify();
  }

  /** Resolves on the next change (pieces, commit, failure) or when the signal aborts. */
  changed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#waiters.delete(wake);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      if (signal.aborted) return resolve();
      this.#waiters.add(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  /** The bytes of a ready piece, read from the temp file while seeding and from the store after. */
  async *read(index: number): AsyncGenerator<Uint8Array> {
    const { start, end } = pieceRange(index, this.meta.size, this.meta.pieceLength);
    const file = await this.#open();
    try {
      for (let at = start; at < end; ) {
        const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, end - at));
        const { bytesRead } = await file.read(buffer, 0, buffer.byteLength, at);
        if (bytesRead === 0) throw new Error(`${this.meta.digest} ends at ${at}, inside piece ${index}`);
        at += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await file.close();
    }
  }

  async #open(): Promise<FileHandle> {
    if (this.#blobPath === undefined) throw new Error(`${this.meta.digest} is held by daemons only`);
    if (this.#tempPath !== undefined && !this.#committed) {
      try {
        return await open(this.#tempPath, 'r');
      } catch (err) {
        // Renamed into the store between our check and the open.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return open(this.#blobPath, 'r');
  }

  #pieceEnd(index: number): number {
    return pieceRange(index, this.meta.size, this.meta.pieceLength).end;
  }

  #notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

export interface SeedRequest {
  digest: string;
  registry: string;
  repository: string;
  authorization?: string;
}

export type SeedOutcome = { ok: true; seed: Seed } | { ok: false; reason: string };

export interface SeedsOptions {
  store: ContentStore;
  origin: OriginClient;
  /** --download-rate: the seed's origin traffic. */
  download: TokenBucket;
  logger: Logger;
  /** A seed failed after it was handed out (its task must go). */
  onFailed(digest: string): void;
  /** Signs a seed's meta once every piece digest is known. */
  sign(meta: TaskMeta): Promise<MetaSignature>;
}

/**
 * Seeds by digest, fetched at most once at a time (single-flight). An origin that refuses (401/403/404, any
 * non-200) or cannot be reached yields `{ok: false}` and nothing is remembered, so the next request tries again
 * with its own credentials; a seed that fails after it started blocks re-seeding for FAILED_SEED_RETRY_MS.
 */
export class Seeds {
  readonly #options: SeedsOptions;
  readonly #seeds = new Map<string, Seed>();
  readonly #starting = new Map<string, Promise<SeedOutcome>>();
  readonly #fetches = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  readonly #signing = new WeakSet<Seed>();

  constructor(options: SeedsOptions) {
    this.#options = options;
  }

  get(digest: string): Seed | undefined {
    const seed = this.#seeds.get(digest);
    return seed?.failure ? undefined : seed;
  }

  ensure(request: SeedRequest): Promise<SeedOutcome> {
    const existing = this.#seeds.get(request.digest);
    if (existing && !existing.failure) return Promise.resolve({ ok: true, seed: existing });
    if (existing?.failure && Date.now() - existing.failure.at < FAILED_SEED_RETRY_MS) {
      return Promise.resolve({ ok: false, reason: `seeding failed: ${existing.failure.reason}` });
    }
    let starting = this.#starting.get(request.digest);
    if (!starting) {
      starting = this.#start(request).finally(() => this.#starting.delete(request.digest));
      this.#starting.set(request.digest, starting);
    }
    return starting;
  }

  /**
   * The seed of a blob a daemon reports holding, if it can be had without the origin: one already here, or one
   * from the store (its piece digests are computed from the file).
   */
  async local(digest: string): Promise<Seed | undefined> {
    const existing = this.get(digest);
    if (existing || !(await this.#options.store.stat(digest))) return existing;
    let starting = this.#starting.get(digest);
    if (!starting) {
      starting = this.#fromStore(digest).finally(() => this.#starting.delete(digest));
      this.#starting.set(digest, starting);
    }
    const outcome = await starting;
    return outcome.ok ? outcome.seed : undefined;
  }

  /** A meta-only seed from signed meta the caller has checked: daemons that hold the blob are its only parents. */
  adopt(signed: SignedTaskMeta): Seed {
    const existing = this.get(signed.meta.digest);
    if (existing) return existing;
    const seed = new Seed({ ...signed.meta, pieceDigests: new Array<string | null>(signed.meta.pieceCount).fill(null) });
    seed.advance(signed.meta.pieceDigests, signed.meta.size);
    seed.markCommitted();
    seed.signature = signed.signature;
    this.#seeds.set(signed.meta.digest, seed);
    this.#options.logger.info({ digest: signed.meta.digest, signer: signed.signature.signer }, 'task adopted from a holder');
    return seed;
  }

  /** Aborts origin fetches in progress and waits for them to wind down. */
  async close(): Promise<void> {
    this.#abort.abort(new Error('scheduler stopping'));
    await Promise.allSettled([...this.#starting.values(), ...this.#fetches]);
  }

  async #start(request: SeedRequest): Promise<SeedOutcome> {
    const { store, origin, logger } = this.#options;
    if (await store.stat(request.digest)) return this.#fromStore(request.digest);
    let response;
    try {
      response = await origin.request({
        registry: request.registry,
        repository: request.repository,
        kind: 'blobs',
        reference: request.digest,
        method: 'GET',
        ...(request.authorization !== undefined ? { authorization: request.authorization } : {}),
        signal: this.#abort.signal,
      });
    } catch (err) {
      logger.info({ digest: request.digest, registry: request.registry, err: String(err) }, 'seed origin unreachable');
      return { ok: false, reason: `origin unreachable: ${(err as Error).message}` };
    }
    const length = response.headers['content-length'];
    const size = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
    const refusal =
      response.status !== 200
        ? `origin answered ${response.status}`
        : size === undefined
          ? 'origin sent no Content-Length'
          : size > MAX_BLOB_SIZE
            ? `blob of ${size} bytes is too large for pieces`
            : undefined;
    if (refusal !== undefined || size === undefined) {
      response.body.destroy();
      logger.info({ digest: request.digest, registry: request.registry, status: response.status, reason: refusal }, 'seed refused');
      return { ok: false, reason: refusal ?? 'no size' };
    }
    const writer = await store.createWriter(parseDigest(request.digest), size);
    const seed = new Seed(metaFor(request.digest, size), { tempPath: writer.tempPath, blobPath: store.blobPath(request.digest) });
    this.#seeds.set(request.digest, seed);
    const fetch = this.#fetch(seed, request, response.body, writer);
    this.#fetches.add(fetch);
    void fetch.finally(() => this.#fetches.delete(fetch));
    logger.info({ digest: request.digest, size, pieces: seed.meta.pieceCount, registry: request.registry }, 'seed started');
    return { ok: true, seed };
  }

  /** Streams the origin body into the store, publishing each piece once it is written and hashed. */
  async #fetch(seed: Seed, request: SeedRequest, body: Readable, writer: BlobWriter): Promise<void> {
    const { logger, download } = this.#options;
    const started = performance.now();
    const hasher = new PieceHasher(seed.meta.size, seed.meta.pieceLength);
    const onProgress = (contiguous: number): void => {
      seed.advance(hasher.digests, contiguous);
      this.#signWhenComplete(seed);
    };
    writer.on('progress', onProgress);
    let received = 0;
    try {
      await pipeline(
        body,
        throttleStream(download),
        async (source: AsyncIterable<Buffer>) => {
          const inFlight: Promise<void>[] = [];
          let batch: Buffer[] = [];
          let batchBytes = 0;
          const flush = async (): Promise<void> => {
            if (batchBytes > 0) inFlight.push(writer.append(batch));
            [batch, batchBytes] = [[], 0];
            if (inFlight.length >= APPENDS_IN_FLIGHT) await inFlight.shift();
          };
          for await (const chunk of source) {
            hasher.update(chunk);
            received += chunk.byteLength;
            batch.push(chunk);
            batchBytes += chunk.byteLength;
            if (batchBytes >= APPEND_BYTES) await flush();
          }
          await flush();
          await Promise.all(inFlight);
        },
        { signal: this.#abort.signal },
      );
      if (received !== seed.meta.size) throw new Error(`origin body ended at ${received} of ${seed.meta.size} bytes`);
      await writer.commit({ source: 'origin', registry: request.registry, repository: request.repository });
      seed.markCommitted();
      logger.info(
        { digest: seed.meta.digest, bytes: received, pieces: seed.meta.pieceCount, duration_ms: Math.round(performance.now() - started) },
        'task seeded',
      );
    } catch (err) {
      await writer.abort();
      seed.fail((err as Error).message);
      logger.warn(
        { digest: seed.meta.digest, bytes: received, duration_ms: Math.round(performance.now() - started), err: String(err) },
        'seed failed',
      );
      this.#options.onFailed(seed.meta.digest);
    } finally {
      writer.off('progress', onProgress);
    }
  }

  #signWhenComplete(seed: Seed): void {
    if (!seed.hasAllPieces || this.#signing.has(seed)) return;
    this.#signing.add(seed);
    this.#options.sign(seed.meta).then(
      (signature) => (seed.signature = signature),
      (err: unknown) => this.#options.logger.error({ digest: seed.meta.digest, err: String(err) }, 'signing the task meta failed'),
    );
  }

  /** A blob seeded before (this run or an earlier one): its piece digests are computed from the file. */
  async #fromStore(digest: string): Promise<SeedOutcome> {
    const started = performance.now();
    const path = this.#options.store.blobPath(digest);
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      const seed = new Seed(metaFor(digest, size), { blobPath: path });
      const hasher = new PieceHasher(size, seed.meta.pieceLength);
      for await (const chunk of file.createReadStream({ highWaterMark: APPEND_BYTES, autoClose: false })) hasher.update(chunk as Buffer);
      seed.advance(hasher.digests, size);
      seed.markCommitted();
      this.#signWhenComplete(seed);
      this.#seeds.set(digest, seed);
      this.#options.logger.info(
        { digest, bytes: size, pieces: seed.meta.pieceCount, duration_ms: Math.round(performance.now() - started) },
        'task seeded from store',
      );
      return { ok: true, seed };
    } finally {
      await file.close();
    }
  }
}

/** Geometry of a blob of `size` bytes, no piece digest known yet. */
function metaFor(digest: string, size: number): TaskMeta {
  const pieceLength = choosePieceLength(size);
  const pieceCount = pieceCountFor(size, pieceLength);
  return { digest, size, pieceLength, pieceCount, pieceDigests: new Array<string | null>(pieceCount).fill(null) };
}
