import type { Logger } from '@flotilla/log';
import type { Digest } from '@flotilla/oci';
import { contentKey, type ClusterDht, type P2PNode } from '@flotilla/p2p';
import type { Parent } from '@flotilla/wire';
import type { PeerHealth } from './peer-health.ts';
import { SwarmMembership } from './swarm-members.ts';

/** A digest nobody provides is not looked up again for this long (misses of one image's layers come in bursts). */
const NEGATIVE_TTL_MS = 3_000;
/** Enough holders to spread a blob over; the lookup stops once it has them. */
const MAX_PROVIDERS = 8;
/**
 * With the swarm's members: every one of them (up to a DHT bucket), since members decide who fetches what from the
 * origin by comparing ranks among the daemons they know, and agree only when they know the same ones.
 */
const MAX_MEMBERS = 20;
/** Once a provider is known, how long the query may go on finding more (it would run to the deadline). */
const MORE_PROVIDERS_MS = 10;

export interface ProviderLookupOptions {
  node: P2PNode;
  /** --dht-lookup-timeout: the lookup returns what it found by then. */
  timeoutMs: number;
  health: PeerHealth;
  logger: Logger;
}

export interface FindOptions {
  exclude?: readonly string[];
  /** Daemons still fetching the blob too (its swarm), not only those that hold it completely. */
  members?: boolean;
}

type Key = ReturnType<typeof contentKey>;

/**
 * Finds daemons that provide a blob in the DHT, within a short deadline: ourselves, peers that failed lately and
 * `exclude` are left out. An empty answer is remembered briefly, and a daemon connected to nobody does not look.
 */
export class ProviderLookup {
  readonly #o: ProviderLookupOptions;
  readonly #self: string;
  readonly #none = new Map<string, number>();

  constructor(options: ProviderLookupOptions) {
    this.#o = options;
    this.#self = options.node.peerId.toString();
  }

  async find(digest: Digest, options: FindOptions = {}): Promise<Parent[]> {
    const { node } = this.#o;
    const dht = node.services.dht;
    const now = Date.now();
    if (!dht || (!options.members && (this.#none.get(digest.value) ?? 0) > now)) return [];
    // Not connected to anyone: nothing to find. Connected but the routing table still empty (identify under way
    // right after startup): the lookup waits for it, within the deadline.
    if (dht.routingTable.size === 0 && node.getConnections().length === 0) return [];
    const skip = new Set([this.#self, ...(options.exclude ?? [])]);
    const found = new Map<string, Parent>();
    const limit = options.members ? MAX_MEMBERS : MAX_PROVIDERS;
    const started = performance.now();
    const enough = new AbortController();
    const signal = AbortSignal.any([AbortSignal.timeout(this.#o.timeoutMs), enough.signal]);
    let grace: NodeJS.Timeout | undefined;
    let firstMs: number | undefined;
    const add = (providers: Parent[]): void => {
      for (const p of providers) if (!skip.has(p.peerId) && !this.#o.health.isBad(p.peerId)) found.set(p.peerId, p);
      if (found.size > 0) firstMs ??= performance.now() - started;
      if (found.size >= limit) enough.abort();
      // Members are all wanted (see MAX_MEMBERS): their query runs to its end or the deadline.
      else if (found.size > 0 && !options.members) grace ??= setTimeout(() => enough.abort(), MORE_PROVIDERS_MS);
    };
    const keys = [contentKey(digest), ...(options.members ? [SwarmMembership.key(digest.value)] : [])];
    // Done when the queries end or the signal fires: a query told to stop can take a while to wind down (its
    // in-flight RPCs), and the miss must not wait for that.
    const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([Promise.all(keys.map((key) => this.#query(dht, key, signal, add, digest.value))), stopped]);
    clearTimeout(grace);
    const providers = [...found.values()].slice(0, limit);
    this.#o.logger.debug(
      {
        digest: digest.value,
        providers: providers.length,
        members: options.members === true,
        // Until the first usable provider: what a miss waits before its pieces can be asked for.
        first_ms: firstMs === undefined ? undefined : round(firstMs),
        duration_ms: round(performance.now() - started),
      },
      'provider lookup',
    );
    if (providers.length > 0) this.#none.delete(digest.value);
    else if (!options.members) this.#remember(digest.value, Date.now());
    return providers;
  }

  async #query(dht: ClusterDht, key: Key, signal: AbortSignal, add: (providers: Parent[]) => void, digest: string): Promise<void> {
    try {
      for await (const event of dht.findProviders(key, { signal })) {
        if (event.name === 'PROVIDER') add(event.providers.map((p) => ({ peerId: p.id.toString(), addresses: p.multiaddrs.map(String) })));
        if (signal.aborted) return;
      }
    } catch (err) {
      if (!signal.aborted) this.#o.logger.debug({ digest, error: (err as Error).message }, 'provider lookup failed');
    }
  }

  #remember(digest: string, now: number): void {
    if (this.#none.size >= 1_000) for (const [d, until] of this.#none) if (until <= now) this.#none.delete(d);
    this.#none.set(digest, now + NEGATIVE_TTL_MS);
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
