import { OriginError, OriginTimeoutError, toOriginError } from './errors.ts';
import { BodyDecoder, framingOf } from './http1-body.ts';
import { Http1Connection, type ConnectionUser, type Http1ConnectionPool } from './http1-connection.ts';
import { HeadReader, type ResponseHead } from './http1-head.ts';
import { QueuedBody, type BlobBody } from './pooled-body.ts';
import type { SlabPool } from './receive-buffers.ts';

/** One request of the blob-body transport. */
export interface Http1Request {
  url: URL;
  method: 'GET' | 'HEAD';
  /** Sent as given (array values as separate lines); Host is added. */
  headers: Record<string, string | string[]>;
  /** Trusted in addition to the system roots (https only). */
  caPem?: string;
  connectTimeoutMs: number;
  /** From the request sent until the response head is complete. */
  firstByteTimeoutMs: number;
  /** Longest silence while the body is being read (not counted while the reader holds the connection back). */
  idleTimeoutMs: number;
  /** Unread body bytes past which the connection stops reading until the reader catches up. */
  readAheadBytes: number;
  /** Where a new connection takes the memory it reads into. */
  slabs: SlabPool;
  signal?: AbortSignal;
}

export interface Http1Response extends ResponseHead {
  body: BlobBody;
}

/**
 * Sends one HTTP/1.1 request over plain TCP or TLS and resolves with the response head. The socket reads straight
 * into pooled slabs (no buffer per read, no stream machinery), and body bytes reach the reader as views of them.
 * A connection whose response ended cleanly goes back to `pool` for the next request to that origin; a kept
 * connection that turns out closed before answering is replaced by a new one, once.
 * Rejects (and the body fails) with OriginError: `timeout` past a deadline, `unreachable` when the connection fails,
 * `protocol` for a response that is not HTTP/1.1 as expected; an abort through the signal gives the signal's reason.
 */
export async function sendHttp1(request: Http1Request, pool: Http1ConnectionPool): Promise<Http1Response> {
  const head = requestHead(request);
  const kept = pool.take(request.url, request.caPem);
  if (kept) {
    try {
      return await exchange(kept, request, head, pool);
    } catch (err) {
      if (!(err instanceof StaleConnectionError)) throw err;
    }
  }
  return exchange(new Http1Connection(request.url, request.caPem, request.connectTimeoutMs, request.slabs), request, head, pool);
}

function exchange(connection: Http1Connection, request: Http1Request, head: string, pool: Http1ConnectionPool): Promise<Http1Response> {
  return new Promise((resolve, reject) => new Http1Exchange(connection, request, head, pool, resolve, reject));
}

/** A kept connection failed before any byte of the answer: the server had closed it; worth one more try. */
class StaleConnectionError extends Error {}

type Stage = 'connect' | 'head' | 'body' | 'done';

class Http1Exchange implements ConnectionUser {
  readonly #connection: Http1Connection;
  readonly #request: Http1Request;
  readonly #requestHead: string;
  readonly #pool: Http1ConnectionPool;
  readonly #resolve: (response: Http1Response) => void;
  readonly #reject: (reason: unknown) => void;
  readonly #body: QueuedBody;
  #head = new HeadReader();
  #decoder: BodyDecoder | undefined;
  /** The response allows another request on this connection. */
  #persistent = false;
  #answered = false;
  #stage: Stage;
  readonly #onAbort = () => this.#fail(this.#request.signal!.reason);

