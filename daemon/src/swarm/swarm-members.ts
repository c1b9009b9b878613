import { createHash } from 'node:crypto';
import type { Logger } from '@flotilla/log';
import { contentKey, type ClusterDht } from '@flotilla/p2p';

/** A membership record is announced with this deadline; it is a hint, so a slow one is simply dropped. */
const PROVIDE_TIMEOUT_MS = 10_000;
/**
 * A download is announced this long (plus up to as much again, at random) after it starts, if it is still running:
 * a fan-out's daemons all start at once, and their DHT provides hit the schedulers (everyone's closest peers) just
 * when they are busiest answering `task` — and short downloads (a config blob) never need announcing.
 */
const JOIN_DELAY_MS = 3_000;

/**
 * The daemons fetching a blob right now, found in the DHT under a key of their own (not the blob's: lookups for
 * providers must keep meaning "holds it completely"). When the scheduler goes away mid-download, this is how the
 * daemons of its swarm find each other and share what is left.
 */
export class SwarmMembership {
  readonly #dht: ClusterDht;
  readonly #logger: Logger;
  /** Announcements not made yet, by digest. */
  readonly #pending = new Map<string, NodeJS.Timeout>();

  constructor(dht: ClusterDht, logger: Logger) {
    this.#dht = dht;
    this.#logger = logger;
  }

  /** The DHT key of the swarm of `digest`: CIDv1 raw over sha256("flotilla-swarm/1\n" + digest). */
  static key(digest: string): ReturnType<typeof contentKey> {
    return contentKey({ algorithm: 'sha256', hex: createHash('sha256').update(`flotilla-swarm/1\n${digest}`).digest('hex') });
  }

  /** Announces, a few seconds from now, that this daemon is fetching the blob (in the background). */
  join(digest: string): void {
    if (this.#pending.has(digest)) return;
    const timer = setTimeout(() => {
      this.#pending.delete(digest);
      this.#announce(digest);
    }, JOIN_DELAY_MS * (1 + Math.random()));
    timer.unref();
    this.#pending.set(digest, timer);
  }

  #announce(digest: string): void {
    if (this.#dht.routingTable.size === 0) return;
    void (async () => {
      for await (const _event of this.#dht.provide(SwarmMembership.key(digest), { signal: AbortSignal.timeout(PROVIDE_TIMEOUT_MS) })) {
        // the announcement runs while it is iterated
      }
    })().catch((err: unknown) => this.#logger.debug({ digest, error: (err as Error).message }, 'swarm membership not announced'));
  }

  /** Done with the blob (it is provided under its own key once stored): stop renewing the record. */
  leave(digest: string): void {
    const pending = this.#pending.get(digest);
    if (pending !== undefined) {
      clearTimeout(pending);
      this.#pending.delete(digest);
      return;
    }
    this.#dht.cancelReprovide(SwarmMembership.key(digest)).catch(() => undefined);
  }
}
