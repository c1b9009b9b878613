import type { Readable } from 'node:stream';
import {
  OriginClient,
  type BlobBody,
  type OriginBlobRequest,
  type OriginClientOptions,
  type OriginRequest,
  type OriginResponse,
} from '@flotilla/origin';
import { throttleStream, type TokenBucket } from '@flotilla/ratelimit';

/**
 * An OriginClient whose response bodies draw on the daemon's --download-rate bucket, the one piece downloads use:
 * the limit is on what the node receives, whichever way it comes. Backpressure reaches the origin's socket.
 */
export class RateLimitedOriginClient extends OriginClient {
  readonly #bucket: TokenBucket;

  constructor(options: OriginClientOptions, bucket: TokenBucket) {
    super(options);
    this.#bucket = bucket;
  }

  override async request(req: OriginRequest): Promise<OriginResponse> {
    const response = await super.request(req);
    if (this.#bucket.unlimited) return response;
    return { ...response, body: throttled(response.body, this.#bucket) };
  }

  override async requestBlob(req: OriginBlobRequest): Promise<OriginResponse<BlobBody>> {
    const response = await super.requestBlob(req);
    if (this.#bucket.unlimited) return response;
    return { ...response, body: throttledBlob(response.body, this.#bucket) };
  }
}

/**
 * A pooled blob body whose reads are paid for in the bucket before they are handed on; while the reader waits, the
 * body's read-ahead fills and the connection stops reading, so the origin's socket feels the limit too.
 */
function throttledBlob(body: BlobBody, bucket: TokenBucket): BlobBody {
  return {
    async read() {
      const held = await body.read();
      if (held === undefined) return undefined;
      await bucket.take(held.bytes.byteLength);
      return held;
    },
    destroy: (reason) => body.destroy(reason),
  };
}

/** The body through the bucket; errors flow to the reader, and a reader that gives up releases the upstream. */
function throttled(body: Readable, bucket: TokenBucket): Readable {
  const out = throttleStream(bucket);
  body.on('error', (err) => out.destroy(err));
  out.on('close', () => body.destroy());
  body.pipe(out);
  return out;
}
