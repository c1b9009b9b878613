/*
 * A daemon's (and a seed's) upload queue on simulated time: packages/ratelimit's UploadQueue with --upload-rate set
 * to the node's uplink. At most `sending` uploads move bytes at once, the others wait in arrival order; a request
 * is refused (`busy`, with when to come back) when --upload-slots are taken or when what is already admitted needs
 * longer than --upload-queue-time to drain at the rate. A few uploads at full speed instead of all of them
 * interleaved: a child can pass a piece on only once it has all of it, so pieces finishing one after another
 * spread down the swarm sooner than pieces finishing late together.
 */

export interface UploadQueueConfig {
  /** Bytes per second the queue drains at (the --upload-rate bucket). */
  rate: number;
  slots: number;
  maxWaitMs: number;
  /** Uploads sending at once (ratelimit's DEFAULT_SENDING). */
  sending: number;
}

/** One upload: `start` begins moving its bytes and returns a reading of how many are left. */
export interface QueuedUpload {
  readonly bytes: number;
  readonly start: () => () => number;
}

export type Admission = { ok: true } | { ok: false; retryAfterMs: number };

export class SimUploadQueue {
  readonly #c: UploadQueueConfig;
  /** Admitted, not finished, in arrival order; with the bytes-left reading of those started. */
  readonly #queue: { upload: QueuedUpload; left: (() => number) | undefined }[] = [];

  constructor(config: UploadQueueConfig) {
    this.#c = config;
  }

  /** Admits the upload (its bytes start moving now or when its turn comes), or refuses it. */
  admit(upload: QueuedUpload): Admission {
    const backlogMs = (this.#bytesLeft() / this.#c.rate) * 1000;
    if (this.#queue.length >= this.#c.slots) return { ok: false, retryAfterMs: Math.max(1, Math.ceil(backlogMs / this.#queue.length)) };
    if (backlogMs > this.#c.maxWaitMs) return { ok: false, retryAfterMs: Math.ceil(backlogMs - this.#c.maxWaitMs) };
    this.#queue.push({ upload, left: undefined });
    this.#startNext();
    return { ok: true };
  }

  /** The upload's last byte arrived: the next in line starts. */
  finished(upload: QueuedUpload): void {
    const at = this.#queue.findIndex((entry) => entry.upload === upload);
    if (at < 0) throw new Error('finished an upload that was not admitted');
    this.#queue.splice(at, 1);
    this.#startNext();
  }

  #startNext(): void {
    for (let i = 0; i < Math.min(this.#queue.length, this.#c.sending); i++) {
      const entry = this.#queue[i]!;
      entry.left ??= entry.upload.start();
    }
  }

  #bytesLeft(): number {
    let left = 0;
    for (const entry of this.#queue) left += entry.left ? entry.left() : entry.upload.bytes;
    return left;
  }
}
