import type { TokenBucket } from './token-bucket.ts';

/** Uploads drawing on a limited bucket at once; the rest wait their turn in arrival order. */
export const DEFAULT_SENDING = 4;
/**
 * Uploads this small start at once, whatever is queued: a config blob's only piece must not wait two seconds behind
 * ten 1 MiB layer pieces (it did, and its children gave up on the seed as stalled).
 */
const SMALL_UPLOAD_BYTES = 64 * 1024;
/** The drain rate is measured over windows of at least this long, while uploads are waiting. */
const DRAIN_WINDOW_MS = 500;
/** Weight of the newest window in the drain-rate average. */
const DRAIN_WEIGHT = 0.3;

export interface UploadQueueOptions {
  /** --upload-rate: shared by every upload. */
  bucket: TokenBucket;
  /** --upload-slots: uploads admitted at once (sending and waiting); more are refused. */
  slots: number;
  /**
   * A request that could not start within about this long is refused: the child asks another parent instead of
   * sitting in our queue until its piece deadline drops us as stalled. Keep it below the children's piece timeout.
   */
  maxWaitMs: number;
  /** Uploads sending at once while the bucket is limited (default DEFAULT_SENDING). */
  sending?: number;
}

export type Admission = { ok: true; upload: QueuedUpload } | { ok: false; retryAfterMs: number };

/**
 * Admission and order of the piece uploads that share one upload link. With a limited bucket, interleaving every
 * upload chunk by chunk makes all of them finish late together — and a child can pass a piece on only once it has
 * all of it — so a few send at once and the others wait in arrival order. A request that would wait longer than
 * maxWaitMs for the link is refused up front (`busy`, with when to come back), rather than accepted and timed out.
 */
export class UploadQueue {
  readonly #o: UploadQueueOptions;
  readonly #sending: number;
  /** Admitted, not finished, in arrival order. */
  readonly #queue: QueuedUpload[] = [];
  /** Bytes the admitted uploads have still to send. */
  #bytesLeft = 0;
  #sentBytes = 0;
  /** Bytes per second actually sent while uploads were waiting (a starved CPU or slow children: below the bucket). */
  #drainRate: number | undefined;
  #windowStart = 0;
  #windowBytes = 0;

  constructor(options: UploadQueueOptions) {
    this.#o = options;
    this.#sending = options.bucket.unlimited ? Infinity : Math.max(1, options.sending ?? DEFAULT_SENDING);
  }

  /** Uploads admitted and not finished. */
  get uploads(): number {
    return this.#queue.length;
  }

  /** Bytes sent by every upload so far. */
  get sentBytes(): number {
    return this.#sentBytes;
  }

  /**
   * How long the link needs for what is already admitted (0 when unlimited): at the bucket's rate, or at the rate
   * uploads actually drained while some waited, when that is lower — on a CPU-starved host the nominal rate
   * promised starts that came after the children's piece deadline.
   */
  get backlogMs(): number {
    const nominal = this.#o.bucket.bytesPerSecond;
    const rate = this.#drainRate === undefined || nominal === Infinity ? nominal : Math.min(nominal, this.#drainRate);
    return (this.#bytesLeft / rate) * 1000;
  }

  /** Admits an upload of `bytes`, or says how long to wait before asking again. */
  admit(bytes: number): Admission {
    const backlogMs = this.backlogMs;
    if (this.#queue.length >= this.#o.slots) return { ok: false, retryAfterMs: Math.max(1, Math.ceil(backlogMs / this.#queue.length)) };
    if (backlogMs > this.#o.maxWaitMs) return { ok: false, retryAfterMs: Math.ceil(backlogMs - this.#o.maxWaitMs) };
    const upload = new QueuedUpload(this, bytes);
    this.#queue.push(upload);
    this.#bytesLeft += bytes;
    return { ok: true, upload };
  }

  /** @internal May this upload send now? */
  mayStart(upload: QueuedUpload): boolean {
    const position = this.#queue.indexOf(upload);
    return position >= 0 && (position < this.#sending || upload.bytes <= SMALL_UPLOAD_BYTES);
  }

  /** @internal Paces one chunk on the bucket. */
  async take(upload: QueuedUpload, bytes: number, signal: AbortSignal): Promise<void> {
    await this.#o.bucket.take(bytes, signal);
    const counted = Math.min(bytes, upload.bytesLeft);
    this.#bytesLeft -= counted;
    this.#sentBytes += bytes;
    upload.bytesLeft -= counted;
    this.#measure(bytes);
  }

  /** Drain rate over windows in which uploads were waiting for their turn (idle time says nothing about the link). */
  #measure(bytes: number): void {
    const now = performance.now();
    if (this.#queue.length <= this.#sending || this.#windowStart === 0) {
      this.#windowStart = this.#queue.length > this.#sending ? now : 0;
      this.#windowBytes = 0;
      return;
    }
    this.#windowBytes += bytes;
    const elapsed = now - this.#windowStart;
    if (elapsed < DRAIN_WINDOW_MS) return;
    const rate = (this.#windowBytes / elapsed) * 1000;
    this.#drainRate = this.#drainRate === undefined ? rate : this.#drainRate + DRAIN_WEIGHT * (rate - this.#drainRate);
    this.#windowStart = now;
    this.#windowBytes = 0;
  }

  /** @internal The upload finished or failed: its place goes to the next in line. */
  remove(upload: QueuedUpload): void {
    const position = this.#queue.indexOf(upload);
    if (position < 0) return;
    this.#queue.splice(position, 1);
    this.#bytesLeft -= upload.bytesLeft;
    upload.bytesLeft = 0;
    for (let i = position; i < Math.min(this.#queue.length, this.#sending); i++) this.#queue[i]!.wake();
  }
}

/** One admitted upload: `pace` its chunks, `release` it once done (or failed). */
export class QueuedUpload {
  readonly #queue: UploadQueue;
  readonly bytes: number;
  bytesLeft: number;
  #released = false;
  #wake: (() => void) | undefined;

  constructor(queue: UploadQueue, bytes: number) {
    this.#queue = queue;
    this.bytes = bytes;
    this.bytesLeft = bytes;
  }

  /** Waits for this upload's turn, then releases each chunk when the bucket allows it. */
  async *pace(chunks: AsyncIterable<Uint8Array>, signal: AbortSignal): AsyncGenerator<Uint8Array> {
    await this.#turn(signal);
    for await (const chunk of chunks) {
      await this.#queue.take(this, chunk.byteLength, signal);
      yield chunk;
    }
  }

  /** Leaves the queue (idempotent); call on success and on failure. */
  release(): void {
    this.#released = true;
    this.#queue.remove(this);
    this.wake();
  }

  /** @internal */
  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #turn(signal: AbortSignal): Promise<void> {
    while (!this.#queue.mayStart(this)) {
      signal.throwIfAborted();
      if (this.#released) throw new Error('upload released before its turn');
      await new Promise<void>((resolve) => {
        const onAbort = (): void => {
          this.#wake = undefined;
          resolve();
        };
        this.#wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    signal.throwIfAborted();
  }
}
