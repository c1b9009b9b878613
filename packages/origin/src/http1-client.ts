import { isIP, connect as connectTcp, type OnReadOpts, type Socket } from 'node:net';
import { connect as connectTls, rootCertificates, type ConnectionOptions } from 'node:tls';
import { OriginError, OriginTimeoutError, toOriginError } from './errors.ts';
import { BodyDecoder, framingOf } from './http1-body.ts';
import { HeadReader, type ResponseHead } from './http1-head.ts';
import { QueuedBody, type BlobBody } from './pooled-body.ts';
import { ReceiveBuffer } from './receive-buffers.ts';

/** One request on a connection of its own (closed after the response): the blob-body transport. */
export interface Http1Request {
  url: URL;
  method: 'GET' | 'HEAD';
  /** Sent as given (array values as separate lines); Host and Connection are added. */
  headers: Record<string, string | string[]>;
  /** Trusted in addition to the system roots (https only). */
  caPem?: string;
  connectTimeoutMs: number;
  /** From connected until the response head is complete. */
  firstByteTimeoutMs: number;
  /** Longest silence while the body is being read (not counted while the reader holds the connection back). */
  idleTimeoutMs: number;
  signal?: AbortSignal;
}

export interface Http1Response extends ResponseHead {
  body: BlobBody;
}

/**
 * Sends one HTTP/1.1 request over plain TCP or TLS and resolves with the response head. The socket reads straight
 * into pooled slabs (no buffer per read, no stream machinery), and body bytes reach the reader as views of them.
 * Rejects (and the body fails) with OriginError: `timeout` past a deadline, `unreachable` when the connection fails,
 * `protocol` for a response that is not HTTP/1.1 as expected; an abort through the signal gives the signal's reason.
 */
export function sendHttp1(request: Http1Request): Promise<Http1Response> {
  return new Promise((resolve, reject) => new Http1Exchange(request, resolve, reject));
}

type Stage = 'connect' | 'head' | 'body' | 'done';

class Http1Exchange {
  readonly #request: Http1Request;
  readonly #resolve: (response: Http1Response) => void;
  readonly #reject: (reason: unknown) => void;
  readonly #socket: Socket;
  readonly #requestHead: string;
  readonly #receive = new ReceiveBuffer();
  readonly #body = new QueuedBody();
  #head = new HeadReader();
  #decoder: BodyDecoder | undefined;
  #stage: Stage = 'connect';
  readonly #onAbort = () => this.#fail(this.#request.signal!.reason);

  constructor(request: Http1Request, resolve: (response: Http1Response) => void, reject: (reason: unknown) => void) {
    this.#request = request;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#requestHead = requestHead(request);
    const { url } = request;
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const https = url.protocol === 'https:';
    const port = Number(url.port) || (https ? 443 : 80);
    const onread = { buffer: () => this.#receive.target(), callback: (length: number) => this.#onRead(length) };
    // TLS sockets honour `onread` like TCP ones (the decrypted bytes land in our slabs); @types/node omits it.
    const tlsOptions: ConnectionOptions & { onread: OnReadOpts } = {
      host,
      port,
      onread,
      ...(isIP(host) ? {} : { servername: host }),
      ...(request.caPem ? { ca: [...rootCertificates, request.caPem] } : {}),
      ALPNProtocols: ['http/1.1'],
    };
    this.#socket = https ? connectTls(tlsOptions) : connectTcp({ host, port, onread });
    this.#socket.setTimeout(request.connectTimeoutMs);
    this.#socket.once(https ? 'secureConnect' : 'connect', () => this.#connected());
    this.#socket.on('timeout', () => this.#timedOut());
    this.#socket.on('end', () => this.#ended());
    this.#socket.on('error', (err) => this.#fail(toOriginError(err, this.#what(), request.signal)));
    this.#socket.on('close', () => {
      this.#receive.close();
      this.#fail(new OriginError('unreachable', `${this.#what()}: connection closed`));
    });
    if (request.signal?.aborted) this.#onAbort();
    else request.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  #connected(): void {
    if (this.#stage !== 'connect') return;
    this.#stage = 'head';
    this.#socket.setTimeout(this.#request.firstByteTimeoutMs);
    this.#socket.write(this.#requestHead);
  }

  /** Returns false to stop reading until the body's reader catches up. */
  #onRead(length: number): boolean {
    const read = this.#receive.took(length);
    try {
      return this.#stage === 'done' ? false : this.#received(read.bytes);
    } catch (err) {
      this.#fail(err);
      return false;
    } finally {
      read.release();
    }
  }

  #received(bytes: Buffer): boolean {
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
      this.#startBody(parsed.head);
    }
    let keepReading = true;
    this.#decoder!.push(rest, (payload) => {
      keepReading = this.#body.push(payload) && keepReading;
    });
    if (this.#decoder!.complete) {
      this.#finish();
      return false;
    }
    if (!keepReading) this.#socket.setTimeout(0);
    return keepReading;
  }

  #startBody(head: ResponseHead): void {
    this.#decoder = new BodyDecoder(framingOf(this.#request.method, head));
    this.#stage = 'body';
    this.#socket.setTimeout(this.#request.idleTimeoutMs);
    this.#body.attach({
      resume: () => {
        if (this.#stage !== 'body') return;
        this.#socket.setTimeout(this.#request.idleTimeoutMs);
        this.#socket.resume();
      },
      destroy: (reason) => this.#fail(reason),
    });
    this.#resolve({ ...head, body: this.#body });
    if (this.#decoder.complete) this.#finish();
  }

  #ended(): void {
    if (this.#stage === 'body') {
      try {
        this.#decoder!.end();
        this.#finish();
      } catch (err) {
        this.#fail(err);
      }
    } else {
      this.#fail(new OriginError('unreachable', `${this.#what()}: connection closed before the response`));
    }
  }

  #timedOut(): void {
    const waitingFor = { connect: 'no connection', head: 'no response', body: 'no body bytes', done: '' }[this.#stage];
    const ms = { connect: this.#request.connectTimeoutMs, head: this.#request.firstByteTimeoutMs, body: this.#request.idleTimeoutMs, done: 0 }[this.#stage];
    this.#fail(new OriginTimeoutError(`${this.#what()}: ${waitingFor} within ${ms} ms`));
  }

  /** The body is complete: the connection is not reused (Connection: close). */
  #finish(): void {
    if (this.#stage === 'done') return;
    this.#stage = 'done';
    this.#request.signal?.removeEventListener('abort', this.#onAbort);
    this.#body.end();
    this.#socket.destroy();
  }

  #fail(reason: unknown): void {
    if (this.#stage === 'done') return;
    const headPending = this.#stage !== 'body';
    this.#stage = 'done';
    this.#request.signal?.removeEventListener('abort', this.#onAbort);
    this.#socket.destroy();
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
  lines.push('connection: close', '', '');
  return lines.join('\r\n');
}
