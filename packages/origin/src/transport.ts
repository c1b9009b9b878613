/** One request of an exchange (a redirect or an auth retry is another), as the client's logic hands it over. */
export interface Hop {
  url: URL;
  method: 'GET' | 'HEAD';
  headers: Record<string, string | string[]>;
  /** Extra CA the registry is configured with; also trusted for its redirect targets. */
  caPem?: string;
  signal?: AbortSignal;
}

/** The answer to a hop, its body still unread. */
export interface HopResponse<Body> {
  status: number;
  /** Lower-case names, single values. */
  headers: Record<string, string>;
  body: Body;
}

/**
 * What carries an exchange's bytes. The client's auth and redirect logic is the same whatever the body type: a
 * node stream (any request) or a pooled blob body (blob GETs).
 */
export interface Transport<Body> {
  /** Throws OriginError when the origin cannot be reached or does not answer in time (or the signal's reason). */
  send(hop: Hop): Promise<HopResponse<Body>>;
  /** Reads a small body whole; undefined when it is longer than `limit` or fails (it is then dropped). */
  readSmall(body: Body, limit: number): Promise<Buffer | undefined>;
  /** Drops a body nobody reads (a redirect's). */
  discard(body: Body): Promise<void>;
  /** A body that yields `bytes` and ends. */
  bodyOf(bytes: Buffer): Body;
  /** The body as handed to the caller: its failures are OriginErrors (or the signal's reason). */
  relay(body: Body, what: string, signal?: AbortSignal): Body;
}
