import { adjacent, holdBytes, type HeldBytes } from './receive-buffers.ts';

/**
 * A response body read into pooled memory (see receive-buffers.ts). Each run of bytes is handed over held: the
 * caller releases it once done with it (written, hashed, sent), and the memory goes back to the pool.
 */
export interface BlobBody {
  /** The next bytes, held for the caller; undefined once the body is complete. Rejects when the transfer failed. */
  read(): Promise<HeldBytes | undefined>;
  /** Stops the transfer and closes the connection; reads then reject with `reason` (the body is cut short). */
  destroy(reason?: unknown): void;
}

/** Read-ahead unless told otherwise: past this many unread bytes the connection stops reading. */
export const DEFAULT_READ_AHEAD_BYTES = 4 << 20;

/** What the connection does when the reader catches up (after push() said stop) or gives up. */
export interface BodyFlow {
  resume(): void;
  destroy(reason: unknown): void;
}

/** The connection's side of a BlobBody: received payload goes in, the reader takes it out. */
export class QueuedBody implements BlobBody {
  /** Past this many unread bytes the connection stops reading; it reads again below half of it. */
  readonly #readAheadBytes: number;
  readonly #queue: HeldBytes[] = [];
  #unread = 0;
  #paused = false;
  #ended = false;
  #failure: { reason: unknown } | undefined;
  #waiter: { resolve: (bytes: HeldBytes | undefined) => void; reject: (reason: unknown) => void } | undefined;
  #flow: BodyFlow | undefined;

  constructor(readAheadBytes = DEFAULT_READ_AHEAD_BYTES) {
    this.#readAheadBytes = readAheadBytes;
  }

  /** Connects the body to its connection (once the head has been read). */
  attach(flow: BodyFlow): void {
    this.#flow = flow;
  }

  /**
   * Adds payload bytes (still held by the caller for the duration of the call). Bytes that continue the last unread
   * run in memory extend it, so the reader gets the largest runs the reads allow. Returns false when the connection
   * should stop reading until the reader catches up.
   */
  push(payload: Buffer): boolean {
    if (this.#ended || this.#failure) return true;
    const last = this.#queue.at(-1);
    if (last && adjacent(last.bytes, payload)) {
      last.bytes = Buffer.from(last.bytes.buffer, last.bytes.byteOffset, last.bytes.byteLength + payload.byteLength);
    } else {
      this.#queue.push({ bytes: payload, release: holdBytes(payload) });
    }
    this.#unread += payload.byteLength;
    this.#deliver();
    if (this.#unread >= this.#readAheadBytes) this.#paused = true;
    return !this.#paused;
  }

  /** Every byte of the body has been pushed. */
  end(): void {
    this.#ended = true;
    this.#deliver();
  }

  /** The transfer failed or was given up: unread bytes are released and the reader gets `reason`. */
  fail(reason: unknown): void {
    if (this.#failure) return;
    this.#failure = { reason };
    for (const held of this.#queue.splice(0)) held.release();
    this.#unread = 0;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(reason);
  }

  read(): Promise<HeldBytes | undefined> {
    if (this.#waiter) return Promise.reject(new Error('BlobBody.read() called while a read is pending'));
    const next = this.#take();
    if (next !== null) return next instanceof Promise ? next : Promise.resolve(next);
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  destroy(reason?: unknown): void {
    const why = reason ?? new Error('body destroyed by its reader');
    this.fail(why);
    this.#flow?.destroy(why);
  }

  /** The next held bytes, undefined at the end, a rejection on failure, or null when nothing is there yet. */
  #take(): HeldBytes | undefined | Promise<never> | null {
    if (this.#failure) return Promise.reject(this.#failure.reason);
    const held = this.#queue.shift();
    if (!held) return this.#ended ? undefined : null;
    this.#unread -= held.bytes.byteLength;
    if (this.#paused && this.#unread <= this.#readAheadBytes / 2) {
      this.#paused = false;
      this.#flow?.resume();
    }
    return held;
  }

  #deliver(): void {
    if (!this.#waiter) return;
    const next = this.#take();
    if (next === null || next instanceof Promise) return;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter.resolve(next);
  }
}
