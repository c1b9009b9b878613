import { sendHttp1 } from './http1-client.ts';
import { Http1ConnectionPool } from './http1-connection.ts';
import { QueuedBody, type BlobBody } from './pooled-body.ts';
import type { Hop, HopResponse, Transport } from './transport.ts';

/** Longer redirect bodies are not worth reading to keep the connection; it is closed instead. */
const MAX_DISCARDED_BODY_BYTES = 64 * 1024;

export interface Http1TransportOptions {
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
}

/** HTTP/1.1 read into pooled memory, connections kept between requests: blob GETs, where every copy shows. */
export class Http1Transport implements Transport<BlobBody> {
  readonly #options: Http1TransportOptions;
  readonly #connections = new Http1ConnectionPool();

  constructor(options: Http1TransportOptions) {
    this.#options = options;
  }

  send(hop: Hop): Promise<HopResponse<BlobBody>> {
    return sendHttp1({ ...hop, ...this.#options }, this.#connections);
  }

  /** Closes the kept connections (those in use close when their exchange ends). */
  close(): void {
    this.#connections.close();
  }

  async readSmall(body: BlobBody, limit: number): Promise<Buffer | undefined> {
    const parts: Buffer[] = [];
    let size = 0;
    try {
      for (let held = await body.read(); held; held = await body.read()) {
        size += held.bytes.byteLength;
        if (size <= limit) parts.push(Buffer.from(held.bytes));
        held.release();
        if (size > limit) {
          body.destroy();
          return undefined;
        }
      }
    } catch {
      return undefined;
    }
    return Buffer.concat(parts);
  }

  async discard(body: BlobBody): Promise<void> {
    // Reading a small body to its end keeps the connection for the next request; a longer one is dropped with it.
    await this.readSmall(body, MAX_DISCARDED_BODY_BYTES);
  }

  bodyOf(bytes: Buffer): BlobBody {
    const body = new QueuedBody();
    if (bytes.byteLength > 0) body.push(bytes);
    body.end();
    return body;
  }

  relay(body: BlobBody): BlobBody {
    // sendHttp1 already fails bodies with OriginErrors (or the signal's reason).
    return body;
  }
}
