import { rootCertificates } from 'node:tls';
import { Pool } from 'undici';

/** Parallel blob fetches to one origin should not queue behind each other; undici's Pool would otherwise be unbounded. */
const CONNECTIONS_PER_ORIGIN = 128;
const KEEP_ALIVE_MS = 30_000;

/**
 * Keep-alive connection pools, one per (scheme+host+port, extra CA). Redirect targets such as object storage get their
 * own pools, so a registry's CA never widens trust for anything but requests that registry made.
 */
export class Dispatchers {
  readonly #pools = new Map<string, Pool>();
  readonly #connectTimeoutMs: number;

  constructor(connectTimeoutMs: number) {
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  /** The pool for `origin` ("https://host:port"); `caPem` is trusted in addition to the system roots. */
  for(origin: string, caPem?: string): Pool {
    const key = `${origin}\n${caPem ?? ''}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        connections: CONNECTIONS_PER_ORIGIN,
        keepAliveTimeout: KEEP_ALIVE_MS,
        connect: { timeout: this.#connectTimeoutMs, ...(caPem ? { ca: [...rootCertificates, caPem] } : {}) },
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** Destroys every pool (in-flight requests fail; the client is shutting down). */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy()));
  }
}
