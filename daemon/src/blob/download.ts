import { EventEmitter } from 'node:events';
import { OciError, type Digest } from '@flotilla/oci';
import type { Logger } from '@flotilla/log';
import { DigestMismatchError, type BlobRecord, type BlobWriter, type ContentStore } from '@flotilla/store';
import { upstreamFailure } from '../upstream-errors.ts';
import { RecentChunks } from './recent-chunks.ts';
import type { BlobFetchRequest, BlobSource } from './source.ts';

/** Bytes of recent chunks kept per download for readers that keep up. */
const RECENT_BYTES = 8 << 20;

/** Where a download stands. Readers wait on `change` events and look at these fields. */
export type DownloadState =
  | { phase: 'starting' }
  | { phase: 'streaming'; size: number | undefined; writer: BlobWriter }
  /** Complete and digest-checked; the fsync and rename into the store are still under way. */
  | { phase: 'verified'; size: number; writer: BlobWriter }
  | { phase: 'committed'; record: BlobRecord; path: string }
  | { phase: 'failed'; error: OciError };

/**
 * One blob being fetched into the store, shared by every request that wants it while it is in flight. Readers stream
 * the bytes written so far from the temp file; the digest is checked before the blob is committed, and a failure
 * reaches every reader (who then cut their responses short: never a complete wrong body).
 */
export class BlobDownload extends EventEmitter<{ change: [] }> {
  readonly digest: Digest;
  /** Which source is producing the bytes (logged by readers); the configured source until it says otherwise. */
  sourceName: string;
  /** What was just handed to the writer, for readers that keep up (bounded: older chunks are read from the file). */
  readonly recent = new RecentChunks(RECENT_BYTES);
  #state: DownloadState = { phase: 'starting' };
  /** Bytes [0, #acceptedTo) have been handed to the writer: in the file, or on their way there. */
  #acceptedTo = 0;
  readonly #abort = new AbortController();

  constructor(digest: Digest, sourceName: string) {
    super();
    this.setMaxListeners(0);
    this.digest = digest;
    this.sourceName = sourceName;
  }

  get state(): DownloadState {
    return this.#state;
  }

  /** Resolves once the size is known (or the blob is already complete); rejects with the OciError for the client. */
  async started(): Promise<Exclude<DownloadState, { phase: 'starting' | 'failed' }>> {
    for (;;) {
      const state = this.#state;
      if (state.phase === 'failed') throw state.error;
      if (state.phase !== 'starting') return state;
      await new Promise<void>((resolve) => this.once('change', resolve));
    }
  }

  /** Runs the download to its end. Never throws: the outcome is in `state`. */
  async run(store: ContentStore, source: BlobSource, request: Omit<BlobFetchRequest, 'signal'>, logger: Logger): Promise<void> {
    const begin = performance.now();
    let writer: BlobWriter | undefined;
    try {
      const existing = await store.stat(this.digest.value);
      if (existing) return this.#set({ phase: 'committed', record: existing, path: store.blobPath(existing.digest) });
      writer = await store.createWriter(this.digest);
      const activeWriter = writer;
      activeWriter.on('accepted', (offset, chunk) => this.#accepted(offset, chunk));
      const fetch = await source.start({ ...request, signal: this.#abort.signal }, activeWriter);
      this.sourceName = fetch.source;
      this.#set({ phase: 'streaming', size: fetch.size, writer: activeWriter });
      const onProgress = () => this.emit('change');
      activeWriter.on('progress', onProgress);
      try {
        await fetch.done;
      } finally {
        activeWriter.off('progress', onProgress);
      }
      await activeWriter.verify();
      this.#set({ phase: 'verified', size: activeWriter.contiguousBytes, writer: activeWriter });
      const record = await activeWriter.commit({
        source: this.sourceName,
        registry: request.registry,
        repository: request.repository,
      });
      logger.info(
        { digest: this.digest.value, registry: request.registry, source: this.sourceName, bytes: record.size, duration_ms: Math.round(performance.now() - begin) },
        'blob stored',
      );
      this.#set({ phase: 'committed', record, path: store.blobPath(record.digest) });
    } catch (err) {
      await writer?.abort().catch(() => {});
      const error =
        err instanceof DigestMismatchError
          ? new OciError(502, 'DIGEST_INVALID', `upstream content does not match ${this.digest.value}`)
          : upstreamFailure(err);
      logger.warn(
        { digest: this.digest.value, registry: request.registry, source: this.sourceName, error: error.message, duration_ms: Math.round(performance.now() - begin) },
        'blob download failed',
      );
      this.#set({ phase: 'failed', error });
    }
  }

  /**
   * The end of the prefix a reader may send: handed to the writer (held in `recent` until it is evicted, then read
   * from the file once written) or already in the file. The last byte still waits for verification (see readers).
   */
  get acceptedBytes(): number {
    const state = this.#state;
    if (state.phase === 'streaming') return Math.max(this.#acceptedTo, state.writer.contiguousBytes);
    if (state.phase === 'verified') return state.size;
    if (state.phase === 'committed') return state.record.size;
    return 0;
  }

  /** A chunk the writer took: readers that keep up send it before it reaches the disk. */
  #accepted(offset: number, chunk: Uint8Array): void {
    this.recent.add(offset, chunk);
    if (offset > this.#acceptedTo) return;
    this.#acceptedTo = Math.max(this.#acceptedTo, offset + chunk.byteLength);
    this.emit('change');
  }

  /** Stops the transfer (daemon shutdown). */
  cancel(): void {
    this.#abort.abort(new OciError(503, 'UNAVAILABLE', 'the mirror is shutting down'));
  }

  #set(state: DownloadState): void {
    this.#state = state;
    if (state.phase === 'committed' || state.phase === 'failed') this.recent.clear();
    this.emit('change');
  }
}

/** The single-flight table: concurrent misses for one digest share one download. */
export class BlobDownloads {
  readonly #inFlight = new Map<string, BlobDownload>();
  readonly #store: ContentStore;
  readonly #source: BlobSource;
  readonly #logger: Logger;

  constructor(store: ContentStore, source: BlobSource, logger: Logger) {
    this.#store = store;
    this.#source = source;
    this.#logger = logger;
  }

  /** The download in flight for this digest, or a new one started with this request's upstream and credentials. */
  join(request: Omit<BlobFetchRequest, 'signal'>): BlobDownload {
    const key = request.digest.value;
    const current = this.#inFlight.get(key);
    if (current) return current;
    const download = new BlobDownload(request.digest, this.#source.name);
    this.#inFlight.set(key, download);
    void download.run(this.#store, this.#source, request, this.#logger).finally(() => this.#inFlight.delete(key));
    return download;
  }

  get size(): number {
    return this.#inFlight.size;
  }

  /** Cancels every download and waits until none is left. */
  async cancelAll(): Promise<void> {
    const all = [...this.#inFlight.values()];
    for (const d of all) d.cancel();
    await Promise.all(all.map((d) => d.started().then(() => waitSettled(d), () => undefined)));
  }
}

function waitSettled(download: BlobDownload): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      const phase = download.state.phase;
      if (phase === 'committed' || phase === 'failed') {
        download.off('change', check);
        resolve();
      }
    };
    download.on('change', check);
    check();
  });
}