  constructor(
    connection: Http1Connection,
    request: Http1Request,
    requestHead: string,
    pool: Http1ConnectionPool,
    resolve: (response: Http1Response) => void,
    reject: (reason: unknown) => void,
  ) {
    this.#connection = connection;
    this.#request = request;
    this.#requestHead = requestHead;
    this.#pool = pool;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#body = new QueuedBody(request.readAheadBytes);
    this.#stage = 'connect';
    connection.use(this);
    if (connection.reused) this.connected();
    if (request.signal?.aborted) this.#onAbort();
    else request.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  connected(): void {
    if (this.#stage !== 'connect') return;
    this.#stage = 'head';
    this.#connection.setTimeout(this.#request.firstByteTimeoutMs);
    this.#connection.write(this.#requestHead);
  }

  /** Returns false to stop reading until the body's reader catches up. */
  received(bytes: Buffer): boolean {
    if (this.#stage === 'done') return false;
    this.#answered = true;
    try {
      return this.#receivedNow(bytes);
    } catch (err) {
      this.#fail(err);
      return false;
    }
  }

  #receivedNow(bytes: Buffer): boolean {
    let rest = bytes;
    while (this.#stage === 'head') {
      const parsed = this.#head.push(rest);
      if (!parsed) return true;
      rest = rest.subarray(parsed.used);
      // An interim answer (100 Continue, 103 Early Hints) is followed by the real one.
      if (parsed.head.status < 200) {
        this.#head = new HeadReader();
        continue;
      }
      this.#persistent = parsed.persistent;
      this.#startBody(parsed.head);
    }
    let keepReading = true;
    const used = this.#decoder!.push(rest, (payload) => {
      keepReading = this.#body.push(payload) && keepReading;
    });
    if (this.#decoder!.complete) {
      // Bytes after the body would be an answer to nothing: such a connection is not kept.
      if (used < rest.length) this.#persistent = false;
      return this.#finish();
    }
    if (!keepReading) this.#connection.setTimeout(0);
    return keepReading;
  }

  #startBody(head: ResponseHead): void {
    this.#decoder = new BodyDecoder(framingOf(this.#request.method, head));
    this.#stage = 'body';
    this.#connection.setTimeout(this.#request.idleTimeoutMs);
    this.#body.attach({
      resume: () => {
        if (this.#stage !== 'body') return;
        this.#connection.setTimeout(this.#request.idleTimeoutMs);
        this.#connection.resume();
      },
      destroy: (reason) => this.#fail(reason),
    });
    this.#resolve({ status: head.status, headers: head.headers, body: this.#body });
  }

  ended(): void {
    if (this.#stage === 'body') {
      try {
        this.#decoder!.end();
        this.#persistent = false;
        this.#finish();
      } catch (err) {
        this.#fail(err);
      }
    } else {
      this.failed(new OriginError('unreachable', `${this.#what()}: connection closed before the response`));
    }
  }

  failed(err: unknown): void {
    if (this.#stage !== 'done' && this.#connection.reused && !this.#answered) {
      return this.#fail(new StaleConnectionError(`${this.#what()}: kept connection closed`));
    }
    this.#fail(toOriginError(err, this.#what(), this.#request.signal));
  }

  timedOut(): void {
    const waitingFor = { connect: 'no connection', head: 'no response', body: 'no body bytes', done: '' }[this.#stage];
    const ms = { connect: this.#request.connectTimeoutMs, head: this.#request.firstByteTimeoutMs, body: this.#request.idleTimeoutMs, done: 0 }[this.#stage];
    this.#fail(new OriginTimeoutError(`${this.#what()}: ${waitingFor} within ${ms} ms`));
  }

  /** The body is complete; returns whether the connection should go on reading (kept: to notice it closing). */
  #finish(): boolean {
    if (this.#stage === 'done') return false;
    this.#stage = 'done';
    this.#request.signal?.removeEventListener('abort', this.#onAbort);
    this.#body.end();
    const keep = this.#persistent && this.#decoder!.selfDelimited;
    if (keep) this.#pool.put(this.#connection);
    else this.#connection.destroy();
    return keep;
  }

  #fail(reason: unknown): void {
    if (this.#stage === 'done') return;
    const headPending = this.#stage !== 'body';
    this.#stage = 'done';
    this.#request.signal?.removeEventListener('abort', this.#onAbort);
    this.#connection.destroy();
    if (headPending) this.#reject(reason);
    else this.#body.fail(reason);
  }

  #what(): string {
    return `${this.#request.method} ${this.#request.url.origin}`;
  }
}

const UNSAFE_VALUE = /[\r\n\0]/;

function requestHead(request: Http1Request): string {
  const lines = [`${request.method} ${request.url.pathname}${request.url.search} HTTP/1.1`, `host: ${request.url.host}`];
  for (const [name, value] of Object.entries(request.headers)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (UNSAFE_VALUE.test(one)) throw new TypeError(`header ${name} contains a line break or NUL`);
      lines.push(`${name}: ${one}`);
    }
  }
  lines.push('', '');
  return lines.join('\r\n');
}
