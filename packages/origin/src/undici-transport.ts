import { PassThrough, type Readable } from 'node:stream';
import { request } from 'undici';
import type { Dispatchers } from './dispatchers.ts';
import { toOriginError } from './errors.ts';
import { flattenHeaders, readLimited, streamOf } from './http.ts';
import type { Hop, HopResponse, Transport } from './transport.ts';

/** Longer redirect bodies are not worth reading to keep the connection; the socket is closed instead. */
const MAX_REDIRECT_BODY_BYTES = 64 * 1024;

export interface UndiciTransportOptions {
  dispatchers: Dispatchers;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
}

/** undici over keep-alive pools: every request that is not a blob GET (manifests, HEADs, ranges). */
export class UndiciTransport implements Transport<Readable> {
  readonly #options: UndiciTransportOptions;

  constructor(options: UndiciTransportOptions) {
    this.#options = options;
  }

  async send(hop: Hop): Promise<HopResponse<Readable>> {
    try {
      const res = await request(hop.url, {
        dispatcher: this.#options.dispatchers.for(hop.url.origin, hop.caPem),
        method: hop.method,
        headers: hop.headers,
        headersTimeout: this.#options.firstByteTimeoutMs,
        bodyTimeout: this.#options.idleTimeoutMs,
        ...(hop.signal ? { signal: hop.signal } : {}),
      });
      return { status: res.statusCode, headers: flattenHeaders(res.headers), body: res.body };
    } catch (err) {
      throw toOriginError(err, `${hop.method} ${hop.url.origin}`, hop.signal);
    }
  }

  readSmall(body: Readable, limit: number): Promise<Buffer | undefined> {
    return readLimited(body, limit).catch(() => undefined);
  }

  async discard(body: Readable): Promise<void> {
    // Reading a small body to its end keeps the connection reusable (a longer one is destroyed, closing it); the
    // request's signal still aborts the read.
    await readLimited(body, MAX_REDIRECT_BODY_BYTES);
  }

  bodyOf(bytes: Buffer): Readable {
    return streamOf(bytes);
  }

  /**
   * Hands the upstream body to the caller as a plain node stream whose errors are OriginErrors; when the caller
   * destroys it (or it ends), the upstream request is released.
   */
  relay(upstream: Readable, what: string, signal?: AbortSignal): Readable {
    const relay = new PassThrough();
    upstream.on('error', (err) => relay.destroy(toOriginError(err, what, signal) as Error));
    relay.on('close', () => upstream.destroy());
    upstream.pipe(relay);
    return relay;
  }
}
