import { OriginError } from './errors.ts';
import type { ResponseHead } from './http1-head.ts';

/** How an HTTP/1.1 response body is delimited (RFC 9112 §6.3). */
export type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

/** The framing of a response to `method` with this head; throws OriginError('protocol') on a contradictory one. */
export function framingOf(method: string, head: ResponseHead): Framing {
  if (method === 'HEAD' || head.status === 204 || head.status === 304 || head.status < 200) return { kind: 'none' };
  const codings = head.headers['transfer-encoding'];
  if (codings !== undefined) {
    if (codings.split(',').at(-1)!.trim().toLowerCase() === 'chunked') return { kind: 'chunked' };
    return { kind: 'close' };
  }
  const length = head.headers['content-length'];
  if (length === undefined) return { kind: 'close' };
  const values = new Set(length.split(',').map((v) => v.trim()));
  const [only] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(only!)) throw new OriginError('protocol', `invalid Content-Length ${JSON.stringify(length)}`);
  return Number(only) === 0 ? { kind: 'none' } : { kind: 'length', length: Number(only) };
}

/** Chunk-size and trailer lines longer than this are refused. */
const MAX_LINE_BYTES = 4096;
const LF = 0x0a;

type ChunkedState = 'size' | 'data' | 'data-end' | 'trailer';

/**
 * Finds the body bytes in what a connection receives after the head, without copying them: the payload comes out as
 * views of the received buffers (chunked framing removed).
 */
export class BodyDecoder {
  readonly #framing: Framing;
  #received = 0;
  #complete: boolean;
  // Chunked state.
  #state: ChunkedState = 'size';
  #line = '';
  #chunkLeft = 0;

  constructor(framing: Framing) {
    this.#framing = framing;
    this.#complete = framing.kind === 'none';
  }

  get complete(): boolean {
    return this.#complete;
  }

  /**
   * Feeds bytes received after the head; `onData` gets every payload view in order. Returns how many bytes belong
   * to the body (fewer than given once it is complete: what follows is not this response's).
   * Throws OriginError('protocol') on broken chunked framing.
   */
  push(bytes: Buffer, onData: (payload: Buffer) => void): number {
    if (this.#complete) return 0;
    switch (this.#framing.kind) {
      case 'length': {
        const take = Math.min(bytes.length, this.#framing.length - this.#received);
        this.#emit(bytes.subarray(0, take), onData);
        if (this.#received === this.#framing.length) this.#complete = true;
        return take;
      }
      case 'close':
        this.#emit(bytes, onData);
        return bytes.length;
      case 'chunked':
        return this.#pushChunked(bytes, onData);
      case 'none':
        return 0;
    }
  }

  /** Whether the body's end is known without the connection closing (so the connection can be reused). */
  get selfDelimited(): boolean {
    return this.#framing.kind !== 'close';
  }

  /** The connection ended: fine for a close-delimited body, else the body is cut short. */
  end(): void {
    if (this.#framing.kind === 'close') this.#complete = true;
    if (!this.#complete) {
      const of = this.#framing.kind === 'length' ? ` of ${this.#framing.length}` : '';
      throw new OriginError('protocol', `upstream closed the connection after ${this.#received}${of} body bytes`);
    }
  }

  #emit(payload: Buffer, onData: (payload: Buffer) => void): void {
    if (payload.length === 0) return;
    this.#received += payload.length;
    onData(payload);
  }

  #pushChunked(bytes: Buffer, onData: (payload: Buffer) => void): number {
    let at = 0;
    while (at < bytes.length && !this.#complete) {
      if (this.#state === 'data') {
        const take = Math.min(bytes.length - at, this.#chunkLeft);
        this.#emit(bytes.subarray(at, at + take), onData);
        at += take;
        this.#chunkLeft -= take;
        if (this.#chunkLeft === 0) this.#state = 'data-end';
        continue;
      }
      // Line-oriented states: chunk-size line, the CRLF after data, trailer lines.
      const lf = bytes.indexOf(LF, at);
      const end = lf < 0 ? bytes.length : lf;
      this.#line += bytes.toString('latin1', at, end);
      if (this.#line.length > MAX_LINE_BYTES) throw new OriginError('protocol', 'chunked framing line too long');
      at = lf < 0 ? bytes.length : lf + 1;
      if (lf < 0) continue;
      const line = this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line;
      this.#line = '';
      this.#endLine(line);
    }
    return at;
  }

  #endLine(line: string): void {
    switch (this.#state) {
      case 'size': {
        const size = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
        if (!size) throw new OriginError('protocol', `malformed chunk size ${JSON.stringify(line.slice(0, 40))}`);
        this.#chunkLeft = parseInt(size[1]!, 16);
        this.#state = this.#chunkLeft === 0 ? 'trailer' : 'data';
        return;
      }
      case 'data-end':
        if (line !== '') throw new OriginError('protocol', 'chunk data longer than its size');
        this.#state = 'size';
        return;
      case 'trailer':
        if (line === '') this.#complete = true;
        return;
      case 'data':
        return;
    }
  }
}
