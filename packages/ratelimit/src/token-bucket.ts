/**
 * A byte-rate limit shared by every transfer it governs (one per direction per process: `--upload-rate`,
 * `--download-rate`). Tokens refill continuously; a caller that asks for more than is available waits for exactly
 * the deficit, and waiters are served in order so one large request cannot starve the rest.
 */
export class TokenBucket {
  readonly bytesPerSecond: number;
  readonly #burst: number;
  #tokens: number;
  #updatedAt: number;
  /** The time (ms, performance clock) until which tokens are already promised to earlier callers. */
  #queueTail = 0;

  /** `bytesPerSecond` 0 or Infinity means unlimited. `burstBytes` defaults to 1/10 s of rate, at least 64 KiB. */
  constructor(bytesPerSecond: number, burstBytes?: number) {
    this.bytesPerSecond = bytesPerSecond > 0 ? bytesPerSecond : Infinity;
    this.#burst = burstBytes ?? Math.max(64 * 1024, Math.floor(this.bytesPerSecond / 10));
    this.#tokens = this.#burst;
    this.#updatedAt = performance.now();
  }

  get unlimited(): boolean {
    return this.bytesPerSecond === Infinity;
  }

  /** Resolves when `bytes` may be sent; rejects if the signal aborts first. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const waitMs = this.reserve(bytes);
    if (waitMs <= 0) return;
    await sleep(waitMs, signal);
  }

  /** Takes `bytes` now (going into debt if needed) and returns how long the caller must wait before sending. */
  reserve(bytes: number): number {
    if (this.unlimited) return 0;
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#updatedAt) / 1000) * this.bytesPerSecond);
    this.#updatedAt = now;
    this.#tokens -= bytes;
    if (this.#tokens >= 0) return 0;
    const readyAt = Math.max(now + (-this.#tokens / this.bytesPerSecond) * 1000, this.#queueTail);
    this.#queueTail = readyAt;
    return readyAt - now;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
