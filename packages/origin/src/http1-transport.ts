import { sendHttp1 } from './http1-client.ts';
import { QueuedBody, type BlobBody } from './pooled-body.ts';
import type { Hop, HopResponse, Transport } from './transport.ts';

export interface Http1TransportOptions {
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
}

/** A connection per request, read into pooled memory: blob GETs, where every copy and allocation shows. */
export class Http1Transport implements Transport<BlobBody> {
  readonly #options: Http1TransportOptions;

  constructor(options: Http1TransportOptions) {
    this.#options = options;
  }

  send(hop: Hop): Promise<HopResponse<BlobBody>> {
    return sendHttp1({ ...hop, ...this.#options });
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
    // The connection is not reused, so there is nothing to gain from reading the rest.
    body.destroy();
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
