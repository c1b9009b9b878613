import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface';
import { closedError, FrameTooLargeError, StreamClosedError, UnexpectedEndOfStreamError } from './errors.ts';

export interface StreamReaderOptions {
  /** Pause the stream once this many received bytes wait to be consumed; resume below half. Default 4 MiB. */
  highWaterMark?: number;
}

export const DEFAULT_HIGH_WATER_MARK = 4 * 1024 * 1024;
const FRAME_HEADER_LENGTH = 4;

/**
 * Reads a stream with receiver backpressure. Yamux grants window as data arrives, not as it is consumed, so
 * without pause() a slow consumer lets a whole blob pile up in memory. Unconsumed data stays below
 * highWaterMark + about two yamux windows (what was in flight when we paused, and one window granted by resume).
 * Reads are sequential: one read at a time per reader.
 */
export class StreamReader {
  readonly #stream: Stream;
  readonly #highWaterMark: number;
  readonly #lowWaterMark: number;
  readonly #chunks: Uint8Array[] = [];
  #buffered = 0;
  #peakBuffered = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  /** True while stream.resume() re-dispatches its buffer: a pause() issued then would be undone by resume. */
  #resuming = false;

  constructor(stream: Stream, opts: StreamReaderOptions = {}) {
    this.#stream = stream;
    this.#highWaterMark = Math.max(1, opts.highWaterMark ?? DEFAULT_HIGH_WATER_MARK);
    this.#lowWaterMark = Math.floor(this.#highWaterMark / 2);
    stream.addEventListener('message', this.#onMessage);
    stream.addEventListener('end', this.#onEnd);
    stream.addEventListener('close', this.#onClose);
    // Events that already fired will not fire again.
    if (stream.status === 'reset' || stream.status === 'aborted') this.#error = new StreamClosedError(`stream ${stream.status}`);
    else if (stream.readableEnded) this.#ended = true;
  }

  /** Bytes received but not yet consumed, including what the stream holds while paused. */
  get bufferedBytes(): number {
    return this.#buffered + this.#stream.readBufferLength;
  }

  /** The largest bufferedBytes seen so far (for tests and metrics). */
  get peakBufferedBytes(): number {
    return this.#peakBuffered;
  }

  /** Exactly n bytes as one buffer; throws UnexpectedEndOfStreamError if the stream ends first. */
  async read(n: number): Promise<Uint8Array> {
    const head = this.#chunks[0];
    if (head !== undefined && head.byteLength >= n) return this.#take(n);
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (!(await this.#waitForData())) throw new UnexpectedEndOfStreamError(n, filled);
      const chunk = this.#take(n - filled);
      out.set(chunk, filled);
      filled += chunk.byteLength;
    }
    return out;
  }

  /**
   * One `uint32 BE length + payload` frame, or undefined on a clean end of stream between frames.
   * A length above maxLength throws FrameTooLargeError before any of the payload is read.
   */
  async readFrame(maxLength: number): Promise<Uint8Array | undefined> {
    if (this.#buffered === 0 && !(await this.#waitForData())) return undefined;
    const header = await this.read(FRAME_HEADER_LENGTH);
    const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_LENGTH).getUint32(0, false);
    if (length > maxLength) throw new FrameTooLargeError(length, maxLength);
    return length === 0 ? new Uint8Array(0) : this.read(length);
  }

  /** Streams n raw bytes to onChunk as they arrive, without joining them; waits for each onChunk before the next. */
  async readBody(n: number, onChunk: (chunk: Uint8Array) => void | Promise<void>): Promise<void> {
    let remaining = n;
    while (remaining > 0) {
      if (!(await this.#waitForData())) throw new UnexpectedEndOfStreamError(n, n - remaining);
      const chunk = this.#take(remaining);
      remaining -= chunk.byteLength;
      await onChunk(chunk);
    }
  }

  /** Stops listening to the stream (the stream itself is left as it is). */
  release(): void {
    this.#stream.removeEventListener('message', this.#onMessage);
    this.#stream.removeEventListener('end', this.#onEnd);
    this.#stream.removeEventListener('close', this.#onClose);
  }

  readonly #onMessage = (evt: StreamMessageEvent): void => {
    const data = evt.data;
    if (data instanceof Uint8Array) this.#append(data);
    else for (const chunk of data) this.#append(chunk);
    const buffered = this.bufferedBytes;
    if (buffered > this.#peakBuffered) this.#peakBuffered = buffered;
    if (!this.#resuming && this.#buffered >= this.#highWaterMark) this.#pause();
    this.#notify();
  };

  readonly #onEnd = (): void => {
    // 'end' also fires just before a reset or abort's 'close'; only a graceful end is a clean EOF.
    const status = this.#stream.status;
    if (status === 'reset' || status === 'aborted') this.#error ??= new StreamClosedError(`stream ${status}`);
    else this.#ended = true;
    this.#notify();
  };

  readonly #onClose = (evt: StreamCloseEvent): void => {
    if (evt.error !== undefined) this.#error ??= closedError(evt);
    this.#notify();
  };

  #append(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
  }

  /** Up to max bytes from the head chunk (a view, no copy); resumes the stream once the buffer ran low. */
  #take(max: number): Uint8Array {
    const head = this.#chunks[0];
    if (head === undefined) throw new Error('StreamReader: take from an empty buffer');
    let chunk: Uint8Array;
    if (head.byteLength <= max) {
      this.#chunks.shift();
      chunk = head;
    } else {
      chunk = head.subarray(0, max);
      this.#chunks[0] = head.subarray(max);
    }
    this.#buffered -= chunk.byteLength;
    if (this.#stream.readStatus === 'paused' && this.#buffered <= this.#lowWaterMark) this.#resume();
    return chunk;
  }

  /** True when data is buffered, false on a clean end; throws if the stream was reset or aborted. */
  async #waitForData(): Promise<boolean> {
    while (this.#buffered === 0) {
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return false;
      if (this.#wake !== undefined) throw new Error('StreamReader: concurrent reads are not supported');
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    return true;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #pause(): void {
    if (this.#stream.readStatus === 'readable') this.#stream.pause();
  }

  #resume(): void {
    this.#resuming = true;
    try {
      this.#stream.resume();
    } finally {
      this.#resuming = false;
    }
    // resume() dispatched what the stream held before re-opening the window; pause again only now.
    if (this.#buffered >= this.#highWaterMark) this.#pause();
  }
}
