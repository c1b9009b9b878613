import type { Logger } from '@flotilla/log';
import { parseDigest } from '@flotilla/oci';
import { contentKey, type ClusterDht } from '@flotilla/p2p';
import type { BlobRecord, ContentStore } from '@flotilla/store';

/** Provides running at once (each is a DHT query plus one message per closest peer). */
const CONCURRENCY = 4;
/** A provide that takes longer than this is abandoned and retried. */
const PROVIDE_TIMEOUT_MS = 10_000;
/** Retry of a failed provide (no DHT peer yet, query failed): doubles up to MAX_RETRY_MS. */
const MIN_RETRY_MS = 1_000;
const MAX_RETRY_MS = 60_000;
/** How often due records are looked for. */
const TICK_MS = 500;

export interface AnnouncerOptions {
  dht: ClusterDht;
  store: ContentStore;
  /** Each record is provided again after this long (give or take 10 %, so renewals spread out). */
  reprovideIntervalMs: number;
  logger: Logger;
}

type CID = ReturnType<typeof contentKey>;

interface Held {
  key: CID;
  nextAt: number;
  failures: number;
  providing: boolean;
}

/**
 * Keeps a DHT provider record for every blob and manifest held completely in the store: announced when it is
 * committed (and for what was there at startup), renewed every --reprovide-interval, withdrawn when it is
 * deleted. A provide waits until the DHT has a peer, so a daemon that comes up first announces once others join.
 */
export class ContentAnnouncer {
  readonly #o: AnnouncerOptions;
  readonly #held = new Map<string, Held>();
  readonly #stopped = new AbortController();
  #running = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AnnouncerOptions) {
    this.#o = options;
  }

  /** Digests currently announced (or waiting to be). */
  get digests(): string[] {
    return [...this.#held.keys()];
  }

  async start(): Promise<void> {
    const { store } = this.#o;
    store.events.on('committed', this.#onCommitted);
    store.events.on('deleted', this.#onDeleted);
    for await (const record of store.records()) this.#add(record.digest);
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#timer.unref();
    this.#tick();
  }

  stop(): void {
    this.#stopped.abort();
    clearInterval(this.#timer);
    this.#o.store.events.off('committed', this.#onCommitted);
    this.#o.store.events.off('deleted', this.#onDeleted);
  }

  readonly #onCommitted = (record: BlobRecord): void => {
    this.#add(record.digest);
    this.#tick();
  };

  readonly #onDeleted = (digest: string): void => {
    const held = this.#held.get(digest);
    if (!held) return;
    this.#held.delete(digest);
    // Peers may still hold our record for up to its validity: they find the blob gone and skip us.
    this.#o.dht.cancelReprovide(held.key).catch((err: unknown) => {
      this.#o.logger.debug({ digest, error: (err as Error).message }, 'withdrawing provider record failed');
    });
    this.#o.logger.debug({ digest }, 'provider record withdrawn');
  };

  #add(digest: string): void {
    if (this.#held.has(digest)) return;
    let key: CID;
    try {
      key = contentKey(parseDigest(digest));
    } catch {
      return; // not a digest the DHT can key
    }
    this.#held.set(digest, { key, nextAt: 0, failures: 0, providing: false });
  }

  #tick(): void {
    if (this.#stopped.signal.aborted || this.#o.dht.routingTable.size === 0) return;
    const now = Date.now();
    for (const [digest, held] of this.#held) {
      if (this.#running >= CONCURRENCY) return;
      if (held.providing || held.nextAt > now) continue;
      void this.#provide(digest, held);
    }
  }

  async #provide(digest: string, held: Held): Promise<void> {
    held.providing = true;
    this.#running++;
    const started = performance.now();
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(PROVIDE_TIMEOUT_MS), this.#stopped.signal]);
      for await (const _event of this.#o.dht.provide(held.key, { signal })); // the query runs as it is iterated
      held.failures = 0;
      held.nextAt = Date.now() + this.#o.reprovideIntervalMs * (0.9 + Math.random() * 0.2);
      this.#o.logger.debug({ digest, duration_ms: Math.round(performance.now() - started) }, 'provided');
    } catch (err) {
      if (this.#stopped.signal.aborted) return;
      held.failures++;
      const retryMs = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** (held.failures - 1));
      held.nextAt = Date.now() + retryMs;
      this.#o.logger.debug({ digest, error: (err as Error).message, retry_in_ms: retryMs }, 'provide failed');
    } finally {
      held.providing = false;
      this.#running--;
    }
  }
}
