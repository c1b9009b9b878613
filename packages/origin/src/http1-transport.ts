import { sendHttp1 } from './http1-client.ts';
import { Http1ConnectionPool } from './http1-connection.ts';
import { DEFAULT_READ_AHEAD_BYTES, QueuedBody, type BlobBody } from './pooled-body.ts';
import { DEFAULT_POOLED_SLABS, SlabPool } from './receive-buffers.ts';
import type { Hop, HopResponse, Transport } from './transport.ts';

/** How blob GETs keep connections and memory; a component's config sets these (the daemon's flags). */
export interface BlobTransportTuning {
  /** How long an unused connection is kept for the next blob GET to the same origin. */
  keepAliveMs: number;
  /** Unused connections kept per origin; more are closed. */
  idleConnectionsPerOrigin: number;
  /** Body bytes read ahead of the reader before a connection stops reading (it reads again below half). */
  readAheadBytes: number;
  /** Free 1 MiB receive slabs kept for reuse: memory held while idle, saved page faults while busy. */
  pooledSlabs: number;
}

export const DEFAULT_BLOB_TRANSPORT: Readonly<BlobTransportTuning> = {
  keepAliveMs: 30_000,
  idleConnectionsPerOrigin: 8,
  readAheadBytes: DEFAULT_READ_AHEAD_BYTES,
  pooledSlabs: DEFAULT_POOLED_SLABS,
};

/** Longer redirect bodies are not worth reading to keep the connection; it is closed instead. */
const MAX_DISCARDED_BODY_BYTES = 64 * 1024;

export interface Http1TransportOptions {
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  tuning: BlobTransportTuning;
}

/** HTTP/1.1 read into pooled memory, connections kept between requests: blob GETs, where every copy shows. */
export class Http1Transport implements Transport<BlobBody> {
  readonly #deadlines: Pick<Http1TransportOptions, 'connectTimeoutMs' | 'firstByteTimeoutMs' | 'idleTimeoutMs'>;
  readonly #readAheadBytes: number;
  readonly #slabs: SlabPool;
  readonly #connections: Http1ConnectionPool;

  constructor({ tuning, ...deadlines }: Http1TransportOptions) {
    this.#deadlines = deadlines;
    this.#readAheadBytes = tuning.readAheadBytes;
    this.#slabs = new SlabPool(tuning.pooledSlabs);
    this.#connections = new Http1ConnectionPool(tuning);
  }

  send(hop: Hop): Promise<HopResponse<BlobBody>> {
    return sendHttp1({ ...hop, ...this.#deadlines, readAheadBytes: this.#readAheadBytes, slabs: this.#slabs }, this.#connections);
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
